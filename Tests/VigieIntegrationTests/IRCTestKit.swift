import Foundation
import Testing

/// A free TCP port on loopback (bound then released: a small race we accept).
func freePort() throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = 0
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let bound = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
      guard bind(fd, pointer, length) == 0 else { return -1 }
      return getsockname(fd, pointer, &length)
    }
  }
  guard bound == 0 else { throw DaemonFailed(message: "no free port: \(String(cString: strerror(errno)))") }
  return Int(UInt16(bigEndian: address.sin_port))
}

func canConnect(port: Int) -> Bool {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = UInt16(port).bigEndian
  return withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
  } == 0
}

/// Waits until `condition` holds (the bound only catches hangs).
func eventually(_ what: String, timeout: Duration = .seconds(60), _ condition: () throws -> Bool) throws {
  let deadline = ContinuousClock.now.advanced(by: timeout)
  while ContinuousClock.now < deadline {
    if try condition() { return }
    usleep(50_000)
  }
  if try condition() { return }
  throw DaemonFailed(message: "timed out waiting for \(what)")
}

/// A real ngircd on loopback, plain and TLS, with a throwaway configuration
/// and a self-signed certificate made with openssl.
final class NgIRCd {
  let directory: String
  let port: Int
  let tlsPort: Int
  var process: Process?

  static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/sbin/ngircd") }

  init(directory: String) throws {
    self.directory = directory
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    port = try freePort()
    tlsPort = try freePort()
    // A CA-less self-signed certificate valid for localhost and 127.0.0.1;
    // the client trusts it through [irc] ca_file.
    let req = try runProcess(
      "/usr/bin/openssl",
      [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/key.pem", "-out",
        directory + "/cert.pem", "-days", "2", "-subj", "/CN=localhost", "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ])
    guard req.status == 0 else { throw DaemonFailed(message: "openssl req failed: \(req.stderr)") }
    // Named RFC 7919 group: instant, unlike generating DH parameters.
    let dh = try runProcess(
      "/usr/bin/openssl",
      ["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", directory + "/dh.pem"])
    guard dh.status == 0 else { throw DaemonFailed(message: "openssl genpkey failed: \(dh.stderr)") }
    chmod(directory + "/key.pem", 0o600)
    try """
    [Global]
    Name = irc.test
    Info = Vigie test server
    AdminInfo1 = Vigie tests
    AdminInfo2 = loopback
    AdminEMail = root@localhost
    Listen = 127.0.0.1
    Ports = \(port)
    MotdPhrase = Vigie test
    PidFile = \(directory)/ngircd.pid
    [Limits]
    PingTimeout = 120
    PongTimeout = 20
    MaxNickLength = 30
    [Options]
    DNS = no
    Ident = no
    PAM = no
    [SSL]
    CertFile = \(directory)/cert.pem
    KeyFile = \(directory)/key.pem
    DHFile = \(directory)/dh.pem
    Ports = \(tlsPort)
    """.write(toFile: directory + "/ngircd.conf", atomically: true, encoding: .utf8)
  }

  var certificate: String { directory + "/cert.pem" }

  func start() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/ngircd")
    process.arguments = ["-n", "-f", directory + "/ngircd.conf"]
    let log = directory + "/ngircd.log"
    if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    try handle.seekToEnd()
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    self.process = process
    try eventually("ngircd to listen", timeout: .seconds(30)) {
      guard process.isRunning else { throw DaemonFailed(message: "ngircd exited:\n\(self.log)") }
      return canConnect(port: port) && canConnect(port: tlsPort)
    }
  }

  /// SIGKILL: the server vanishes without a word, as a crashed one would.
  func kill() {
    guard let process, process.isRunning else { return }
    Glibc.kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    self.process = nil
  }

  var log: String { (try? String(contentsOfFile: directory + "/ngircd.log", encoding: .utf8)) ?? "" }

  deinit { kill() }
}

/// A person on IRC: Tests/Emulators/irc/irc_peer.py (raw sockets).
final class IRCPeer {
  static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Emulators/irc/irc_peer.py").standardized.path
  let process = Process()
  let input = Pipe()
  let logPath: String
  let nick: String

  init(port: Int, nick: String, join: [String] = ["#ops"], directory: String, user: String? = nil) throws {
    self.nick = nick
    logPath = directory + "/peer-\(nick)-\(UInt32.random(in: 0...UInt32.max)).jsonl"
    _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    process.executableURL = URL(fileURLWithPath: ModemEmulator.python)
    var arguments = [Self.script, "--port", String(port), "--nick", nick, "--log", logPath]
    for channel in join { arguments += ["--join", channel] }
    if let user { arguments += ["--user", user] }
    process.arguments = arguments
    process.standardInput = input
    process.standardOutput = FileHandle.nullDevice
    try process.run()
  }

  func send(_ line: String) {
    input.fileHandleForWriting.write(Data((line + "\n").utf8))
  }

  struct Entry {
    var time: Double
    var line: String?
    var event: String?
  }

  var entries: [Entry] {
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { row in
      guard let object = try? JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any] else { return nil }
      return Entry(
        time: object["t"] as? Double ?? 0, line: object["line"] as? String, event: object["event"] as? String)
    }
  }

  var lines: [String] { entries.compactMap(\.line) }

  /// Texts of PRIVMSG/NOTICE lines from `sender` (with their times).
  func messages(from sender: String, command: String? = nil) -> [(
    time: Double, command: String, target: String, text: String
  )] {
    entries.compactMap { entry in
      guard let line = entry.line, line.hasPrefix(":\(sender)!") else { return nil }
      let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
      guard parts.count == 4, parts[1] == "PRIVMSG" || parts[1] == "NOTICE" else { return nil }
      if let command, parts[1] != command { return nil }
      var text = String(parts[3])
      if text.hasPrefix(":") { text.removeFirst() }
      return (entry.time, String(parts[1]), String(parts[2]), text)
    }
  }

  var registered: Bool { entries.contains { $0.event == "registered" } }

  func stop() { stopChild(process, input: input) }

  deinit { stop() }
}

/// The scripted IRC server of Tests/Emulators/irc/scripted_ircd.py: SASL,
/// account tags and hostile lines, driven through its standard input.
final class ScriptedIRCd {
  static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Emulators/irc/scripted_ircd.py").standardized.path
  let process = Process()
  let input = Pipe()
  let output = Pipe()
  let logPath: String
  let port: Int

  init(directory: String, account: String = "vigie", password: String = "secret", extra: [String] = []) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    logPath = directory + "/scripted-ircd.jsonl"
    _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    process.executableURL = URL(fileURLWithPath: ModemEmulator.python)
    process.arguments = [Self.script, "--log", logPath, "--account", account, "--password", password] + extra
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    // First line: PORT n.
    var buffer = Data()
    let deadline = ContinuousClock.now.advanced(by: .seconds(20))
    while !buffer.contains(UInt8(ascii: "\n")) && ContinuousClock.now < deadline {
      buffer.append(output.fileHandleForReading.availableData)
    }
    let first = String(decoding: buffer, as: UTF8.self).split(separator: "\n").first ?? ""
    guard first.hasPrefix("PORT "), let port = Int(first.dropFirst(5)) else {
      throw DaemonFailed(message: "the scripted IRC server did not start: \(first)")
    }
    self.port = port
  }

  func command(_ line: String) { input.fileHandleForWriting.write(Data((line + "\n").utf8)) }

  var entries: [IRCPeer.Entry] {
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { row in
      guard let object = try? JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any] else { return nil }
      return IRCPeer.Entry(
        time: object["t"] as? Double ?? 0, line: object["line"] as? String, event: object["event"] as? String)
    }
  }
  var lines: [String] { entries.compactMap(\.line) }
  func count(event: String) -> Int { entries.filter { $0.event == event }.count }

  deinit { stopChild(process, input: input) }
}

/// Ends a Python helper: its standard input closes (it exits by itself),
/// then SIGKILL if it lingers. Not SIGTERM: the test runner's children may
/// inherit a mask that blocks it.
func stopChild(_ process: Process, input: Pipe) {
  try? input.fileHandleForWriting.close()
  let deadline = ContinuousClock.now.advanced(by: .seconds(3))
  while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
  if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
  process.waitUntilExit()
}

/// Queues alerts in a running daemon's state store, as the watchdog would.
func raiseAlert(
  stateDir: String, key: String, severity: String = "warning", text: String? = nil, age: Int = 0, count: Int = 1
) throws {
  var arguments = ["raise-alert", "--db", stateDir, "--key", key, "--severity", severity, "--age", String(age)]
  arguments += ["--count", String(count)]
  if let text { arguments += ["--text", text] }
  let result = try runProcess(Products.path("vigie-test-helper"), arguments)
  guard result.status == 0 else { throw DaemonFailed(message: "raise-alert failed: \(result.stderr)") }
}

/// A self-signed certificate and key (PEM) for `name`, valid for localhost.
func makeCertificate(directory: String, name: String) throws -> (certificate: String, key: String) {
  let certificate = directory + "/\(name).pem"
  let key = directory + "/\(name).key"
  let result = try runProcess(
    "/usr/bin/openssl",
    [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "2", "-subj",
      "/CN=\(name)", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ])
  guard result.status == 0 else { throw DaemonFailed(message: "openssl req failed: \(result.stderr)") }
  chmod(key, 0o600)
  return (certificate, key)
}
