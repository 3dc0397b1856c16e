import Foundation
import Testing

/// IRC end to end: the real `vigie run` against a real ngircd (plain and
/// TLS) with a Python raw-socket client acting as the person, and against a
/// scripted server for SASL, account tags and hostile lines.
@Suite(
  "IRC alerts and commands", .serialized,
  .enabled(if: NgIRCd.available, "ngircd is not installed (scripts/test installs it)"))
struct IRCTests {
  struct Site {
    let directory: String
    let server: NgIRCd

    init() throws {
      directory = NSTemporaryDirectory() + "vigie-irc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
      server = try NgIRCd(directory: directory + "/ngircd")
      try server.start()
    }

    func ircSection(tls: Bool = false, caFile: Bool = true, extra: String = "") -> String {
      """
      [irc]
      enabled = true
      server = "\(tls ? "localhost" : "127.0.0.1")"
      port = \(tls ? server.tlsPort : server.port)
      tls = \(tls)
      \(tls && caFile ? "ca_file = \"\(server.certificate)\"" : "")
      nick = "vigie"
      channels = ["#ops"]
      ping_interval = "30s"
      reconnect_max = "2s"
      \(extra)
      """
    }

    func start(_ sections: String, daemonExtra: String = "") throws -> TestDaemon {
      let daemon = try TestDaemon(sections: sections, daemonExtra: daemonExtra, directory: directory + "/vigie")
      try daemon.waitUntilReady()
      return daemon
    }

    var stateDir: String { directory + "/vigie/state" }

    func cleanUp() {
      server.kill()
      try? FileManager.default.removeItem(atPath: directory)
    }
  }

  static let alertsSection = """
    [alerts]
    group_window = "2s"
    """

  /// Waits until vigie is in #ops, as the peer sees it.
  func waitForBot(_ peer: IRCPeer, nick: String = "vigie", daemon: TestDaemon) throws {
    do {
      try eventually("vigie to join #ops") {
        peer.lines.contains { $0.hasPrefix(":\(nick)!") && $0.contains(" JOIN ") }
      }
    } catch {
      throw DaemonFailed(message: "vigie did not join #ops; its log:\n\(daemon.log.suffix(3000))")
    }
  }

  @Test("an alert reaches the channel as a NOTICE, over plain TCP and over verified TLS")
  func alertDelivered() throws {
    for tls in [false, true] {
      let site = try Site()
      defer { site.cleanUp() }
      let peer = try IRCPeer(port: site.server.port, nick: "alice", directory: site.directory)
      try eventually("the peer to register") { peer.registered }
      let daemon = try site.start(site.ircSection(tls: tls) + "\n" + Self.alertsSection)
      try waitForBot(peer, daemon: daemon)
      try raiseAlert(
        stateDir: site.stateDir, key: "watchdog.nas.down", severity: "critical", text: "test-site: nas DOWN")
      try eventually("the alert in #ops") {
        peer.messages(from: "vigie").contains {
          $0.command == "NOTICE" && $0.target == "#ops" && $0.text == "[critical] test-site: nas DOWN"
        }
      }
      let status = try daemon.cli("status")
      #expect(status.stdout.contains("IRC vigie in #ops"), "\(status.stdout)")
    }
  }

  @Test("TLS refuses a server certificate nobody vouches for")
  func tlsVerification() throws {
    let site = try Site()
    defer { site.cleanUp() }
    let daemon = try site.start(site.ircSection(tls: true, caFile: false))
    try eventually("a certificate error in the log") { daemon.log.contains("CERTIFICATE_VERIFY_FAILED") }
    #expect(!daemon.log.contains("IRC registered"))
    #expect(!site.server.log.contains("User \"vigie!"))
  }

  @Test("a pinned server key replaces the CA: the right pin connects, a wrong one is refused")
  func pinning() throws {
    let site = try Site()
    defer { site.cleanUp() }
    let pin = try runProcess(
      "/bin/sh",
      [
        "-c",
        "openssl x509 -in '\(site.server.certificate)' -pubkey -noout | openssl pkey -pubin -outform der"
          + " | openssl dgst -sha256 -hex | sed 's/.*= //'",
      ]
    ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(pin.count == 64, "\(pin)")
    let wrong = String(pin.reversed())
    let refused = try site.start(site.ircSection(tls: true, caFile: false, extra: "pin_sha256 = [\"\(wrong)\"]"))
    try eventually("a refused handshake") {
      refused.log.contains("IRC disconnected") || refused.log.contains("IRC connection failed")
    }
    #expect(!refused.log.contains("IRC registered"))
    refused.signal(SIGTERM)
    _ = refused.waitForExit(timeout: .seconds(10))
    let peer = try IRCPeer(port: site.server.port, nick: "alice", directory: site.directory)
    try eventually("the peer to register") { peer.registered }
    let daemon = try site.start(site.ircSection(tls: true, caFile: false, extra: "pin_sha256 = [\"\(pin)\"]"))
    try waitForBot(peer, daemon: daemon)
  }

  @Test("alerts raised while the server is down arrive after it restarts, marked with their age")
  func queuedAcrossRestart() throws {
    let site = try Site()
    defer { site.cleanUp() }
    let peer = try IRCPeer(port: site.server.port, nick: "alice", directory: site.directory)
    try eventually("the peer to register") { peer.registered }
    let daemon = try site.start(site.ircSection() + "\n" + Self.alertsSection)
    try waitForBot(peer, daemon: daemon)
    site.server.kill()
    try eventually("vigie to notice the server is gone") { daemon.log.contains("IRC disconnected") }
    // Raised 12 minutes ago (the watchdog's original time), during the outage.
    try raiseAlert(stateDir: site.stateDir, key: "watchdog.router.down", text: "router DOWN", age: 720)
    usleep(2_000_000)
    try site.server.start()
    let peer2 = try IRCPeer(port: site.server.port, nick: "bob", directory: site.directory)
    try eventually("the queued alert with its age", timeout: .seconds(90)) {
      peer2.messages(from: "vigie").contains { $0.text.hasPrefix("router DOWN [queued 12m") }
    }
    #expect(peer2.messages(from: "vigie").filter { $0.text.hasPrefix("router DOWN") }.count == 1)
  }

  @Test("a flood of 50 alerts is grouped and paced by flood control")
  func flood() throws {
    let site = try Site()
    defer { site.cleanUp() }
    let peer = try IRCPeer(port: site.server.port, nick: "alice", directory: site.directory)
    try eventually("the peer to register") { peer.registered }
    let daemon = try site.start(
      site.ircSection(extra: "flood_burst = 3\nflood_interval = \"500ms\"") + "\n[alerts]\ngroup_window = \"4s\"")
    try waitForBot(peer, daemon: daemon)
    try raiseAlert(stateDir: site.stateDir, key: "first", text: "first alert")
    try eventually("the first alert") { peer.messages(from: "vigie").contains { $0.text == "first alert" } }
    try raiseAlert(stateDir: site.stateDir, key: "flood", text: "flood", count: 50)
    try eventually("the grouped message") {
      peer.messages(from: "vigie").contains { $0.text.contains("more (ALERTS lists the open problems)") }
    }
    let group = peer.messages(from: "vigie").filter { $0.text != "first alert" }
    // One header, 10 alerts listed, one summary line: 12 lines, not 50 messages.
    #expect(group.count == 12, "\(group.map(\.text))")
    #expect(group.first?.text == "50 alerts (10 shown):")
    // Flood control: after a burst of 3, one line per 500 ms. Arrival times
    // can only be later than sending times; allow one line of slack for
    // scheduling jitter.
    let start = group[0].time
    for (index, line) in group.enumerated() {
      let allowed = 3 + Int((line.time - start) / 0.5) + 1
      #expect(index + 1 <= allowed, "line \(index + 1) came \(line.time - start) s after the first")
    }
    #expect(group.last!.time - start >= 3.5)
  }

  @Test("a 2,000-character alert is split on UTF-8 boundaries and reassembles exactly")
  func longMessage() throws {
    let site = try Site()
    defer { site.cleanUp() }
    let peer = try IRCPeer(port: site.server.port, nick: "alice", directory: site.directory)
    try eventually("the peer to register") { peer.registered }
    let daemon = try site.start(site.ircSection(extra: "flood_interval = \"200ms\"") + "\n" + Self.alertsSection)
    try waitForBot(peer, daemon: daemon)
    let words = ["état", "réseau", "日本語", "👩‍👩‍👧‍👦", "naïve", "Ωμέγα", "🇫🇷", "x"]
    var text = ""
    var n = 0
    while text.count < 2000 {
      text += words[n % words.count] + (n % 7 == 0 ? "" : " ")
      n += 1
    }
    text = String(text.prefix(2000))
    if text.hasSuffix(" ") { text.removeLast() }
    try raiseAlert(stateDir: site.stateDir, key: "long", text: text)
    do {
      try eventually("the whole text") { peer.messages(from: "vigie").map(\.text).joined().count >= text.count }
    } catch {
      let dump = "got \(peer.messages(from: "vigie").map(\.text)) for \(text)\n\(daemon.log.suffix(2000))"
      try? dump.write(toFile: NSTemporaryDirectory() + "vigie-irc-long-failure.txt", atomically: true, encoding: .utf8)
      throw DaemonFailed(
        message: "the text did not arrive whole (see vigie-irc-long-failure.txt in the temporary directory)")
    }
    let lines = peer.messages(from: "vigie").map(\.text)
    #expect(lines.count >= 5)
    #expect(lines.joined() == text)
    for line in lines { #expect(!line.contains("\u{FFFD}"), "broken UTF-8 in \(line)") }
  }

  @Test("commands: an allowed hostmask gets answers, a stranger is refused, in channel and in private")
  func commands() throws {
    let site = try Site()
    defer { site.cleanUp() }
    let alice = try IRCPeer(port: site.server.port, nick: "alice", directory: site.directory)
    let mallory = try IRCPeer(port: site.server.port, nick: "mallory", directory: site.directory)
    try eventually("the peers to register") { alice.registered && mallory.registered }
    let daemon = try site.start(
      site.ircSection(
        extra: """
          [[irc.allow]]
          hostmask = "alice!*@*"
          level = "operate"
          """))
    try waitForBot(alice, daemon: daemon)
    alice.send("PRIVMSG #ops :!status")
    try eventually("the STATUS answer in #ops") {
      alice.messages(from: "vigie").contains {
        $0.command == "PRIVMSG" && $0.target == "#ops" && $0.text.hasPrefix("alice: test-site up")
      }
    }
    mallory.send("PRIVMSG #ops :!status")
    try eventually("the refusal") {
      mallory.messages(from: "vigie").contains { $0.text.hasPrefix("mallory: You may not command this box") }
    }
    #expect(!mallory.messages(from: "vigie").contains { $0.text.hasPrefix("mallory: test-site up") })
    alice.send("PRIVMSG vigie :silence nas 1h")
    try eventually("the private answer") {
      alice.messages(from: "vigie").contains { $0.target == "alice" && $0.text.contains("SILENCE needs your code") }
    }
    alice.send("PRIVMSG #ops :vigie: alerts")
    try eventually("the answer to a mention") {
      alice.messages(from: "vigie").contains { $0.text == "alice: No open problem." }
    }
    alice.send("PRIVMSG vigie :\u{1}VERSION\u{1}")
    try eventually("the CTCP VERSION answer") {
      alice.messages(from: "vigie").contains { $0.command == "NOTICE" && $0.text.hasPrefix("\u{1}VERSION vigie ") }
    }
  }

  @Test("an open problem repeats until ACKed (with a code); ALERTS lists it; the recovery says how long it lasted")
  func repeatsAckRecovery() throws {
    let site = try Site()
    defer { site.cleanUp() }
    let passphrase = site.directory + "/passphrase"
    try "sesame".write(toFile: passphrase, atomically: true, encoding: .utf8)
    chmod(passphrase, 0o600)
    let alice = try IRCPeer(port: site.server.port, nick: "alice", directory: site.directory)
    try eventually("the peer to register") { alice.registered }
    let daemon = try site.start(
      site.ircSection(
        extra: """
          [[irc.allow]]
          hostmask = "alice!*@*"
          level = "operate"
          """)
          + """

          [sms]
          passphrase_file = "\(passphrase)"

          [alerts]
          group_window = "1s"
          repeat_interval = "3s"
          """)
    try waitForBot(alice, daemon: daemon)
    try raiseAlert(stateDir: site.stateDir, key: "watchdog.nas.down", severity: "critical", text: "nas DOWN")
    try eventually("the alert") { alice.messages(from: "vigie").contains { $0.text == "[critical] nas DOWN" } }
    try eventually("a repeat") { alice.messages(from: "vigie").contains { $0.text.contains("still: nas DOWN (for ") } }
    alice.send("PRIVMSG #ops :!alerts")
    try eventually("ALERTS") {
      alice.messages(from: "vigie").contains { $0.text.hasPrefix("alice: nas DOWN (for ") }
    }
    alice.send("PRIVMSG vigie :ack nas wrong")
    try eventually("a wrong code refused") {
      alice.messages(from: "vigie").contains { $0.text.hasPrefix("Wrong code") }
    }
    alice.send("PRIVMSG vigie :ack nas sesame")
    try eventually("the ACK") { alice.messages(from: "vigie").contains { $0.text == "Acknowledged: watchdog.nas." } }
    let acked = Date().timeIntervalSince1970
    usleep(7_000_000)
    // A repeat already on its way when the ACK landed may still arrive; none later.
    #expect(!alice.messages(from: "vigie").contains { $0.text.contains("still: nas DOWN") && $0.time > acked + 2 })
    try raiseAlert(stateDir: site.stateDir, key: "watchdog.nas.up", severity: "info", text: "nas UP again")
    try eventually("the recovery with the outage length") {
      alice.messages(from: "vigie").contains { $0.text.hasPrefix("nas UP again (outage ") }
    }
    alice.send("PRIVMSG #ops :!alerts")
    try eventually("no open problem") {
      alice.messages(from: "vigie").contains { $0.text == "alice: No open problem." }
    }
  }

  @Test("nick collision: vigie takes an alternate nick and reclaims its own when it frees up")
  func nickCollision() throws {
    let site = try Site()
    defer { site.cleanUp() }
    let squatter = try IRCPeer(port: site.server.port, nick: "vigie", directory: site.directory)
    let alice = try IRCPeer(port: site.server.port, nick: "alice", directory: site.directory)
    try eventually("the peers to register") { squatter.registered && alice.registered }
    let daemon = try site.start(site.ircSection())
    try waitForBot(alice, nick: "vigie_", daemon: daemon)
    squatter.send("QUIT :bye")
    try eventually("vigie to reclaim its nick") {
      alice.lines.contains { $0.hasPrefix(":vigie_!") && $0.contains(" NICK ") && $0.hasSuffix("vigie") }
    }
  }
}

/// Against the scripted server: what ngircd cannot show.
@Suite("IRC with a scripted server (SASL, account tags, hostile lines)", .serialized)
struct ScriptedIRCTests {
  func start(_ server: ScriptedIRCd, directory: String, password: String, extra: String = "") throws -> TestDaemon {
    let passwordFile = directory + "/irc-password"
    try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
    chmod(passwordFile, 0o600)
    let daemon = try TestDaemon(
      sections: """
        [irc]
        enabled = true
        server = "127.0.0.1"
        port = \(server.port)
        tls = false
        nick = "vigie"
        password_file = "\(passwordFile)"
        channels = ["#ops", "#secret key1"]
        reconnect_max = "2s"
        \(extra)
        [[irc.allow]]
        account = "alice"
        level = "read"
        """, directory: directory + "/vigie")
    try daemon.waitUntilReady()
    return daemon
  }

  @Test("SASL PLAIN, IRCv3 caps, JOIN with keys, account-tag authorisation, CTCP, KICK, hostile lines")
  func scripted() throws {
    let directory = NSTemporaryDirectory() + "vigie-sirc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let server = try ScriptedIRCd(directory: directory)
    let daemon = try start(server, directory: directory, password: "secret")
    try eventually("SASL to succeed") { server.count(event: "sasl-ok") == 1 }
    do {
      try eventually("the JOIN with a key") { server.lines.contains("JOIN #secret,#ops key1") }
    } catch {
      throw DaemonFailed(
        message: "no JOIN with a key in \(server.entries.map { $0.line ?? $0.event ?? "" })\n\(daemon.log.suffix(3000))"
      )
    }
    #expect(server.lines.contains { $0.hasPrefix("CAP REQ :") && $0.contains("sasl") && $0.contains("account-tag") })
    #expect(server.lines.contains("AUTHENTICATE PLAIN"))
    // Authorised by the services account in the message tag, whatever the nick.
    server.command("say alice someone #ops !status")
    try eventually("the answer to the account") {
      server.lines.contains { $0.hasPrefix("PRIVMSG #ops :someone: test-site up") }
    }
    server.command("say - alice #ops !status")
    try eventually("the refusal without an account") {
      server.lines.contains { $0.hasPrefix("PRIVMSG #ops :alice: You may not command") }
    }
    // No account tag: the bot asks WHOIS and gets the account (330).
    server.command("account carol alice")
    server.command("say - carol #ops !status")
    try eventually("the answer after WHOIS") {
      server.lines.contains { $0.hasPrefix("PRIVMSG #ops :carol: test-site up") }
    }
    #expect(server.lines.contains("WHOIS carol"))
    server.command("raw :bob!b@h PRIVMSG vigie :\u{1}PING 12345\u{1}")
    try eventually("the CTCP PING answer") { server.lines.contains("NOTICE bob :\u{1}PING 12345\u{1}") }
    // Hostile lines: oversized, NUL, binary, broken tags; the client lives on.
    server.command("hostile")
    server.command("say alice alice #ops !status")
    try eventually("an answer after the hostile lines") {
      server.lines.contains { $0.hasPrefix("PRIVMSG #ops :alice: test-site up") }
    }
    #expect(server.count(event: "registered") == 1)
    // KICK: rejoin after a short delay.
    let joins = server.lines.filter { $0.hasPrefix("JOIN ") }.count
    server.command("kick #ops")
    try eventually("the rejoin after KICK", timeout: .seconds(30)) {
      server.lines.filter { $0.hasPrefix("JOIN ") }.count > joins
    }
  }

  @Test("a wrong SASL password is reported and the bot still connects")
  func saslFailure() throws {
    let directory = NSTemporaryDirectory() + "vigie-sirc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let server = try ScriptedIRCd(directory: directory)
    let daemon = try start(server, directory: directory, password: "wrong")
    try eventually("SASL to fail") { server.count(event: "sasl-fail") == 1 }
    try eventually("registration anyway") { server.count(event: "registered") == 1 }
    try eventually("the failure in the log") { daemon.log.contains("SASL authentication failed") }
  }

  @Test("SASL EXTERNAL over TLS with a client certificate")
  func saslExternal() throws {
    let directory = NSTemporaryDirectory() + "vigie-sirc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let serverCertificate = try makeCertificate(directory: directory, name: "localhost")
    let client = try makeCertificate(directory: directory, name: "vigie-client")
    let server = try ScriptedIRCd(
      directory: directory,
      extra: [
        "--tls-cert", serverCertificate.certificate, "--tls-key", serverCertificate.key, "--client-ca",
        client.certificate,
      ])
    let daemon = try TestDaemon(
      sections: """
        [irc]
        enabled = true
        server = "localhost"
        port = \(server.port)
        tls = true
        ca_file = "\(serverCertificate.certificate)"
        client_cert = "\(client.certificate)"
        client_key = "\(client.key)"
        nick = "vigie"
        channels = ["#ops"]
        reconnect_max = "2s"
        """, directory: directory + "/vigie")
    try daemon.waitUntilReady()
    try eventually("SASL EXTERNAL to succeed") { server.count(event: "sasl-external-ok") == 1 }
    try eventually("registration") { server.count(event: "registered") == 1 }
    #expect(server.lines.contains("AUTHENTICATE EXTERNAL"))
    #expect(server.lines.contains("AUTHENTICATE +"))
  }

  @Test("a server that stops answering PING is dropped and reconnected")
  func pingDeadline() throws {
    let directory = NSTemporaryDirectory() + "vigie-sirc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let server = try ScriptedIRCd(directory: directory)
    let daemon = try start(
      server, directory: directory, password: "secret", extra: "ping_interval = \"1s\"\nping_timeout = \"2s\"")
    try eventually("registration") { server.count(event: "registered") == 1 }
    try eventually("our PING") { server.lines.contains { $0.hasPrefix("PING vigie-") } }
    server.command("mute")
    try eventually("the reconnection", timeout: .seconds(60)) { server.count(event: "registered") >= 2 }
    #expect(daemon.log.contains("ping timeout"))
  }
}

/// Chat unreachable beyond `sms_fallback_after`: SMS carries the alerts,
/// through the AT modem emulator, once per alert (a critical alert that
/// already went by SMS is not sent again).
@Suite(
  "alerts: SMS fallback when chat is down", .serialized,
  .enabled(if: ModemEmulator.gammuIsInstalled, "libgammu's gammu package is not installed"))
struct AlertFallbackTests {
  @Test("chat down beyond the threshold: the alerts go by SMS, each once")
  func smsFallback() throws {
    var site = try ModemTests.Site()
    defer { site.cleanUp() }
    // Nothing listens on this port: IRC stays down.
    let port = try freePort()
    site.otherSections = """
      [irc]
      enabled = true
      server = "127.0.0.1"
      port = \(port)
      tls = false
      channels = ["#ops"]
      reconnect_max = "2s"

      [alerts]
      sms_fallback_after = "3s"
      sms_numbers = ["\(ModemTests.admin)"]
      """
    let daemon = try site.start()
    try daemon.waitFor("the modem to be ready") { try daemon.modem()["phase"] as? String == "ready" }
    try raiseAlert(stateDir: site.directory + "/state", key: "watchdog.nas.down", text: "test-site: nas DOWN")
    try raiseAlert(
      stateDir: site.directory + "/state", key: "watchdog.router.down", severity: "critical",
      text: "test-site: router DOWN")
    try daemon.waitFor("both alerts by SMS", timeout: .seconds(60)) {
      let texts = try site.emulator.sent().map(\.text)
      return texts.contains { $0.hasPrefix("test-site: nas DOWN") }
        && texts.contains { $0.hasPrefix("test-site: router DOWN") }
    }
    usleep(4_000_000)
    let texts = try site.emulator.sent().map(\.text)
    #expect(texts.filter { $0.hasPrefix("test-site: nas DOWN") }.count == 1, "\(texts)")
    #expect(texts.filter { $0.hasPrefix("test-site: router DOWN") }.count == 1, "\(texts)")
    #expect(daemon.log.contains("chat unreachable: alert sent by SMS"))
  }
}
