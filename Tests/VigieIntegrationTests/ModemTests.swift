import Foundation
import Testing
import VigieCore

/// The modem and SMS services against the real libgammu and the AT modem
/// emulator (`connection = proxyat`): what a person with a phone would see.
@Suite(
  "modem and SMS", .serialized,
  .enabled(if: ModemEmulator.gammuIsInstalled, "libgammu's gammu package is not installed"))
struct ModemTests {
  static let admin = "+33612345678"
  static let totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DP"

  /// A daemon on a fresh emulator, with an admin number and a TOTP secret.
  struct Site {
    let directory: String
    let emulator: ModemEmulator
    let pinFile: String
    let totpFile: String
    var daemonExtra = ""
    var smsExtra = ""
    var modemExtra = ""
    var smsPollInterval = "1s"
    var pollInterval = "2s"
    var otherSections = ""

    init(emulatorOverrides: [String] = [], pin: String = "1234") throws {
      directory = NSTemporaryDirectory() + "vigie-modem-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
      emulator = try ModemEmulator(directory: directory + "/emulator", overrides: emulatorOverrides)
      pinFile = directory + "/pin"
      try pin.write(toFile: pinFile, atomically: true, encoding: .utf8)
      chmod(pinFile, 0o600)
      totpFile = directory + "/totp"
      try ModemTests.totpSecret.write(toFile: totpFile, atomically: true, encoding: .utf8)
      chmod(totpFile, 0o600)
    }

    func start() throws -> TestDaemon {
      let daemon = try TestDaemon(
        sections: """
          [sms]
          totp_secret_file = "\(totpFile)"
          default_country_code = "33"
          \(smsExtra)
          [[sms.allow]]
          number = "\(ModemTests.admin)"
          level = "admin"

          \(otherSections)
          """,
        daemonExtra: daemonExtra,
        modem: emulator.modemSection(
          pinFile: pinFile, smsPollInterval: smsPollInterval, pollInterval: pollInterval, extra: modemExtra),
        directory: directory)
      daemon.removeDirectory = false
      try daemon.waitUntilReady()
      return daemon
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }
  }

  static func code() throws -> String {
    try TOTP(base32Secret: totpSecret).code(at: Int64(Date().timeIntervalSince1970))
  }

  func waitUntilReady(_ daemon: TestDaemon) throws {
    try daemon.waitFor("the modem to be ready") { try daemon.modem()["phase"] as? String == "ready" }
  }

  @Test("the PIN is entered once; STATUS by SMS is answered; unknown senders are not")
  func pinAndStatus() throws {
    let site = try Site()
    defer { site.cleanUp() }
    var daemon = try site.start()
    try waitUntilReady(daemon)
    #expect(try site.emulator.events("pin_ok") == 1)
    #expect(try daemon.modem()["operatorName"] as? String == "Orange F")

    try site.emulator.ctl("deliver", "from=\(Self.admin)", "text=status")
    try site.emulator.ctl("deliver", "from=+33700000001", "text=STATUS")
    try daemon.waitFor("the STATUS reply") { try site.emulator.sent().contains { $0.number == Self.admin } }
    let reply = try #require(try site.emulator.sent().first { $0.number == Self.admin })
    // One SMS: modem first, then the WAN, services, uptime, disk.
    #expect(reply.text.hasPrefix("test-site: GSM Orange F home -"), "\(reply.text)")
    #expect(reply.text.contains("dBm; WAN ?; svc ok; up "), "\(reply.text)")
    #expect(reply.text.count <= 160, "\(reply.text)")
    usleep(2_000_000)
    #expect(try site.emulator.sent().count == 1, "the unknown sender must not be answered")
    #expect(try daemon.cli("sms", "inbox").stdout.contains("[ignored: unknown sender]"))

    // A restart of the daemon finds the SIM unlocked (the key stayed powered).
    daemon.signal(SIGTERM)
    #expect(daemon.waitForExit(timeout: .seconds(10)) == 0)
    daemon = try site.start()
    try waitUntilReady(daemon)
    #expect(try site.emulator.events("pin_ok") == 1)
  }

  @Test("a wrong PIN is tried once, never again after a restart, and reported")
  func wrongPIN() throws {
    let site = try Site(pin: "9999")
    defer { site.cleanUp() }
    var daemon = try site.start()
    try daemon.waitFor("the SIM to be reported locked") { try daemon.modem()["phase"] as? String == "locked" }
    #expect((try daemon.modem()["simProblem"] as? String)?.contains("rejected the configured PIN") == true)
    #expect(try site.emulator.sim()["pin_attempts"] as? Int == 2)
    #expect(try daemon.cli("cmd", "STATUS").stdout.contains("SIM locked"))

    daemon.signal(SIGTERM)
    _ = daemon.waitForExit(timeout: .seconds(10))
    daemon = try site.start()
    try daemon.waitFor("the SIM to be reported locked again") { try daemon.modem()["phase"] as? String == "locked" }
    usleep(3_000_000)
    #expect(try site.emulator.sim()["pin_attempts"] as? Int == 2, "the rejected PIN was tried again")

    // The person fixes the PIN file and restarts the modem: the new PIN is tried once.
    try "1234".write(toFile: site.pinFile, atomically: true, encoding: .utf8)
    chmod(site.pinFile, 0o600)
    _ = try daemon.cli("cmd", "RESTART", "modem")
    try waitUntilReady(daemon)
    #expect(try site.emulator.sim()["pin_attempts"] as? Int == 3)
  }

  @Test("a SIM asking for its PUK, or with one PIN attempt left, is never touched")
  func pukAndLastAttempt() throws {
    let puk = try Site(emulatorOverrides: ["sim.lock=SIM PUK", "sim.pin_attempts=0"])
    defer { puk.cleanUp() }
    let daemon = try puk.start()
    try daemon.waitFor("the PUK state") { try daemon.modem()["phase"] as? String == "locked" }
    #expect((try daemon.modem()["simProblem"] as? String)?.contains("PUK") == true)
    #expect(try puk.emulator.sim()["puk_attempts"] as? Int == 10)

    let last = try Site(emulatorOverrides: ["sim.pin_attempts=1"])
    defer { last.cleanUp() }
    let second = try last.start()
    try second.waitFor("the refusal") { try second.modem()["phase"] as? String == "locked" }
    #expect((try second.modem()["simProblem"] as? String)?.contains("only 1 PIN attempt left") == true)
    #expect(try last.emulator.sim()["pin_attempts"] as? Int == 1)
  }

  @Test("multipart commands out of order and Unicode texts both ways")
  func multipartAndUnicode() throws {
    let site = try Site()
    defer { site.cleanUp() }
    let daemon = try site.start()
    try waitUntilReady(daemon)
    let padded = "STATUS" + String(repeating: " ", count: 200)
    try site.emulator.ctl("deliver", #"{"from":"\#(Self.admin)","text":"\#(padded)","order":[2,1]}"#)
    try daemon.waitFor("the reply to the two-part STATUS") { try site.emulator.sent().count == 1 }
    #expect(try site.emulator.sent()[0].text.hasPrefix("test-site: GSM Orange F"))

    try site.emulator.ctl("deliver", #"{"from":"\#(Self.admin)","text":"Statüs","encoding":"ucs2"}"#)
    try daemon.waitFor("the reply to the Unicode text") { try site.emulator.sent().count == 2 }
    #expect(
      try site.emulator.sent()[1].text == "Unknown command 'Statüs'. Did you mean STATUS? Send HELP for the list.")
  }

  @Test("a long reply is capped to max_reply_parts")
  func cappedReply() throws {
    var site = try Site()
    defer { site.cleanUp() }
    site.smsExtra = "max_reply_parts = 1"
    let daemon = try site.start()
    try waitUntilReady(daemon)
    // Replies that must be capped are rare now that STATUS fits in one SMS:
    // an unknown command in French is quoted back, in UCS-2 (70 a part).
    try site.emulator.ctl(
      "deliver", #"{"from":"\#(Self.admin)","text":"Éteinslalumièredusalonetlacuisine","encoding":"ucs2"}"#)
    try daemon.waitFor("the reply") { try site.emulator.sent().count == 1 }
    let text = try site.emulator.sent()[0].text
    #expect(text.hasPrefix("Unknown command 'Éteinslalumière"), "\(text)")
    #expect(text.hasSuffix("(truncated)"), "\(text)")
    #expect(text.count <= 70, "\(text)")
  }

  @Test("REBOOT by SMS runs once, even though it kills the daemon right after")
  func rebootOnce() throws {
    var site = try Site()
    defer { site.cleanUp() }
    let marker = site.directory + "/rebooted"
    // Like a real reboot, the command takes the daemon down at once.
    site.daemonExtra = #"reboot_command = "echo rebooted >> \#(marker); kill -9 $PPID""#
    var daemon = try site.start()
    try waitUntilReady(daemon)
    try site.emulator.ctl("deliver", "from=\(Self.admin)", "text=REBOOT \(try Self.code())")
    try daemon.waitFor("the confirmation request") { try site.emulator.sent().count == 1 }
    let request = try site.emulator.sent()[0].text
    let code = try #require(request.split(separator: " ").dropFirst(2).first.map(String.init), "\(request)")
    #expect(request == "Send CONFIRM \(code) within 2 minutes to run REBOOT.")
    try site.emulator.ctl("deliver", "from=\(Self.admin)", "text=CONFIRM \(code)")
    #expect(daemon.waitForExit(timeout: .seconds(30)) != nil, "the reboot command did not kill the daemon")
    #expect((try? String(contentsOfFile: marker, encoding: .utf8)) == "rebooted\n")

    // "After the reboot": the daemon starts again on the same state.
    daemon = try site.start()
    try waitUntilReady(daemon)
    usleep(3_000_000)
    #expect((try? String(contentsOfFile: marker, encoding: .utf8)) == "rebooted\n", "REBOOT ran twice")
    // The journal has the CONFIRM once, done (or interrupted when the kill
    // came before the journal was updated): never to be run again.
    let inbox = try daemon.cli("sms", "inbox").stdout
    #expect(inbox.components(separatedBy: "CONFIRM \(code)").count == 2, "\(inbox)")
    #expect(inbox.contains("[done: ok]  CONFIRM") || inbox.contains("[interrupted"), "\(inbox)")
  }

  @Test("a hung modem is recovered; an SMS queued meanwhile survives kill -9 and is sent")
  func hangAndDurableOutbox() throws {
    let site = try Site()
    defer { site.cleanUp() }
    var daemon = try site.start()
    try waitUntilReady(daemon)
    try site.emulator.ctl("fault", "kind=hang")
    try daemon.waitFor("the recovery ladder") { daemon.log.contains("recovery step") }
    #expect(try daemon.modem()["phase"] as? String == "recovering")
    let queued = try daemon.cli("sms", "send", Self.admin, "kept", "across", "kill")
    #expect(queued.stdout.hasPrefix("Queued for \(Self.admin)"), "\(queued)")
    daemon.signal(SIGKILL)
    _ = daemon.waitForExit(timeout: .seconds(10))

    try site.emulator.ctl("clear")
    daemon = try site.start()
    try daemon.waitFor("the queued SMS to be sent") {
      try site.emulator.sent().contains { $0.text == "kept across kill" }
    }
    #expect(try site.emulator.sent().filter { $0.text == "kept across kill" }.count == 1)
  }

  @Test("a modem that vanishes and comes back is picked up again by itself")
  func vanishAndReturn() throws {
    let site = try Site()
    defer { site.cleanUp() }
    let daemon = try site.start()
    try waitUntilReady(daemon)
    // The emulator process exits, and new ones exit at once for 4 s (device absent).
    try site.emulator.ctl("fault", "kind=vanish", "ms=4000")
    try daemon.waitFor("the modem to be noticed gone") { try daemon.modem()["phase"] as? String != "ready" }
    try daemon.waitFor("the modem to be back") { try daemon.modem()["phase"] as? String == "ready" }
    try site.emulator.ctl("deliver", "from=\(Self.admin)", "text=SIGNAL")
    try daemon.waitFor("the SIGNAL reply") { try site.emulator.sent().count == 1 }
    #expect(try site.emulator.sent()[0].text.hasPrefix("modem Orange F, home"))
  }

  @Test("a new SMS is announced by the modem (+CMTI): no need to wait for the polling")
  func notification() throws {
    var site = try Site()
    defer { site.cleanUp() }
    site.smsPollInterval = "1h"
    let daemon = try site.start()
    try waitUntilReady(daemon)
    usleep(1_000_000)  // past the first read at connection time
    try site.emulator.ctl("deliver", "from=\(Self.admin)", "text=IP")
    try daemon.waitFor("the IP reply", timeout: .seconds(30)) { try site.emulator.sent().count == 1 }
  }

  @Test("a target going down reaches the owner's phone by SMS, once")
  func alertBySMS() throws {
    var site = try Site()
    defer { site.cleanUp() }
    // Port 1 on loopback: nothing listens, the kernel answers with a reset.
    site.otherSections = """
      [alerts]
      sms_numbers = ["\(Self.admin)"]

      [watchdog]
      interval = "1s"
      timeout = "500ms"
      failures = 2
      window = 3

      [[watchdog.target]]
      name = "nas"
      host = "127.0.0.1"
      probe = "tcp-connect:1"
      """
    let daemon = try site.start()
    try waitUntilReady(daemon)
    try daemon.waitFor("the DOWN alert by SMS") {
      try site.emulator.sent().contains { $0.text.hasPrefix("test-site: nas DOWN since ") }
    }
    usleep(3_000_000)
    #expect(try site.emulator.sent().filter { $0.text.contains("nas DOWN") }.count == 1)
    // "nas" is on the LAN: it says nothing about the WAN.
    #expect(try daemon.cli("status").stdout.contains("\nWAN unknown (no internet target watched)\n"))
  }

  @Test("SIGNAL and vigie modem read the modem now; when it does not answer, the last reading and its age")
  func signalOnDemand() throws {
    var site = try Site()
    defer { site.cleanUp() }
    site.pollInterval = "1h"  // only the reading at connection time, then on demand
    let daemon = try site.start()
    try waitUntilReady(daemon)

    try site.emulator.ctl("set", "rssi=20")  // -113 + 2 × 20 dBm
    try site.emulator.ctl("deliver", "from=\(Self.admin)", "text=SIGNAL")
    try daemon.waitFor("the SIGNAL reply") { try site.emulator.sent().count == 1 }
    #expect(try site.emulator.sent()[0].text == "modem Orange F, home, -73 dBm (read now)")

    try site.emulator.ctl("set", "rssi=7")
    let page = try daemon.cli("modem").stdout
    #expect(page.contains("Signal        -99 dBm"), "\(page)")
    #expect(page.contains("Read          now"), "\(page)")

    // The modem stops answering: SIGNAL says so, with the last reading and its age.
    try site.emulator.ctl("fault", "kind=hang")
    let reply = try daemon.cli("cmd", "SIGNAL").stdout
    #expect(reply.contains("; last reading "), "\(reply)")
    #expect(reply.contains(" ago: Orange F, home, -99 dBm"), "\(reply)")
  }

  @Test("replies in flight when the modem vanishes mid-send go out once it is back, each once, without the lease wait")
  func vanishMidSend() throws {
    let site = try Site()
    defer { site.cleanUp() }
    // The modem is away for 6 s (so the three SMS are claimed together by
    // the first session), and drops off the bus again at the first AT+CMGS.
    try site.emulator.ctl("fault", "kind=vanish_on", #"match=\+CMGS"#, "ms=3000")
    try site.emulator.ctl("fault", "kind=vanish", "ms=6000")
    let daemon = try site.start()
    for i in 1...3 {
      let queued = try daemon.cli("sms", "send", Self.admin, "message \(i)")
      #expect(queued.stdout.hasPrefix("Queued for \(Self.admin)"), "\(queued)")
    }
    try daemon.waitFor("the send to be cut", timeout: .seconds(90)) {
      daemon.log.contains("SMS not sent: the modem session ended")
    }
    #expect(try site.emulator.sent().isEmpty)
    // The outbox lease is 5 minutes: well within it, all three are sent.
    try daemon.waitFor("the three SMS", timeout: .seconds(120)) {
      Set(try site.emulator.sent().map(\.text)).isSuperset(of: ["message 1", "message 2", "message 3"])
    }
    usleep(3_000_000)
    let texts = try site.emulator.sent().map(\.text)
    for i in 1...3 { #expect(texts.filter { $0 == "message \(i)" }.count == 1, "\(texts)") }
    #expect(daemon.log.contains("released=3"), "the three claimed together went back together")
  }
}
