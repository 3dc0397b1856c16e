import Foundation
import Testing

/// The Drive emulator of Tests/Emulators/drive, one per test.
final class DriveEmulator {
  static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Emulators/drive/drive_emulator.py").standardized.path
  let process = Process()
  let port: Int
  let directory: String

  init() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-drive-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let pipe = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = [Self.script, "--port", "0", "--device-interval", "1", "--device-expires", "60"]
    process.standardOutput = pipe
    try process.run()
    var line = Data()
    while !line.contains(0x0A) {
      let byte = pipe.fileHandleForReading.readData(ofLength: 1)
      if byte.isEmpty { break }
      line.append(byte)
    }
    guard let text = String(data: line, encoding: .utf8), text.hasPrefix("PORT "),
      let port = Int(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines))
    else { throw CLIFailure("the Drive emulator did not start") }
    self.port = port
  }

  deinit {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    try? FileManager.default.removeItem(atPath: directory)
  }

  var base: String { "http://127.0.0.1:\(port)" }

  /// A control request; answers the parsed JSON.
  @discardableResult
  func ctl(_ op: String, _ json: String = "{}") throws -> [String: Any] {
    let out = try runProcess(
      "/usr/bin/curl", ["-sS", "-f", "-X", op == "state" ? "GET" : "POST", "-d", json, "\(base)/ctl/\(op)"])
    guard out.status == 0, let object = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]
    else { throw CLIFailure("ctl \(op): \(out.stderr)") }
    return object
  }

  func state() throws -> [String: Any] { try ctl("state") }

  /// Tokens issued without the device flow, written as a token file.
  func writeToken(to path: String) throws {
    let t = try ctl("issue")
    let json = """
      {"access_token":"\(t["access_token"]!)","expires_at":\(Int(Date().timeIntervalSince1970) + 3000),\
      "refresh_token":"\(t["refresh_token"]!)","scope":"x"}
      """
    FileManager.default.createFile(atPath: path, contents: Data(json.utf8), attributes: [.posixPermissions: 0o600])
  }

  func config(chunk: String = "256K", timeout: String = "5s") throws -> String {
    let path = directory + "/vigie.toml"
    let toml = """
      [daemon]
      state_dir = "\(directory)"
      runtime_dir = "\(directory)"
      [drive]
      client_id = "test-client.apps.googleusercontent.com"
      client_secret = "test-secret"
      token_file = "\(directory)/token.json"
      api_base = "\(base)/drive/v3"
      upload_base = "\(base)/upload/drive/v3"
      token_url = "\(base)/token"
      device_url = "\(base)/device/code"
      chunk_size = "\(chunk)"
      request_timeout = "\(timeout)"
      """
    try toml.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  func randomFile(_ name: String, size: Int) throws -> String {
    var g = SystemRandomNumberGenerator()
    let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &g) }
    let path = directory + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  func files() throws -> [[String: Any]] { (try state()["files"] as? [[String: Any]]) ?? [] }

  func resentBytes() throws -> Int { (try state()["resent_bytes"] as? Int) ?? -1 }
}

struct CLIFailure: Error, CustomStringConvertible {
  var description: String
  init(_ text: String) { description = text }
}

private func md5(_ path: String) throws -> String {
  let out = try runProcess("/usr/bin/md5sum", [path])
  return String(out.stdout.prefix(32))
}

@Suite("drive: CLI against the Drive emulator", .serialized)
struct DriveTests {
  @Test("vigie drive auth: device flow, approval, token file 0600")
  func deviceFlow() throws {
    let emu = try DriveEmulator()
    let config = try emu.config()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Products.path("vigie"))
    process.arguments = ["drive", "auth", "-c", config]
    let outPath = emu.directory + "/auth.out"
    FileManager.default.createFile(atPath: outPath, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    process.standardError = process.standardOutput
    try process.run()
    var code: String?
    let deadline = ContinuousClock.now.advanced(by: .seconds(30))
    while code == nil, ContinuousClock.now < deadline {
      let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
      if let range = text.range(of: "enter the code ") {
        code = String(text[range.upperBound...].prefix { $0 != "\n" })
      } else {
        usleep(50_000)
      }
    }
    let userCode = try #require(code)
    #expect(userCode.count == 14)
    usleep(2_500_000)  // a few polls: authorization_pending
    try emu.ctl("approve", #"{"user_code":"\#(userCode)"}"#)
    while process.isRunning, ContinuousClock.now < deadline.advanced(by: .seconds(30)) { usleep(50_000) }
    #expect(!process.isRunning)
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\((try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "")")
    let attributes = try FileManager.default.attributesOfItem(atPath: emu.directory + "/token.json")
    #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    let devices = try #require(try emu.state()["devices"] as? [String: [String: Any]])
    #expect((devices[userCode]?["polls"] as? Int ?? 0) >= 2)
    #expect((devices[userCode]?["slow_downs"] as? Int) == 0)  // the poller respects the interval
    // The token works.
    #expect(try vigie("drive", "ls", "-c", config).status == 0)
  }

  @Test("vigie drive auth: access denied is an error")
  func deviceFlowDenied() throws {
    let emu = try DriveEmulator()
    let config = try emu.config()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Products.path("vigie"))
    process.arguments = ["drive", "auth", "--no-qr", "-c", config]
    let errPipe = Pipe()
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errPipe
    try process.run()
    usleep(1_500_000)
    try emu.ctl("deny", #"{"user_code":"*"}"#)
    process.waitUntilExit()
    let err = String(data: errPipe.fileHandleForReading.readDataToEndOfFile(), encoding: .utf8) ?? ""
    #expect(process.terminationStatus != 0)
    #expect(err.contains("refused"))
  }

  @Test("put: resumable upload survives a cut mid-chunk without re-sending confirmed bytes")
  func cutMidChunk() throws {
    let emu = try DriveEmulator()
    let config = try emu.config(chunk: "512K")
    try emu.writeToken(to: emu.directory + "/token.json")
    let file = try emu.randomFile("big.bin", size: 5 * 262_144 + 1234)
    // Chunk 2 fails with a 503, then (after the status query) is cut after
    // 300000 bytes: the emulator keeps 256 KiB of it, the client must resume
    // from its Range answer.
    try emu.ctl("fault", #"{"method":"PUT","path":"/upload/","action":"cut","after":300000,"skip":3}"#)
    try emu.ctl("fault", #"{"method":"PUT","path":"/upload/","action":"status","status":503,"skip":1}"#)
    let out = try vigie("drive", "put", "-c", config, file)
    #expect(out.status == 0, "\(out.stderr)")
    #expect(out.stdout.contains(try md5(file)))
    #expect(try emu.resentBytes() == 0)
    #expect(try emu.files().count == 1)
  }

  @Test("put: kill -9 mid-upload, then the same command resumes from the checkpoint")
  func killAndResume() throws {
    let emu = try DriveEmulator()
    let config = try emu.config()
    try emu.writeToken(to: emu.directory + "/token.json")
    let file = try emu.randomFile("k.bin", size: 8 * 262_144)
    let checkpoint = emu.directory + "/k.checkpoint"
    try emu.ctl("fault", #"{"method":"PUT","path":"/upload/","action":"delay","seconds":0.4,"count":100}"#)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Products.path("vigie"))
    process.arguments = ["drive", "put", "-c", config, "--checkpoint", checkpoint, file]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = ContinuousClock.now.advanced(by: .seconds(60))
    var committed = 0
    while committed < 3 * 262_144, ContinuousClock.now < deadline {
      usleep(100_000)
      let sessions = (try emu.state()["sessions"] as? [String: [String: Any]]) ?? [:]
      committed = sessions.values.compactMap { $0["committed"] as? Int }.max() ?? 0
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(committed >= 3 * 262_144)
    #expect(FileManager.default.fileExists(atPath: checkpoint))
    try emu.ctl("clear_faults")
    let out = try vigie("drive", "put", "-c", config, "--checkpoint", checkpoint, file)
    #expect(out.status == 0, "\(out.stderr)")
    #expect(out.stdout.contains(try md5(file)))
    #expect(try emu.resentBytes() == 0)
    #expect(try emu.files().count == 1)
    let sessions = (try emu.state()["sessions"] as? [String: [String: Any]]) ?? [:]
    #expect(sessions.count == 1)  // the same session, resumed
    #expect(!FileManager.default.fileExists(atPath: checkpoint))
  }

  @Test("put: a lost final answer and an expired session do not create a duplicate")
  func noDuplicate() throws {
    let emu = try DriveEmulator()
    let config = try emu.config()
    try emu.writeToken(to: emu.directory + "/token.json")
    let file = try emu.randomFile("d.bin", size: 2 * 262_144 + 10)
    let checkpoint = emu.directory + "/d.checkpoint"
    // The final chunk completes the file but its answer is lost; the client
    // is killed by the failure budget (1 attempt), the session then expires.
    try emu.ctl("fault", #"{"method":"PUT","path":"/upload/","action":"drop","skip":2}"#)
    try emu.ctl("fault", #"{"method":"PUT","path":"/upload/","action":"delay","seconds":30,"skip":2}"#)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Products.path("vigie"))
    process.arguments = ["drive", "put", "-c", config, "--checkpoint", checkpoint, file]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = ContinuousClock.now.advanced(by: .seconds(30))
    while try emu.files().isEmpty, ContinuousClock.now < deadline { usleep(50_000) }
    usleep(300_000)
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(try emu.files().count == 1)
    try emu.ctl("clear_faults")
    try emu.ctl("expire_session", #"{"upload_id":"*"}"#)
    let out = try vigie("drive", "put", "-c", config, "--checkpoint", checkpoint, file)
    #expect(out.status == 0, "\(out.stderr)")
    #expect(out.stdout.contains(try md5(file)))
    #expect(try emu.files().count == 1)
    // The second run found the file by its upload key instead of uploading again.
    let requests = (try emu.state()["requests"] as? [[String: Any]]) ?? []
    #expect(requests.contains { (($0["query"] as? [String: String])?["q"] ?? "").contains("vigieUpload") })
    #expect(
      requests.filter { ($0["method"] as? String) == "POST" && ($0["path"] as? String) == "/upload/drive/v3/files" }
        .count == 1)
  }

  @Test("changes: a remote change is seen through the feed, with paging")
  func changesFeed() throws {
    let emu = try DriveEmulator()
    let config = try emu.config()
    try emu.writeToken(to: emu.directory + "/token.json")
    var out = try vigie("drive", "changes", "-c", config)
    let start = try #require(
      out.stdout.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) })
    try emu.ctl("file", #"{"name":"remote","count":1100}"#)
    out = try vigie("drive", "changes", "-c", config, start)
    #expect(out.status == 0, "\(out.stderr)")
    let lines = out.stdout.split(separator: "\n")
    #expect(lines.filter { $0.hasPrefix("changed ") }.count == 1100)
    let next = try #require(lines.last.map { String($0.dropFirst("token ".count)) })
    out = try vigie("drive", "changes", "-c", config, next)
    #expect(out.stdout == "token \(next)\n")
  }

  @Test("ls: paging, rate limits and server errors retried, expired token refreshed, revoked grant explained")
  func listAndErrors() throws {
    let emu = try DriveEmulator()
    let config = try emu.config()
    try emu.writeToken(to: emu.directory + "/token.json")
    try emu.ctl("file", #"{"name":"f","count":1005}"#)
    try emu.ctl("fault", #"{"path":"/drive/v3/files","status":429}"#)
    try emu.ctl("fault", #"{"path":"/drive/v3/files","status":403,"reason":"userRateLimitExceeded"}"#)
    try emu.ctl("fault", #"{"path":"/drive/v3/files","status":500}"#)
    try emu.ctl("expire_access")
    var out = try vigie("drive", "ls", "-c", config)
    #expect(out.status == 0, "\(out.stderr)")
    #expect(out.stdout.split(separator: "\n").count == 1005)
    let requests = (try emu.state()["requests"] as? [[String: Any]]) ?? []
    #expect(requests.contains { ($0["path"] as? String) == "/token" && ($0["status"] as? Int) == 200 })
    try emu.ctl("fault", #"{"path":"/drive/v3/files","status":403,"reason":"dailyLimitExceeded"}"#)
    out = try vigie("drive", "ls", "-c", config)
    #expect(out.status != 0 && out.stderr.contains("dailyLimitExceeded"))
    try emu.ctl("revoke")
    out = try vigie("drive", "ls", "-c", config)
    #expect(out.status != 0 && out.stderr.contains("vigie drive auth"))
  }
}
