import Foundation
import Testing

/// The AT modem emulator of Tests/Emulators/atmodem, driven through its
/// `ctl` command on its state file (the emulator processes libgammu forks
/// through `proxyat` share that file).
struct ModemEmulator {
  static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Emulators/atmodem/atmodem.py").standardized.path
  /// Debian's python3: the emulator needs only the standard library.
  static let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
  static var gammuIsInstalled: Bool { FileManager.default.fileExists(atPath: "/usr/bin/gammu") }

  let directory: String
  var statePath: String { directory + "/modem.json" }
  var logPath: String { directory + "/at.log" }

  init(directory: String, overrides: [String] = []) throws {
    self.directory = directory
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let output = try runProcess(Self.python, [Self.script, "init", "--state", statePath] + overrides)
    guard output.status == 0 else { throw DaemonFailed(message: "emulator init failed: \(output.stderr)") }
  }

  /// The `[modem]` section that makes libgammu fork this emulator.
  func modemSection(
    pinFile: String?, smsPollInterval: String = "1s", pollInterval: String = "2s", extra: String = ""
  ) -> String {
    """
    [modem]
    enabled = true
    connection = "proxyat"
    device = "\(Self.python) \(Self.script) --state \(statePath) --log \(logPath)"
    \(pinFile.map { "pin_file = \"\($0)\"" } ?? "")
    poll_interval = "\(pollInterval)"
    sms_poll_interval = "\(smsPollInterval)"
    command_timeout = "5s"
    \(extra)
    """
  }

  /// Runs `atmodem.py ctl OP ARGS...` and returns its JSON answer.
  @discardableResult
  func ctl(_ op: String, _ arguments: String...) throws -> [String: Any] {
    let output = try runProcess(Self.python, [Self.script, "ctl", "--state", statePath, op] + arguments)
    guard let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any],
      object["ok"] as? Bool == true
    else { throw DaemonFailed(message: "emulator ctl \(op) failed: \(output.stdout) \(output.stderr)") }
    return object
  }

  func sim() throws -> [String: Any] {
    let state = try ctl("state")["state"] as? [String: Any]
    return state?["sim"] as? [String: Any] ?? [:]
  }

  /// Messages the modem sent, reassembled: (number, text).
  func sent() throws -> [(number: String, text: String)] {
    let messages = try ctl("sent")["messages"] as? [[String: Any]] ?? []
    return messages.map { ($0["number"] as? String ?? "", $0["text"] as? String ?? "") }
  }

  func events(_ name: String) throws -> Int {
    let events = try ctl("events")["events"] as? [[String: Any]] ?? []
    return events.filter { $0["event"] as? String == name }.count
  }
}

extension TestDaemon {
  /// `vigie modem --json`, decoded.
  func modem() throws -> [String: Any] {
    let output = try cli("modem", "--json")
    return (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]) ?? [:]
  }

  /// Polls `condition` every 200 ms until it holds or `timeout` passes.
  func waitFor(_ what: String, timeout: Duration = .seconds(40), _ condition: () throws -> Bool) throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
      if (try? condition()) == true { return }
      usleep(200_000)
    }
    if try condition() { return }
    throw DaemonFailed(message: "timed out waiting for \(what); log:\n\(log.suffix(4000))")
  }
}
