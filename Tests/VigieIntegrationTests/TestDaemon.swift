import Foundation
import Testing

/// Result of running a CLI command.
struct CommandOutput {
  var status: Int32
  var stdout: String
  var stderr: String
}

/// Runs `executable` with `arguments` to completion (bounded by `timeout`).
func runProcess(
  _ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Duration = .seconds(60)
) throws -> CommandOutput {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  if let environment { process.environment = environment }
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-out-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: directory) }
  let out = directory.appendingPathComponent("out")
  let err = directory.appendingPathComponent("err")
  _ = FileManager.default.createFile(atPath: out.path, contents: nil)
  _ = FileManager.default.createFile(atPath: err.path, contents: nil)
  process.standardOutput = try FileHandle(forWritingTo: out)
  process.standardError = try FileHandle(forWritingTo: err)
  process.standardInput = FileHandle.nullDevice
  try process.run()
  let deadline = ContinuousClock.now.advanced(by: timeout)
  while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
  if process.isRunning {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    Issue.record("\(executable) \(arguments) did not finish within \(timeout)")
  }
  process.waitUntilExit()
  return CommandOutput(
    status: process.terminationStatus,
    stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
    stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

/// Runs the CLI (`vigie ...`).
func vigie(_ arguments: String..., environment: [String: String]? = nil) throws -> CommandOutput {
  try runProcess(Products.path("vigie"), arguments, environment: environment)
}

/// A real `vigie run` process in a temporary directory of its own.
final class TestDaemon {
  let directory: String
  let configPath: String
  let socketPath: String
  let logPath: String
  let process = Process()

  /// `sections` is TOML appended after the `[daemon]` section this class writes.
  /// `secrets` are written as mode-0600 files in the directory; `{{name}}` in
  /// `sections` becomes the path of the secret `name`.
  init(
    sections: String = "", daemonExtra: String = "", modem: String = "[modem]\nenabled = false",
    environment: [String: String] = [:], directory: String? = nil, secrets: [String: String] = [:]
  ) throws {
    self.directory =
      directory ?? NSTemporaryDirectory() + "vigie-it-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    self.modemSection = modem
    try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
    let directory = self.directory
    var sections = sections
    for (name, value) in secrets {
      let path = directory + "/" + name
      try value.write(toFile: path, atomically: false, encoding: .utf8)
      chmod(path, 0o600)
      sections = sections.replacingOccurrences(of: "{{\(name)}}", with: path)
    }
    configPath = directory + "/vigie.toml"
    socketPath = directory + "/run/control.sock"
    logPath = directory + "/vigie.log"
    try Self.config(directory: directory, daemonExtra: daemonExtra, modem: modem, sections: sections)
      .write(toFile: configPath, atomically: true, encoding: .utf8)
    if !FileManager.default.fileExists(atPath: logPath) {
      _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    }
    process.executableURL = URL(fileURLWithPath: Products.path("vigie"))
    process.arguments = ["run", "--config", configPath]
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "NOTIFY_SOCKET")
    env.removeValue(forKey: "JOURNAL_STREAM")
    env.merge(environment) { _, new in new }
    process.environment = env
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    try log.seekToEnd()
    process.standardOutput = log
    process.standardError = log
    process.standardInput = FileHandle.nullDevice
    try process.run()
  }

  let modemSection: String
  /// When false, `deinit` leaves the directory (a test restarts the daemon on it).
  var removeDirectory = true

  static func config(directory: String, daemonExtra: String = "", modem: String, sections: String) -> String {
    // The file drop listens on a port, the LEDs look for a Pi's GPIO chip, and
    // the status page needs the file drop or a port: off unless the test
    // configures them.
    var sections = sections
    for section in ["filedrop", "leds", "status"] where !sections.contains("[\(section)]") {
      sections += "\n[\(section)]\nenabled = false\n"
    }
    return """
      [daemon]
      name = "test-site"
      state_dir = "\(directory)/state"
      runtime_dir = "\(directory)/run"
      \(daemonExtra)

      \(modem)

      \(sections)
      """
  }

  /// Rewrites the configuration file (for reload tests).
  func rewrite(sections: String, daemonExtra: String = "") throws {
    try Self.config(directory: directory, daemonExtra: daemonExtra, modem: modemSection, sections: sections)
      .write(toFile: configPath, atomically: true, encoding: .utf8)
  }

  var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  /// Waits until the control socket answers.
  func waitUntilReady(timeout: Duration = .seconds(30)) throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
      guard process.isRunning else { throw DaemonFailed(message: "vigie exited early:\n\(log)") }
      if FileManager.default.fileExists(atPath: socketPath), (try? cli("status").status) == 0 { return }
      usleep(50_000)
    }
    throw DaemonFailed(message: "vigie did not become ready within \(timeout):\n\(log)")
  }

  /// Waits until the log contains `text`.
  func waitForLog(_ text: String, timeout: Duration = .seconds(15)) -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
      if log.contains(text) { return true }
      usleep(20_000)
    }
    return log.contains(text)
  }

  /// Runs `vigie SUBCOMMAND --socket PATH ARGS...` against this daemon.
  /// The socket option goes after the (sub)command path, before free words.
  func cli(_ arguments: String...) throws -> CommandOutput {
    let groups: Set<String> = ["sms", "modem", "leds"]
    let depth = groups.contains(arguments[0]) && arguments.count > 1 && !arguments[1].hasPrefix("-") ? 2 : 1
    return try runProcess(
      Products.path("vigie"), Array(arguments.prefix(depth)) + ["--socket", socketPath] + arguments.dropFirst(depth))
  }

  func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

  /// Waits for the process to exit; nil if it is still running after `timeout`.
  func waitForExit(timeout: Duration) -> Int32? {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
    if process.isRunning { return nil }
    process.waitUntilExit()
    return process.terminationStatus
  }

  deinit {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
    if removeDirectory { try? FileManager.default.removeItem(atPath: directory) }
  }
}

struct DaemonFailed: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}
