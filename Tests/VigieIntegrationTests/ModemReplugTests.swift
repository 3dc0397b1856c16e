import Foundation
import Testing

/// What modem_hotplug_daemon.py prints.
private struct ReplugSummary: Decodable {
  var ok: Bool
  var problems: [String]
  var steps: [Step]
  var devices: [String]
  var replies: [String]
  var found: [String]
  var daemonLog: String
  var atLog: String

  struct Step: Decodable {
    var step: String
    var t: Double
  }
}

@Suite(
  "modem replug (real daemon, real libudev against umockdev, real libgammu against the emulator)")
struct ModemReplugTests {
  static let controller = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Emulators/udev/modem_hotplug_daemon.py").path

  /// Nil when the test can run here; otherwise what is missing.
  static let missing: String? = {
    if let missing = Umockdev.missing { return missing }
    if !ModemEmulator.gammuIsInstalled { return "gammu is not installed (Debian package gammu)" }
    return nil
  }()

  /// Issue 3. The controller (Python, umockdev's Testbed) plugs a fake Huawei
  /// E1750 in as ttyUSB0..2, the node of its AT port (/dev/ttyUSB2 in the
  /// testbed) leading to the AT emulator's pty, and starts `vigie run`
  /// (`device = "auto"`, `connection = "at"`) under libumockdev-preload. The
  /// daemon gets ready and answers STATUS by SMS; the emulator's pty
  /// vanishes as the key loses power and the modem is unplugged (remove
  /// uevents); it comes back as ttyUSB3..5 with /dev/ttyUSB5 leading to the
  /// emulator's new pty; the daemon notices, finds /dev/ttyUSB5, enters the
  /// PIN again, gets ready by itself and answers a second SMS. The CLI runs
  /// outside the preload, on the daemon's socket. How the testbed's /dev
  /// leads to the emulator: see the controller's docstring.
  @Test(
    "a modem that vanishes and comes back under another ttyUSB name is followed by the daemon",
    .enabled(
      if: missing == nil || Umockdev.required, Comment(rawValue: "skipped: \(missing ?? "")")))
  func replugUnderAnotherName() throws {
    if let missing = Self.missing {
      Issue.record(
        "umockdev and gammu are required here (CI=true or VIGIE_REQUIRE_UMOCKDEV=1): \(missing)")
      return
    }
    let workdir =
      NSTemporaryDirectory() + "vigie-replug-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
    defer {
      Self.stopLeftovers(workdir: workdir)
      try? FileManager.default.removeItem(atPath: workdir)
    }
    let output = try runProcess(
      Umockdev.python, [Self.controller, Products.path("vigie"), ModemEmulator.script, workdir],
      timeout: .seconds(100))
    let line = output.stdout.split(separator: "\n").last.map(String.init) ?? ""
    let summary = try #require(
      try? JSONDecoder().decode(ReplugSummary.self, from: Data(line.utf8)),
      "controller printed no summary (status \(output.status)):\n\(output.stdout.suffix(4000))\n\(output.stderr.suffix(4000))"
    )
    #expect(
      summary.ok,
      """
      \(summary.problems)
      steps: \(summary.steps.map { "\($0.t)s \($0.step)" })
      daemon log:
      \(summary.daemonLog)
      AT log:
      \(summary.atLog)
      """)
    #expect(output.status == 0, "\(output.stderr.suffix(2000))")
    #expect(summary.devices == ["/dev/ttyUSB2", "/dev/ttyUSB5"])
    #expect(
      summary.found == ["/dev/ttyUSB2", "/dev/ttyUSB5"], "the service's 'modem found' log lines")
    #expect(summary.replies.count == 2)
    #expect(summary.replies.allSatisfy { $0.hasPrefix("test-site: GSM Orange F home ") }, "\(summary.replies)")
    let order = summary.steps.map(\.step).filter {
      [
        "ready", "unplugged", "gone logged", "not ready", "replugged", "found logged",
        "daemon stopped",
      ].contains($0)
    }
    #expect(
      order == [
        "ready", "unplugged", "gone logged", "not ready", "replugged", "found logged", "ready",
        "daemon stopped",
      ])
  }

  /// The controller stops what it started, and its children die with it;
  /// this is the last line of defence when it was killed: the pids it
  /// listed, still alive and still running on this work directory, get
  /// SIGKILL.
  static func stopLeftovers(workdir: String) {
    guard let list = try? String(contentsOfFile: workdir + "/pids", encoding: .utf8) else { return }
    for entry in list.split(separator: "\n") {
      guard let pid = entry.split(separator: " ").first.flatMap({ pid_t($0) }), pid > 1,
        let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
        String(decoding: cmdline, as: UTF8.self).contains(workdir)
      else { continue }
      kill(pid, SIGKILL)
    }
  }
}
