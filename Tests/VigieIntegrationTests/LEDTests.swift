import Foundation
import Testing

/// The daemon drives LEDs of a directory laid out like /sys/class/leds.
@Suite("LEDs in the daemon", .serialized)
struct LEDTests {
  static func makeTree(_ names: [String]) throws -> String {
    let root = NSTemporaryDirectory() + "vigie-it-leds-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    for name in names {
      let directory = root + "/" + name
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      try "0\n".write(toFile: directory + "/brightness", atomically: false, encoding: .utf8)
      try "1\n".write(toFile: directory + "/max_brightness", atomically: false, encoding: .utf8)
      try "none timer [mmc0]\n".write(toFile: directory + "/trigger", atomically: false, encoding: .utf8)
    }
    return root
  }

  static func read(_ root: String, _ led: String, _ file: String = "brightness") -> String {
    ((try? String(contentsOfFile: "\(root)/\(led)/\(file)", encoding: .utf8)) ?? "")
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The values an LED file shows over `length` (empty reads skipped: a
  /// regular file is briefly empty between truncation and write).
  static func values(_ root: String, _ led: String, over length: Duration) -> Set<String> {
    var seen: Set<String> = []
    let deadline = ContinuousClock.now + length
    while ContinuousClock.now < deadline {
      let value = read(root, led)
      if !value.isEmpty { seen.insert(value) }
      usleep(10_000)
    }
    return seen
  }

  @Test("a target DOWN blinks the network LED once per target and the alert LED beats; SIGTERM gives the LEDs back")
  func downTargetAndShutdown() throws {
    let root = try Self.makeTree(["modem", "net", "alert", "ACT"])
    defer { try? FileManager.default.removeItem(atPath: root) }
    let probe = try WatchdogTests.listen(port: 0)
    close(probe.fd)
    let daemon = try TestDaemon(
      sections: """
        [leds]
        sysfs_root = "\(root)"
        modem = "sysfs:modem"
        network = "sysfs:net"
        alert = "sysfs:alert"
        activity = "sysfs:ACT"

        [watchdog]
        interval = "1s"
        timeout = "500ms"
        failures = 2
        window = 3

        [[watchdog.target]]
        name = "service"
        host = "127.0.0.1"
        probe = "tcp-connect:\(probe.port)"
        """)
    try daemon.waitUntilReady()
    try daemon.waitFor("the LEDs to be taken", timeout: .seconds(20)) { Self.read(root, "ACT", "trigger") == "none" }
    try daemon.waitFor("service to be DOWN", timeout: .seconds(30)) {
      try daemon.cli("status").stdout.contains("service DOWN")
    }
    #expect(try daemon.cli("status").stdout.contains("leds"))
    // Blink code 1 (250 ms lit per 2 s) and a heartbeat: both seen lit and dark.
    #expect(Self.values(root, "net", over: .seconds(3)) == ["0", "1"])
    #expect(Self.values(root, "alert", over: .seconds(2)) == ["0", "1"])
    #expect(Self.values(root, "modem", over: .milliseconds(500)) == ["0"], "the modem is disabled: dark")

    let test = try daemon.cli("leds", "test", "--hold", "0.2")
    #expect(test.status == 0, "\(test)")
    #expect(test.stdout.contains("Lit in turn: modem, network, alert, activity"), "\(test.stdout)")

    daemon.process.terminate()
    daemon.process.waitUntilExit()
    for led in ["modem", "net", "alert", "ACT"] {
      #expect(Self.read(root, led, "trigger") == "mmc0", "\(led) given back to the kernel")
    }
  }
}
