import Foundation
import Testing

/// Whether umockdev can run here, and if not, why.
///
/// Needs the Debian packages `umockdev` (libumockdev-preload),
/// `gir1.2-umockdev-1.0` and `python3-gi`, used by Debian's own Python
/// (`/usr/bin/python3`: a pyenv or venv Python does not see python3-gi).
enum Umockdev {
  static let python = "/usr/bin/python3"

  static let controller = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Emulators/udev/modem_hotplug.py").path

  /// Nil when usable; otherwise what is missing.
  static let missing: String? = {
    guard FileManager.default.isExecutableFile(atPath: python) else {
      return "\(python) is missing (Debian package python3)"
    }
    let probe = try? runProcess(
      python,
      [
        "-c",
        "import gi; gi.require_version('UMockdev', '1.0'); from gi.repository import UMockdev; UMockdev.Testbed.new()",
      ], timeout: .seconds(30))
    guard probe?.status == 0 else {
      return
        "umockdev's Python bindings do not load: install the Debian packages umockdev, gir1.2-umockdev-1.0, python3-gi (\(probe?.stderr.split(separator: "\n").last ?? "no output"))"
    }
    let preload =
      (try? runProcess("/bin/sh", ["-c", "ldconfig -p | grep -q libumockdev-preload.so.0"]))?.status
    guard preload == 0 else {
      return "libumockdev-preload.so.0 is missing (Debian package umockdev)"
    }
    return nil
  }()

  /// CI has the packages: there a missing umockdev is a failure, not a skip.
  static let required =
    ProcessInfo.processInfo.environment["CI"] == "true"
    || ProcessInfo.processInfo.environment["VIGIE_REQUIRE_UMOCKDEV"] == "1"
}

/// One scenario summary printed by modem_hotplug.py.
private struct ScenarioSummary: Decodable {
  var scenario: String
  var ok: Bool
  var problems: [String]
  var events: [Event]

  struct Event: Decodable {
    var event: String
    var device: String?
  }
}

@Suite("udev hotplug (real libudev against umockdev)")
struct UdevHotplugTests {
  /// The controller (Python, umockdev's Testbed) adds a fake Huawei E1750 as
  /// ttyUSB0..2, runs `vigie-test-helper udev-watch` under
  /// libumockdev-preload, unplugs the modem (remove uevents), plugs it back
  /// as ttyUSB3..5 (add uevents) and checks what ModemLocator reported:
  /// /dev/ttyUSB2, gone, /dev/ttyUSB5; once with `auto`, once with the
  /// /dev/serial/by-id link configured.
  @Test(
    "the modem is followed through unplug and replug under a new ttyUSB number",
    .enabled(
      if: Umockdev.missing == nil || Umockdev.required,
      Comment(rawValue: "skipped: \(Umockdev.missing ?? "")")))
  func unplugReplug() throws {
    if let missing = Umockdev.missing {
      Issue.record("umockdev is required here (CI=true or VIGIE_REQUIRE_UMOCKDEV=1): \(missing)")
      return
    }
    let output = try runProcess(
      Umockdev.python, [Umockdev.controller, Products.path("vigie-test-helper")],
      timeout: .seconds(120))
    #expect(
      output.status == 0,
      "controller failed:\n\(output.stdout.suffix(4000))\n\(output.stderr.suffix(4000))")
    let summaries = output.stdout.split(separator: "\n").compactMap {
      try? JSONDecoder().decode(ScenarioSummary.self, from: Data($0.utf8))
    }
    #expect(summaries.map(\.scenario) == ["auto", "by-id"], "\(output.stdout.suffix(2000))")
    for summary in summaries {
      #expect(summary.ok, "\(summary.scenario): \(summary.problems)")
      let changes = summary.events.filter { ["appeared", "gone", "absent"].contains($0.event) }
        .map { "\($0.event) \($0.device ?? "-")" }
      #expect(
        changes == ["appeared /dev/ttyUSB2", "gone /dev/ttyUSB2", "appeared /dev/ttyUSB5"],
        "\(summary.scenario)")
      #expect(summary.events.last?.event == "stopped", "\(summary.scenario)")
    }
  }
}
