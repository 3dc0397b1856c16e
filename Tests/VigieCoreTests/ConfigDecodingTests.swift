import Foundation
import Testing
import VigieCore

// MARK: - Building trees by hand

extension ConfigNode {
  static func table(line: Int? = nil, _ entries: KeyValuePairs<String, ConfigNode>) -> ConfigNode {
    ConfigNode(.table(entries.map { (key: $0.key, node: $0.value) }), line: line)
  }
  static func string(_ text: String, line: Int? = nil) -> ConfigNode {
    ConfigNode(.string(text), line: line)
  }
  static func integer(_ value: Int, line: Int? = nil) -> ConfigNode {
    ConfigNode(.integer(value), line: line)
  }
  static func bool(_ value: Bool, line: Int? = nil) -> ConfigNode {
    ConfigNode(.bool(value), line: line)
  }
  static func array(line: Int? = nil, _ items: [ConfigNode]) -> ConfigNode {
    ConfigNode(.array(items), line: line)
  }
}

/// Decodes a tree as the loader does, without validation.
func decode(_ root: ConfigNode) -> (config: VigieConfig?, issues: [ConfigIssue]) {
  var issues: [ConfigIssue] = []
  let config = VigieConfig.decode(root, path: "", issues: &issues)
  return (config, issues)
}

@Suite struct ConfigDecodingTests {
  @Test func anEmptyDocumentGivesTheDefaults() {
    let (config, issues) = decode(.emptyTable)
    #expect(config == VigieConfig())
    #expect(issues.isEmpty)
  }

  @Test func emptySectionsGiveTheDefaults() {
    let sections = VigieConfig.fields.map { (key: $0.name, node: ConfigNode.emptyTable) }
    let (config, issues) = decode(ConfigNode(.table(sections)))
    #expect(config == VigieConfig())
    #expect(issues.isEmpty)
  }

  @Test func decodesValuesOfEveryType() {
    let root = ConfigNode.table([
      "daemon": .table([
        "name": .string("house"), "log_level": .string("DEBUG"), "shutdown_timeout": .integer(10),
      ]),
      "modem": .table(["enabled": .bool(false), "poll_interval": .string("1m30s")]),
      "filedrop": .table(["max_upload_size": .string("1.5G"), "clash": .string("refuse")]),
      "irc": .table(["port": .integer(6667), "channels": .array([.string("#a"), .string("#b")])]),
      "sms": .table([
        "allow": .array([.table(["number": .string("+33639980001"), "level": .string("admin")])])
      ]),
      "watchdog": .table([
        "target": .array([
          .table(["name": .string("gw"), "host": .string("192.0.2.1")]),
          .table(["name": .string("net"), "depends_on": .array([.string("gw")])]),
        ])
      ]),
    ])
    let (config, issues) = decode(root)
    #expect(issues.isEmpty)
    var expected = VigieConfig()
    expected.daemon.name = "house"
    expected.daemon.logLevel = .debug
    expected.daemon.shutdownTimeout = .seconds(10)
    expected.modem.enabled = false
    expected.modem.pollInterval = .seconds(90)
    expected.filedrop.maxUploadSize = ByteSize(bytes: 3 << 29)
    expected.filedrop.clash = .refuse
    expected.irc.port = 6667
    expected.irc.channels = ["#a", "#b"]
    var sender = SMSSender()
    sender.number = "+33639980001"
    sender.level = .admin
    expected.sms.allow = [sender]
    var gateway = WatchTarget()
    gateway.name = "gw"
    gateway.host = "192.0.2.1"
    var internet = WatchTarget()
    internet.name = "net"
    internet.dependsOn = ["gw"]
    expected.watchdog.target = [gateway, internet]
    #expect(config == expected)
  }

  @Test func anUnknownKeyGetsAHint() {
    let root = ConfigNode.table(["modem": .table(line: 1, ["devcie": .string("auto", line: 2)])])
    let (_, issues) = decode(root)
    #expect(
      issues.map(\.description) == [
        "line 2: modem.devcie: unknown key 'devcie'; did you mean 'device'?"
      ])
  }

  @Test func anUnknownSectionGetsAHint() {
    let root = ConfigNode.table(["watchdgo": .table(line: 4, ["interval": .string("30s", line: 5)])]
    )
    let (_, issues) = decode(root)
    #expect(
      issues.map(\.description) == [
        "line 4: watchdgo: unknown key 'watchdgo'; did you mean 'watchdog'?"
      ])
  }

  @Test func anUnknownKeyFarFromAnyListsTheKeys() {
    let root = ConfigNode.table([
      "modem": .table(["frobnicate": .integer(1, line: 3)]),
      "colour": .string("blue", line: 9),
    ])
    let (_, issues) = decode(root)
    #expect(
      issues.map(\.description) == [
        "line 3: modem.frobnicate: unknown key 'frobnicate'; keys of [modem] are: enabled, device, connection, pin, pin_file, poll_interval, sms_poll_interval, command_timeout, gammu_log",
        "line 9: colour: unknown key 'colour'; the sections are: daemon, modem, sms, filedrop, drive, watchdog, irc, xmpp, alerts, leds, status",
      ])
  }

  static let enumNames =
    "one of \"trace\", \"debug\", \"info\", \"notice\", \"warning\", \"error\", \"critical\""

  static let wrongTypes: [(String, String, ConfigNode, String)] = [
    (
      "watchdog", "interval", .bool(true, line: 3),
      "line 3: watchdog.interval: expected a duration such as \"30s\" or a non-negative integer number of seconds, found boolean true"
    ),
    (
      "modem", "enabled", .string("yes", line: 2),
      "line 2: modem.enabled: expected a boolean (true or false), found string \"yes\""
    ),
    (
      "irc", "port", .string("6697", line: 4),
      "line 4: irc.port: expected an integer, found string \"6697\""
    ),
    (
      "irc", "port", ConfigNode(.float(1.5), line: 4),
      "line 4: irc.port: expected an integer, found float 1.5"
    ),
    (
      "daemon", "name", .integer(3, line: 5),
      "line 5: daemon.name: expected a string, found integer 3"
    ),
    (
      "daemon", "name", ConfigNode(.datetime("1979-05-27T07:32:00Z"), line: 5),
      "line 5: daemon.name: expected a string, found date-time 1979-05-27T07:32:00Z"
    ),
    (
      "irc", "channels", .string("#a", line: 6),
      "line 6: irc.channels: expected an array of strings, found string \"#a\""
    ),
    (
      "irc", "channels", .array(line: 6, [.string("#a", line: 6), .integer(2, line: 6)]),
      "line 6: irc.channels[2]: expected a string, found integer 2"
    ),
    (
      "daemon", "log_level", .string("infos", line: 7),
      "line 7: daemon.log_level: \"infos\" is not \(enumNames); did you mean \"info\"?"
    ),
    (
      "daemon", "log_level", .integer(3, line: 7),
      "line 7: daemon.log_level: expected \(enumNames), found integer 3"
    ),
    (
      "leds", "weak_signal_below", .string("30", line: 2),
      "line 2: leds.weak_signal_below: expected an integer, found string \"30\""
    ),
    (
      "filedrop", "max_upload_size", .bool(true, line: 8),
      "line 8: filedrop.max_upload_size: expected a size such as \"10M\" or an integer of bytes, found boolean true"
    ),
    (
      "sms", "allow", .table(line: 3, ["number": .string("+33639980001")]),
      "line 3: sms.allow: expected an array of tables, found table"
    ),
    (
      "watchdog", "target", .array(line: 2, [.string("x", line: 2)]),
      "line 2: watchdog.target[1]: expected [watchdog.target[1]] to be a table, found string \"x\""
    ),
    (
      "daemon", "name", .string("a\u{0}b", line: 2),
      "line 2: daemon.name: a NUL character is not allowed in a string"
    ),
  ]

  @Test(arguments: wrongTypes)
  func aWrongTypeNamesThePathTheTypeAndTheLine(
    section: String, key: String, node: ConfigNode, expected: String
  ) {
    let root = ConfigNode(.table([(section, ConfigNode(.table([(key, node)]), line: 1))]))
    let (_, issues) = decode(root)
    #expect(issues.map(\.description) == [expected])
  }

  @Test func aSectionThatIsNotATable() {
    let (_, issues) = decode(.table(["modem": .integer(3, line: 1)]))
    #expect(
      issues.map(\.description) == [
        "line 1: modem: expected [modem] to be a table, found integer 3"
      ])
  }

  @Test func aLongBadValueIsAbbreviatedInTheMessage() {
    let long = String(repeating: "x", count: 1_000_000)
    let (_, issues) = decode(.table(["daemon": .table(["log_level": .string(long, line: 2)])]))
    #expect(issues.count == 1)
    #expect((issues.first?.description.count ?? .max) < 200)
  }

  @Test func everyErrorIsReportedAtOnce() {
    let root = ConfigNode.table([
      "daemon": .table(line: 1, ["log_level": .string("loud", line: 2)]),
      "modem": .table(
        line: 4, ["devcie": .string("auto", line: 5), "enabled": .string("no", line: 6)]),
      "watchdog": .table(
        line: 8,
        [
          "interval": .bool(true, line: 9),
          "target": .array(
            line: 11,
            [
              .table(
                line: 11, ["name": .string("a", line: 12), "probe": .string("icmp", line: 13)]),
              .table(line: 15, ["name": .string("b", line: 16), "probe": .integer(22, line: 17)]),
            ]),
        ]),
    ])
    let (_, issues) = decode(root)
    #expect(
      issues.map(\.path) == [
        "daemon.log_level", "modem.devcie", "modem.enabled", "watchdog.interval",
        "watchdog.target[2].probe",
      ])
    #expect(issues.map(\.line) == [2, 5, 6, 9, 17])
    #expect(
      issues.last?.description
        == "line 17: watchdog.target[2].probe: expected a string, found integer 22")
  }

  @Test func linesComeFromTheLocator() {
    let source = """
      [watchdog]
      interval = "30s"

      [[watchdog.target]]
      name = "gateway"
      probe = "icmp"

      [[watchdog.target]]
      name = "internet"
      probe = 443
      """
    let tree = ConfigNode.table([
      "watchdog": .table([
        "interval": .string("30s"),
        "target": .array([
          .table(["name": .string("gateway"), "probe": .string("icmp")]),
          .table(["name": .string("internet"), "probe": .integer(443)]),
        ]),
      ])
    ])
    let (_, issues) = decode(ConfigLocator(source: source).annotate(tree))
    #expect(
      issues.map(\.description) == [
        "line 10: watchdog.target[2].probe: expected a string, found integer 443"
      ])
  }

  // MARK: Rendering

  @Test func renderingMasksSecrets() {
    var config = VigieConfig()
    config.modem.pin = "1234"
    config.irc.password = "hunter2"
    config.xmpp.password = "correct horse"
    config.drive.clientSecret = "s3cr3t"
    let text = config.renderTOML()
    for secret in ["1234", "hunter2", "correct horse", "s3cr3t"] { #expect(!text.contains(secret)) }
    #expect(text.contains("\npin = \"********\"\n"))
    #expect(text.contains("\nclient_secret = \"********\"\n"))
    #expect(text.components(separatedBy: "\npassword = \"********\"\n").count == 3)
  }

  @Test func renderingShowsEmptySecretsAsEmpty() {
    let text = VigieConfig().renderTOML()
    #expect(text.contains("\npin = \"\"\n"))
    #expect(!text.contains("********"))
  }

  @Test func renderingShowsEverySection() {
    var config = VigieConfig()
    var target = WatchTarget()
    target.name = "gw"
    config.watchdog.target = [target, target]
    let text = config.renderTOML()
    for field in VigieConfig.fields { #expect(text.contains("[\(field.name)]\n"), "\(field.name)") }
    #expect(text.components(separatedBy: "\n[[watchdog.target]]\nname = \"gw\"\n").count == 3)
    #expect(text.contains("\nallow = []\n"))
    #expect(text.hasSuffix("\n"))
    #expect(!text.hasPrefix("\n"))
  }

  @Test(arguments: [
    ("plain", "\"plain\""),
    ("a\"b", "\"a\\\"b\""),
    ("back\\slash", "\"back\\\\slash\""),
    ("two\nlines\r\tx", "\"two\\nlines\\r\\tx\""),
    ("\u{1}\u{1F}\u{7F}", "\"\\u0001\\u001F\\u007F\""),
    ("été 🚀", "\"été 🚀\""),
  ])
  func stringLiterals(text: String, literal: String) {
    #expect(text.tomlLiteral == literal)
  }

  // MARK: Reload fingerprints

  @Test func fingerprintsChangeOnlyForTheChangedSection() {
    let before = VigieConfig()
    var after = before
    after.irc.password = "new"
    after.daemon.logLevel = .debug
    for subsystem in Subsystem.allCases {
      let changed = before.fingerprint(of: subsystem) != after.fingerprint(of: subsystem)
      #expect(changed == (subsystem == .irc), "\(subsystem)")
    }
  }
}

// MARK: - The generated reference

@Suite struct ConfigReferenceTests {
  static let reference = VigieConfig.referenceMarkdown()

  @Test func hasEverySectionInOrder() {
    let headings = Self.reference.split(separator: "\n").filter { $0.hasPrefix("## ") }
    #expect(headings == VigieConfig.fields.map { "## [\($0.name)]" })
  }

  @Test func hasTheSubTables() {
    let headings = Self.reference.split(separator: "\n").filter { $0.hasPrefix("### ") }
    #expect(
      headings == [
        "### [[sms.allow]]", "### [[filedrop.user]]", "### [[watchdog.target]]", "### [[irc.allow]]",
        "### [[xmpp.allow]]", "### [[alerts.route]]", "### [leds.patterns]",
      ])
  }

  static let sections: [(String, [String])] = [
    ("## [daemon]", DaemonConfig.fields.map(\.name)),
    ("## [modem]", ModemConfig.fields.map(\.name)),
    ("## [sms]", SMSConfig.fields.map(\.name)),
    ("### [[sms.allow]]", SMSSender.fields.map(\.name)),
    ("## [filedrop]", FileDropConfig.fields.map(\.name)),
    ("### [[filedrop.user]]", DropUser.fields.map(\.name)),
    ("## [drive]", DriveConfig.fields.map(\.name)),
    ("## [watchdog]", WatchdogConfig.fields.map(\.name)),
    ("### [[watchdog.target]]", WatchTarget.fields.map(\.name)),
    ("## [irc]", IRCConfig.fields.map(\.name)),
    ("### [[irc.allow]]", ChatPrincipal.fields.map(\.name)),
    ("## [xmpp]", XMPPConfig.fields.map(\.name)),
    ("### [[xmpp.allow]]", ChatPrincipal.fields.map(\.name)),
    ("## [alerts]", AlertsConfig.fields.map(\.name)),
    ("### [[alerts.route]]", AlertRoute.fields.map(\.name)),
    ("## [leds]", LEDsConfig.fields.map(\.name)),
    ("### [leds.patterns]", LEDPatternsConfig.fields.map(\.name)),
    ("## [status]", StatusConfig.fields.map(\.name)),
  ]

  @Test(arguments: sections)
  func listsEveryKeyOfEachTable(heading: String, keys: [String]) {
    let blocks = Self.reference.components(separatedBy: "\n\n")
    guard let index = blocks.firstIndex(of: heading) else {
      Issue.record("no heading \(heading)")
      return
    }
    // heading, description, table
    let rows = blocks[index + 2].split(separator: "\n")
    #expect(
      rows.prefix(2) == ["| key | type | default | description |", "| --- | --- | --- | --- |"])
    #expect(rows.dropFirst(2).map { $0.split(separator: "`")[1] } == keys.map { Substring($0) })
    for row in rows {
      let cells = row.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count
      #expect(cells == 5, "\(row)")
    }
  }

  @Test(arguments: [
    "| `name` | string | `\"vigie\"` | Name of this site, shown in alerts, STATUS and the status page. |",
    "| `log_level` | one of \"trace\", \"debug\", \"info\", \"notice\", \"warning\", \"error\", \"critical\" | `\"info\"` | Lowest level logged. |",
    "| `pin` | string | `\"\"` | SIM PIN. Prefer `pin_file`. |",
    "| `shutdown_timeout` | duration | `\"5s\"` | How long services get to stop on SIGTERM before the daemon exits anyway. |",
    "| `max_upload_size` | size | `\"4G\"` | Largest single upload. |",
    "| `port` | integer | `6697` | IRC server port. |",
    "| `channels` | array of strings | `[]` | Channels to join and send alerts to; `\"#chan key\"` joins with a channel key. |",
    "| `probe` | string | `\"icmp\"` | `icmp`, `tcp:PORT`, `tcp-connect:PORT`, `udp-openvpn:PORT`, `tcp-openvpn:PORT`, `dns`, `dns:NAME`, `ntp` or `http:URL`. |",
    "| `interval` | duration | `\"0s\"` | Probe interval; 0 means `[watchdog] interval`. |",
    "| `target` | array of tables | `[]` | Targets to watch (`[[watchdog.target]]`). See `[[watchdog.target]]` below. |",
  ])
  func rendersRows(row: String) {
    #expect(Self.reference.split(separator: "\n").contains(Substring(row)), "\(row)")
  }

  @Test func endsWithOneNewline() {
    #expect(Self.reference.hasSuffix("|\n"))
    #expect(!Self.reference.contains("\n\n\n"))
  }

  /// docs/configuration.md embeds the reference; it must match the code.
  /// With `VIGIE_UPDATE_CONFIG_DOCS=1` in the environment the test rewrites
  /// the generated part instead (scripts/gen-config-docs uses this until
  /// `vigie config reference` exists).
  @Test func documentationIsUpToDate() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent()
      .deletingLastPathComponent()
    let file = root.appendingPathComponent("docs/configuration.md")
    let text = try String(contentsOf: file, encoding: .utf8)
    let begin = "<!-- BEGIN GENERATED REFERENCE -->\n"
    let end = "<!-- END GENERATED REFERENCE -->"
    guard let start = text.range(of: begin),
      let stop = text.range(of: end, range: start.upperBound..<text.endIndex)
    else {
      Issue.record("docs/configuration.md has lost its markers \(begin.dropLast()) and \(end)")
      return
    }
    let embedded = String(text[start.upperBound..<stop.lowerBound])
    if ProcessInfo.processInfo.environment["VIGIE_UPDATE_CONFIG_DOCS"] == "1" {
      if embedded != Self.reference {
        let updated = text[..<start.upperBound] + Self.reference + text[stop.lowerBound...]
        try updated.write(to: file, atomically: true, encoding: .utf8)
      }
      return
    }
    if embedded != Self.reference {
      let old = embedded.split(separator: "\n", omittingEmptySubsequences: false)
      let new = Self.reference.split(separator: "\n", omittingEmptySubsequences: false)
      let line =
        zip(old, new).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset
        ?? min(old.count, new.count)
      Issue.record(
        """
        docs/configuration.md is out of date: run scripts/gen-config-docs
        (first difference at line \(line + 1) of the generated part: \
        \(line < old.count ? "\"\(old[line])\"" : "end of file") should be \
        \(line < new.count ? "\"\(new[line])\"" : "end of file"))
        """)
    }
  }
}
