import Testing
import VigieCore

/// The problems `validate()` finds after `change` is applied to the defaults,
/// as `path: message` lines.
func problems(_ change: (inout VigieConfig) -> Void) -> [String] {
  var config = VigieConfig()
  change(&config)
  return config.validate().map(\.description)
}

func target(
  _ name: String, host: String = "192.0.2.1", probe: String = "icmp", dependsOn: [String] = []
) -> WatchTarget {
  var target = WatchTarget()
  target.name = name
  target.host = host
  target.probe = probe
  target.dependsOn = dependsOn
  return target
}

@Suite struct ConfigValidationTests {
  @Test func theDefaultsAreValid() {
    #expect(VigieConfig().validate().isEmpty)
  }

  @Test func linesComeFromTheMapping() {
    var config = VigieConfig()
    config.modem.pin = "12"
    let issues = config.validate(lineOf: { $0 == "modem.pin" ? 12 : nil })
    #expect(issues.map(\.description) == ["line 12: modem.pin: a SIM PIN is 4 to 8 digits"])
  }

  // MARK: Secrets

  @Test func pinAndPinFileTogether() {
    #expect(
      problems {
        $0.modem.pin = "1234"
        $0.modem.pinFile = "/etc/vigie/pin"
      } == ["modem.pin: give either 'pin' or 'pin_file', not both"])
  }

  @Test(arguments: ["12", "123456789", "12a4", "１２３４", " 1234"])
  func badPin(pin: String) {
    #expect(problems { $0.modem.pin = pin } == ["modem.pin: a SIM PIN is 4 to 8 digits"])
  }

  @Test func theModemIsNotCheckedWhenDisabled() {
    #expect(
      problems {
        $0.modem.enabled = false
        $0.modem.pin = "12"
        $0.modem.device = "ttyUSB0"
      }.isEmpty)
  }

  @Test func secretFilesMustBeAbsolute() {
    #expect(
      problems {
        $0.modem.pinFile = "pin"
        $0.irc.passwordFile = "./irc"
        $0.drive.clientSecretFile = "secret.json"
      } == [
        "modem.pin_file: must be an absolute path, found \"pin\"",
        "drive.client_secret_file: must be an absolute path, found \"secret.json\"",
        "irc.password_file: must be an absolute path, found \"./irc\"",
      ])
  }

  @Test func bothPasswordsForIRCAndXMPP() {
    #expect(
      problems {
        $0.irc.password = "a"
        $0.irc.passwordFile = "/etc/vigie/irc"
        $0.xmpp.password = "b"
        $0.xmpp.passwordFile = "/etc/vigie/xmpp"
      } == [
        "irc.password: give either 'password' or 'password_file', not both",
        "xmpp.password: give either 'password' or 'password_file', not both",
      ])
  }

  // MARK: Listening addresses

  @Test(arguments: [
    ("localhost", "\"localhost\" is not host:port, e.g. 0.0.0.0:8080 or [::]:8080"),
    ("8080", "\"8080\" is not host:port, e.g. 0.0.0.0:8080 or [::]:8080"),
    (":8080", "the host is missing in \":8080\""),
    ("0.0.0.0:", "\"\" is not a port number (1-65535)"),
    ("0.0.0.0:0", "\"0\" is not a port number (1-65535)"),
    ("0.0.0.0:65536", "\"65536\" is not a port number (1-65535)"),
    ("0.0.0.0:http", "\"http\" is not a port number (1-65535)"),
    ("::1:8080", "\"::1:8080\" is not host:port, e.g. 0.0.0.0:8080 or [::]:8080"),
    ("[::1]", "\"[::1]\" is not host:port; IPv6 is written [::1]:8080"),
    ("[::1]8080", "\"[::1]8080\" is not host:port; IPv6 is written [::1]:8080"),
    ("[::1:8080", "\"[::1:8080\" is not host:port; IPv6 is written [::1]:8080"),
    ("[]:8080", "the host is missing in \"[]:8080\""),
    ("", "\"\" is not host:port, e.g. 0.0.0.0:8080 or [::]:8080"),
  ])
  func badListenAddress(text: String, message: String) {
    #expect(ListenAddress.parse(text) == .failure(message))
    #expect(problems { $0.filedrop.listen = text } == ["filedrop.listen: " + message])
    #expect(
      problems { $0.status.listen = text } == (text.isEmpty ? [] : ["status.listen: " + message]))
  }

  @Test(arguments: [
    ("0.0.0.0:8080", "0.0.0.0", 8080),
    ("127.0.0.1:1", "127.0.0.1", 1),
    ("[::]:8080", "::", 8080),
    ("[::1]:65535", "::1", 65535),
    ("drop.example.org:80", "drop.example.org", 80),
  ])
  func goodListenAddress(text: String, host: String, port: Int) {
    guard case .success(let address) = ListenAddress.parse(text) else {
      Issue.record("\(text) was refused")
      return
    }
    #expect(address.host == host)
    #expect(address.port == port)
    #expect(problems { $0.filedrop.listen = text }.isEmpty)
  }

  // MARK: Watchdog

  @Test func anUnknownParentGetsAHint() {
    #expect(
      problems {
        $0.watchdog.target = [target("gateway"), target("internet", dependsOn: ["gatway"])]
      } == ["watchdog.target[2].depends_on: no target is named 'gatway'; did you mean 'gateway'?"])
  }

  @Test func anUnknownParentFarFromAnyName() {
    #expect(
      problems {
        $0.watchdog.target = [target("gateway"), target("internet", dependsOn: ["router"])]
      }
        == ["watchdog.target[2].depends_on: no target is named 'router'"])
  }

  @Test func aDependencyCycleIsReportedOnce() {
    #expect(
      problems {
        $0.watchdog.target = [
          target("a", dependsOn: ["b"]), target("b", dependsOn: ["c"]),
          target("c", dependsOn: ["a"]),
          target("d", dependsOn: ["a"]),
        ]
      } == ["watchdog.target[1].depends_on: dependency cycle: a -> b -> c -> a"])
  }

  @Test func aTargetLeadingIntoACycleIsNotBlamed() {
    #expect(
      problems {
        $0.watchdog.target = [
          target("d", dependsOn: ["a"]), target("a", dependsOn: ["b"]),
          target("b", dependsOn: ["a"]),
        ]
      } == ["watchdog.target[2].depends_on: dependency cycle: a -> b -> a"])
  }

  @Test func twoSeparateCycles() {
    #expect(
      problems {
        $0.watchdog.target = [
          target("a", dependsOn: ["b"]), target("b", dependsOn: ["a"]),
          target("c", dependsOn: ["d"]),
          target("d", dependsOn: ["c"]),
        ]
      } == [
        "watchdog.target[1].depends_on: dependency cycle: a -> b -> a",
        "watchdog.target[3].depends_on: dependency cycle: c -> d -> c",
      ])
  }

  @Test func aTargetThatDependsOnItself() {
    #expect(
      problems { $0.watchdog.target = [target("a", dependsOn: ["a"])] }
        == ["watchdog.target[1].depends_on: 'a' cannot depend on itself"])
  }

  @Test func aDiamondIsNotACycle() {
    #expect(
      problems {
        $0.watchdog.target = [
          target("gw"), target("isp", dependsOn: ["gw"]), target("vpn", dependsOn: ["gw"]),
          target("office", dependsOn: ["isp", "vpn"]),
        ]
      }.isEmpty)
  }

  @Test func duplicateTargetNames() {
    #expect(
      problems { $0.watchdog.target = [target("gw"), target("gw", host: "192.0.2.2")] }
        == ["watchdog.target[2].name: 'gw' is already the name of target 1"])
  }

  @Test func aTargetNeedsANameAndAHost() {
    #expect(
      problems { $0.watchdog.target = [target("", host: "")] }
        == [
          "watchdog.target[1].name: every target needs a name",
          "watchdog.target[1].host: every target needs a host",
        ])
  }

  @Test(arguments: [
    "http:https://example.org/health", "https://example.org/health", "HTTP:HTTPS://EXAMPLE.ORG/",
  ])
  func anHTTPProbeNeedsNoHost(probe: String) {
    #expect(problems { $0.watchdog.target = [target("web", host: "", probe: probe)] }.isEmpty)
  }

  @Test func implicitTargets() {
    #expect(
      problems {
        $0.watchdog.gateway = "router"
        $0.watchdog.resolver = "auto"
        $0.watchdog.internetAnchors = ["192.0.2.1", "2001:db8::1", "one.one.one.one"]
        $0.watchdog.target = [target("web", dependsOn: ["internet", "gateway", "resolver", "uplink"])]
      } == [
        "watchdog.gateway: \"router\" is neither auto, none nor an IP address",
        "watchdog.internet_anchors[3]: \"one.one.one.one\" is not an IP address",
        "watchdog.target[1].depends_on: no target is named 'uplink'",
      ])
    // Off (the defaults): the implicit names are unknown parents.
    #expect(
      problems { $0.watchdog.target = [target("web", dependsOn: ["internet"])] }
        == ["watchdog.target[1].depends_on: no target is named 'internet'"])
    var watchdog = WatchdogConfig()
    watchdog.gateway = "auto"
    watchdog.internetAnchors = ["192.0.2.1"]
    watchdog.target = [target("gateway")]
    #expect(watchdog.implicitTargetNames == ["internet"], "a configured target named gateway takes the name")
  }

  @Test func httpExpectations() {
    #expect(
      problems {
        var web = target("web", host: "", probe: "https://example.org/")
        web.expectStatus = "200,abc"
        web.tlsMinDays = -1
        $0.watchdog.target = [web]
      } == [
        "watchdog.target[1].expect_status: \"abc\" is not an HTTP status or range (e.g. 200, 200-299, 200,301); codes are 100 to 599",
        "watchdog.target[1].tls_min_days: must not be negative",
      ])
    var web = target("web", host: "", probe: "https://example.org/")
    web.expectStatus = "204, 300-302"
    web.expectBody = "ok"
    #expect(
      web.httpCheck == HTTPCheck(statuses: [204...204, 300...302], bodyContains: "ok", minimumCertificateDays: 14))
  }

  @Test func theTimeoutMustBeShorterThanTheInterval() {
    #expect(
      problems {
        $0.watchdog.interval = .seconds(2)
        $0.watchdog.timeout = .seconds(2)
        $0.watchdog.target = [target("gw")]
      } == ["watchdog.timeout: must be shorter than the interval (2s)"])
  }

  @Test func aTargetTimeoutMustBeShorterThanItsInterval() {
    var fast = target("fast")
    fast.interval = .seconds(1)
    var slow = target("slow")
    slow.timeout = .seconds(90)
    var fine = target("fine")
    fine.interval = .seconds(10)
    fine.timeout = .seconds(5)
    #expect(
      problems { $0.watchdog.target = [fast, slow, fine] } == [
        "watchdog.target[1].timeout: must be shorter than the target's interval (1s)",
        "watchdog.target[2].timeout: must be shorter than the target's interval (1m)",
      ])
  }

  @Test func watchdogRanges() {
    #expect(
      problems {
        $0.watchdog.window = 2
        $0.watchdog.failures = 3
        $0.watchdog.successes = 0
        $0.watchdog.maxPacketsPerSecond = 0
        $0.watchdog.interval = .zero
      } == [
        "watchdog.interval: must be longer than 0s",
        "watchdog.timeout: must be shorter than the interval (0s)",
        "watchdog.failures: must be between 1 and 2, found 3",
        "watchdog.successes: must be between 1 and 100, found 0",
        "watchdog.max_packets_per_second: must be between 1 and 100000, found 0",
      ])
  }

  @Test(arguments: [
    ("icmp", ProbeSpec.icmp),
    ("ping", .icmp),
    ("ICMP", .icmp),
    ("dns", .dns),
    ("ntp", .ntp),
    ("tcp:22", .tcpSYN(port: 22)),
    ("TCP:443", .tcpSYN(port: 443)),
    ("tcp-connect:22", .tcpConnect(port: 22)),
    ("udp-openvpn:1194", .udpOpenVPN(port: 1194)),
    ("tcp-openvpn:443", .tcpOpenVPN(port: 443)),
    ("dns:probe.vigie.test", .dnsQuery(name: "probe.vigie.test")),
    ("DNS:Example.org.", .dnsQuery(name: "Example.org.")),
    ("tcp:65535", .tcpSYN(port: 65535)),
    ("http:https://example.org/health", .http(url: "https://example.org/health")),
    ("http:http://192.0.2.1:8080/", .http(url: "http://192.0.2.1:8080/")),
    ("https://example.org/", .http(url: "https://example.org/")),
    ("http://example.org", .http(url: "http://example.org")),
  ])
  func goodProbes(text: String, probe: ProbeSpec) {
    #expect(ProbeSpec.parse(text) == .success(probe))
  }

  @Test(arguments: [
    ("", "is not a probe"),
    ("tcp", "is not a probe"),
    ("tcp:", "is not a probe"),
    ("tcp:0", "\"0\" is not a port number"),
    ("tcp:65536", "\"65536\" is not a port number"),
    ("tcp:ssh", "\"ssh\" is not a port number"),
    ("tcp: 22", "\" 22\" is not a port number"),
    ("tcp-conect:22", "(did you mean 'tcp-connect'?)"),
    ("icmpp", "(did you mean 'icmp'?)"),
    (
      "udp:53",
      "is not a probe; use icmp, tcp:PORT, tcp-connect:PORT, udp-openvpn:PORT, tcp-openvpn:PORT, dns, dns:NAME, ntp or http:URL"
    ),
    ("dns:", "\"\" is not a DNS name"),
    ("dns:a..b", "\"a..b\" is not a DNS name"),
    ("dns:bad name", "\"bad name\" is not a DNS name"),
    ("http:ftp://example.org", "write an HTTP probe as http:https://host/path"),
    ("http:https://", "write an HTTP probe as http:https://host/path"),
    ("https:///path", "write an HTTP probe as http:https://host/path"),
  ])
  func badProbes(text: String, message: String) {
    guard case .failure(let got) = ProbeSpec.parse(text) else {
      Issue.record("\(text) was accepted")
      return
    }
    #expect(got.contains(message), "\(got)")
    let issues = problems { $0.watchdog.target = [target("t", probe: text)] }
    #expect(issues.count == 1)
    #expect(issues.first?.hasPrefix("watchdog.target[1].probe: ") == true)
  }

  // MARK: Phones, chat

  @Test(arguments: [
    "+33639980001", "0639980001", "+33 6 39 98 00 01", "+1 (555) 010-0199", "06.39.98.00.01", "112",
  ])
  func plausiblePhoneNumbers(number: String) {
    #expect(PhoneNumberSyntax.isPlausible(number))
  }

  @Test(arguments: [
    "", "12", "++33639980001", "33639980001+", "+33 6 39 98 00 01 ext 2", "1234567890123456",
    "٠٦٣٩", "+",
  ])
  func implausiblePhoneNumbers(number: String) {
    #expect(!PhoneNumberSyntax.isPlausible(number))
    var sender = SMSSender()
    sender.number = number
    #expect(
      problems { $0.sms.allow = [sender] } == [
        "sms.allow[1].number: \"\(number)\" is not a phone number; write it like +33612345678"
      ])
    #expect(
      problems { $0.alerts.smsNumbers = ["+33639980001", number] } == [
        "alerts.sms_numbers[2]: \"\(number)\" is not a phone number; write it like +33612345678"
      ])
  }

  @Test func aSenderListedTwice() {
    var one = SMSSender()
    one.number = "+33 6 39 98 00 01"
    var two = SMSSender()
    two.number = "+33639980001"
    #expect(
      problems { $0.sms.allow = [one, two] } == [
        "sms.allow[2].number: +33639980001 is listed twice"
      ])
  }

  @Test(arguments: ["vigie@example.org", "a@b", "alerts@conference.example.org", "él@exämple.org"])
  func bareJIDs(jid: String) {
    #expect(JIDSyntax.isBareJID(jid))
  }

  @Test(arguments: [
    "", "vigie", "@example.org", "vigie@", "a@b@c", "vigie@example.org/phone", "vi gie@example.org",
    String(repeating: "a", count: 3070) + "@b",
  ])
  func badJIDs(jid: String) {
    #expect(!JIDSyntax.isBareJID(jid))
    let shown = jid.count > 40 ? String(jid.prefix(37)) + "..." : jid
    #expect(
      problems { $0.xmpp.jid = jid }
        == (jid.isEmpty ? [] : ["xmpp.jid: \"\(shown)\" is not a JID (user@domain)"]))
    #expect(
      problems { $0.xmpp.rooms = [jid] } == [
        "xmpp.rooms[1]: \"\(shown)\" is not a room JID (room@conference.domain)"
      ])
    #expect(
      problems { $0.xmpp.notify = [jid] } == [
        "xmpp.notify[1]: \"\(shown)\" is not a JID (user@domain)"
      ])
  }

  @Test func xmppEnabledNeedsAJIDAndAPassword() {
    #expect(
      problems { $0.xmpp.enabled = true } == [
        "xmpp.password_file: a password is required: set 'xmpp.password_file'",
        "xmpp.jid: is required when [xmpp] is enabled",
      ])
  }

  @Test func xmppAllowRules() {
    var who = ChatPrincipal()
    who.account = "alice"
    #expect(
      problems { $0.xmpp.allow = [who] } == [
        "xmpp.allow[1].jid: give the bare JID (user@domain) of who may command",
        "xmpp.allow[1]: 'account' and 'hostmask' belong in [[irc.allow]]",
      ])
  }

  @Test(arguments: ["general", "#a b c", "#a,b", "#bell\u{7}", "", "@ops"])
  func badChannels(channel: String) {
    #expect(
      problems { $0.irc.channels = ["#ok", channel] } == [
        "irc.channels[2]: \"\(channel.replacingControls)\" is not a channel name (#name)"
      ])
  }

  @Test func ircEnabledNeedsAServer() {
    #expect(problems { $0.irc.enabled = true } == ["irc.server: is required when [irc] is enabled"])
    #expect(
      problems {
        $0.irc.enabled = true
        $0.irc.server = "irc.example.org"
      }.isEmpty)
  }

  @Test(arguments: ["", "1vigie", "-vigie", "vi gie", "vigie!", String(repeating: "v", count: 31)])
  func badNicks(nick: String) {
    let issues = problems { $0.irc.nick = nick }
    #expect(issues.count == 1)
    #expect(issues.first?.hasPrefix("irc.nick: ") == true)
    #expect(issues.first?.hasSuffix("is not a valid IRC nickname") == true)
  }

  @Test func ircAllowRules() {
    var nobody = ChatPrincipal()
    nobody.level = .admin
    var both = ChatPrincipal()
    both.account = "alice"
    both.hostmask = "*!*@192.0.2.7"
    var jid = ChatPrincipal()
    jid.account = "bob"
    jid.jid = "bob@example.org"
    #expect(
      problems { $0.irc.allow = [nobody, both, jid] } == [
        "irc.allow[1]: give exactly one of 'account' or 'hostmask'",
        "irc.allow[2]: give exactly one of 'account' or 'hostmask'",
        "irc.allow[3].jid: 'jid' belongs in [[xmpp.allow]]",
      ])
  }

  @Test func ports() {
    #expect(
      problems {
        $0.irc.port = 0
        $0.xmpp.port = 70000
      } == [
        "irc.port: must be between 1 and 65535, found 0",
        "xmpp.port: must be between 1 and 65535, found 70000",
      ])
  }

  // MARK: Other sections

  @Test func daemonChecks() {
    #expect(
      problems {
        $0.daemon.name = ""
        $0.daemon.stateDir = "var/lib/vigie"
        $0.daemon.runtimeDir = "/run/" + String(repeating: "x", count: 100)
        $0.daemon.shutdownTimeout = .seconds(61)
        $0.daemon.healthyAfter = .zero
        $0.daemon.restartBackoffMax = .milliseconds(500)
      } == [
        "daemon.name: must not be empty",
        "daemon.state_dir: must be an absolute path, found \"var/lib/vigie\"",
        "daemon.control_socket: the socket path is longer than 107 bytes, the limit of Unix sockets",
        "daemon.shutdown_timeout: must be at most 60s",
        "daemon.healthy_after: must be longer than 0s",
        "daemon.restart_backoff_max: must be at least 1s",
      ])
  }

  @Test func smsRanges() {
    #expect(
      problems {
        $0.sms.maxReplyParts = 11
        $0.sms.dailyBudget = -1
        $0.sms.maxCommandAge = .zero
      } == [
        "sms.max_reply_parts: must be between 1 and 10, found 11",
        "sms.daily_budget: must be between 0 and 10000, found -1",
        "sms.max_command_age: must be longer than 0s",
      ])
  }

  @Test func fileDropChecks() {
    #expect(
      problems {
        $0.filedrop.root = "drop"
        $0.filedrop.maxUploadSize = ByteSize(bytes: 0)
      } == [
        "filedrop.root: must be an absolute path, found \"drop\"",
        "filedrop.max_upload_size: must be larger than 0",
      ])
  }

  @Test func driveChecks() {
    #expect(
      problems {
        $0.drive.enabled = true
        $0.drive.apiBase = "ftp://example.org"
        $0.drive.uploadWindow = "01:00-01:00"
      } == [
        "drive.client_id: is required when [drive] is enabled",
        "drive.upload_window: \"01:00-01:00\" is not a time window; write HH:MM-HH:MM, e.g. \"22:00-07:00\"",
        "drive.api_base: must be an http:// or https:// URL",
      ])
  }

  @Test func quietHours() {
    #expect(
      problems { $0.alerts.quietHours = "22h-7h" } == [
        "alerts.quiet_hours: \"22h-7h\" is not a time window; write HH:MM-HH:MM, e.g. \"22:00-07:00\""
      ])
    #expect(problems { $0.alerts.quietHours = "22:00-07:00" }.isEmpty)
  }

  @Test(arguments: [
    ("22:00-07:00", 22 * 60, true),
    ("22:00-07:00", 23 * 60 + 59, true),
    ("22:00-07:00", 0, true),
    ("22:00-07:00", 7 * 60 - 1, true),
    ("22:00-07:00", 7 * 60, false),
    ("22:00-07:00", 12 * 60, false),
    ("08:00-18:00", 8 * 60, true),
    ("08:00-18:00", 18 * 60, false),
    ("8:00-9:30", 9 * 60 + 29, true),
    (" 08:00 - 18:00 ", 9 * 60, true),
  ])
  func timeWindows(text: String, minute: Int, inside: Bool) {
    #expect(TimeWindow(text: text)?.contains(minuteOfDay: minute) == inside)
  }

  @Test(arguments: [
    "", "08:00", "08:00-08:00", "8-9", "24:00-01:00", "08:60-09:00", "08:00-09:00-10:00",
    "080:00-09:00", "a:bc-09:00", "08:0-09:00",
  ])
  func badTimeWindows(text: String) {
    #expect(TimeWindow(text: text) == nil)
  }

  @Test func everyProblemIsReportedAtOnce() {
    let found = problems {
      $0.daemon.name = ""
      $0.modem.pin = "1"
      $0.filedrop.listen = "nowhere"
      $0.watchdog.target = [target("a", dependsOn: ["b"])]
      $0.irc.enabled = true
      $0.xmpp.jid = "nobody"
      $0.alerts.quietHours = "never"
    }
    #expect(found.count == 7, "\(found)")
  }
}

extension String {
  /// How `ConfigNode.abbreviate` shows control characters.
  var replacingControls: String {
    String(unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) })
  }
}
