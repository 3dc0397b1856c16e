import Testing
import VigieCore

@Suite struct ConfigLocatorTests {
  static let document = """
    # Vigie configuration
    title = "x"

    [daemon]
    name = "house"   # [modem] in a comment is not a header
    state_dir = '/var/lib/vigie'

    [modem]
    device = "auto"
    "pin_file" = "/etc/vigie/pin"
    poll_interval="1m"

    [sms]
    notes = \"\"\"
    a multi-line string with [brackets],
    key = "value" lines and # signs
    \"\"\"
    max_reply_parts = 3
    literal = '''
    [not.a.header]
    '''
    daily_budget = 50

    [[sms.allow]]
    number = "+33639980001"

    [[sms.allow]]
    level = "admin"
    number = "+33639980002"

    [watchdog]
    interval = "30s"
    extra = [
      "a", # comment with ]
      "b]",
      { name = "x" },
    ]
    timeout = "2s"

    [[watchdog.target]]
    name = "gateway"
    host = "192.0.2.1"

    [watchdog.target.options]
    ttl = 3

    [[watchdog.target]]
    name = "internet"
    probe = "tcp:22"
    depends_on = ["gateway"]

    [irc]
    channels = ["#a", "#b"]
    allow = [ { account = "alice" }, { account = "bob" } ]
    xmpp.jid = "vigie@example.org"
    a.b.c = 1
    "quoted.key" = 2
    'lit' = 3
    """

  @Test(arguments: [
    ("title", 2),
    ("daemon", 4),
    ("daemon.name", 5),
    ("daemon.state_dir", 6),
    ("modem", 8),
    ("modem.device", 9),
    ("modem.pin_file", 10),
    ("modem.poll_interval", 11),
    ("sms", 13),
    ("sms.notes", 14),
    ("sms.max_reply_parts", 18),
    ("sms.literal", 19),
    ("sms.daily_budget", 22),
    ("sms.allow", 24),
    ("sms.allow[1]", 24),
    ("sms.allow[1].number", 25),
    ("sms.allow[2]", 27),
    ("sms.allow[2].level", 28),
    ("sms.allow[2].number", 29),
    ("watchdog", 31),
    ("watchdog.interval", 32),
    ("watchdog.extra", 33),
    ("watchdog.timeout", 38),
    ("watchdog.target", 40),
    ("watchdog.target[1].name", 41),
    ("watchdog.target[1].host", 42),
    ("watchdog.target[1].options", 44),
    ("watchdog.target[1].options.ttl", 45),
    ("watchdog.target[2]", 47),
    ("watchdog.target[2].name", 48),
    ("watchdog.target[2].probe", 49),
    ("watchdog.target[2].depends_on", 50),
    ("irc.channels", 53),
    ("irc.allow", 54),
    ("irc.xmpp", 55),
    ("irc.xmpp.jid", 55),
    ("irc.a.b.c", 56),
    ("irc.quoted.key", 57),
    ("irc.lit", 58),
  ])
  func findsTheLineOfEachKey(path: String, line: Int) {
    #expect(ConfigLocator(source: Self.document).line(for: path) == line)
  }

  @Test(arguments: [
    ("modem.unknown", 8),  // the enclosing table
    ("irc.channels[2]", 53),  // an item of an array of values: the key's line
    ("irc.allow[2].account", 54),  // inline tables: the key's line
    ("watchdog.target[2].interval", 47),  // not written: the [[watchdog.target]] header
    ("watchdog.target[3].name", 40),  // no third target: the first header
    ("nothing.here", nil),
    ("", nil),
  ])
  func fallsBackToTheEnclosingTable(path: String, line: Int?) {
    #expect(ConfigLocator(source: Self.document).line(for: path) == line)
  }

  @Test func tablesDefinedBySubTableHeaders() {
    let locator = ConfigLocator(
      source:
        "[[watchdgo.target]]\nname = \"a\"\n\n[a.b.c]\nx = 1\n\n[a]\ny = 2\n\n[[w.t]]\n[w]\n[[w.t]]\n"
    )
    #expect(locator.line(for: "watchdgo") == 1)
    #expect(locator.line(for: "watchdgo.target") == 1)
    #expect(locator.line(for: "a") == 7)
    #expect(locator.line(for: "a.b") == 4)
    #expect(locator.line(for: "a.b.c.x") == 5)
    #expect(locator.line(for: "w") == 11)
    #expect(locator.line(for: "w.t") == 10)
    #expect(locator.line(for: "w.t[2]") == 12)
  }

  @Test func crlfLineEndingsKeepLinesRight() {
    let source = Self.document.replacingAll("\n", with: "\r\n")
    let locator = ConfigLocator(source: source)
    #expect(locator.line(for: "modem.device") == 9)
    #expect(locator.line(for: "sms.daily_budget") == 22)
    #expect(locator.line(for: "watchdog.target[2].probe") == 49)
    #expect(locator.line(for: "irc.lit") == 58)
  }

  @Test func mixedLineEndings() {
    let locator = ConfigLocator(
      source: "[modem]\r\ndevice = \"auto\"\n\r\n[sms]\nenabled = true\r\n")
    #expect(locator.line(for: "modem.device") == 2)
    #expect(locator.line(for: "sms.enabled") == 5)
  }

  @Test func aByteOrderMarkIsIgnored() {
    let locator = ConfigLocator(source: "\u{FEFF}[modem]\ndevice = \"auto\"\n")
    #expect(locator.line(for: "modem") == 1)
    #expect(locator.line(for: "modem.device") == 2)
  }

  @Test func combiningCharactersDoNotHideQuotes() {
    // U+0301 right after a quote forms one Character with it in Swift.
    let source =
      "[daemon]\nname = \"\u{301}[\"\nmulti = \"\"\"\u{301}\n[x]\"\"\"\u{301}\nstate_dir = \"/a\"\n"
    let locator = ConfigLocator(source: source)
    #expect(locator.line(for: "daemon.name") == 2)
    #expect(locator.line(for: "daemon.multi") == 3)
    #expect(locator.line(for: "daemon.state_dir") == 5)
  }

  @Test func escapedQuotesInStrings() {
    let source = "[a]\nx = \"a\\\"[b]\"\ny = \"\"\"\\\"\"\"\"\nz = 1\n"
    let locator = ConfigLocator(source: source)
    #expect(locator.line(for: "a.x") == 2)
    #expect(locator.line(for: "a.y") == 3)
    #expect(locator.line(for: "a.z") == 4)
  }

  @Test func escapesInQuotedKeys() {
    let locator = ConfigLocator(
      source: "[a]\n\"caf\\u00E9\" = 1\n\"tab\\there\" = 2\n\"\\U0001F680\" = 3\n")
    #expect(locator.line(for: "a.café") == 2)
    #expect(locator.line(for: "a.tab\there") == 3)
    #expect(locator.line(for: "a.🚀") == 4)
    #expect(locator.nulEscapes.isEmpty)
  }

  @Test(arguments: [
    ("[a]\nx = \"\\u0000\"\n", ["line 2: a.x: a NUL character is not allowed in a string"]),
    ("[a]\nx = \"ab\\U00000000\"\n", ["line 2: a.x: a NUL character is not allowed in a string"]),
    (
      "[a]\nx = [\n  \"ok\",\n  \"\\u0000\",\n]\n",
      ["line 4: a.x: a NUL character is not allowed in a string"]
    ),
    (
      "[a]\nx = \"\"\"\n\\u0000\"\"\"\n",
      ["line 3: a.x: a NUL character is not allowed in a string"]
    ),
    ("[a]\n\"k\\u0000\" = 1\n", ["line 2: a.k?: a NUL character is not allowed in a key"]),
    ("[\"t\\u0000\"]\n", ["line 1: t?: a NUL character is not allowed in a key"]),
    ("[a]\nx = 'a\\u0000'\n", []),
    ("[a]\nx = '''\\u0000'''\n", []),
    ("[a]\nx = \"\\\\u0000\"\n", []),
    ("[a]\nx = \"\\u00001\"\n", ["line 2: a.x: a NUL character is not allowed in a string"]),
    ("[a]\nx = \"\\u0001\"\n", []),
    ("[a]\n# x = \"\\u0000\"\n", []),
  ])
  func findsNulEscapes(source: String, issues: [String]) {
    #expect(ConfigLocator(source: source).nulEscapes.map(\.description) == issues)
  }

  @Test func quotesBeforeTheClosingDelimiter() {
    let source = "[a]\nx = [\"\"\"q\"\"\"\", \"[\"]\ny = 1\n"
    #expect(ConfigLocator(source: source).line(for: "a.y") == 3)
  }

  @Test func annotatesATree() {
    let source = """
      [watchdog]
      interval = "30s"

      [[watchdog.target]]
      name = "a"

      [[watchdog.target]]
      name = "b"
      depends_on = ["a",
        "c"]
      """
    let target = { (name: String) in ConfigNode(.table([("name", ConfigNode(.string(name)))])) }
    var second = target("b")
    if case .table(var entries) = second.value {
      entries.append(
        ("depends_on", ConfigNode(.array([ConfigNode(.string("a")), ConfigNode(.string("c"))]))))
      second.value = .table(entries)
    }
    let tree = ConfigNode(
      .table([
        (
          "watchdog",
          ConfigNode(
            .table([
              ("interval", ConfigNode(.string("30s"))),
              ("target", ConfigNode(.array([target("a"), second]))),
            ]))
        )
      ]))
    let annotated = ConfigLocator(source: source).annotate(tree)
    #expect(annotated.line == nil)
    guard case .table(let root) = annotated.value, case .table(let watchdog) = root[0].node.value,
      case .array(let targets) = watchdog[1].node.value, case .table(let b) = targets[1].value,
      case .array(let parents) = b[1].node.value
    else {
      Issue.record("unexpected shape")
      return
    }
    #expect(root[0].node.line == 1)
    #expect(watchdog[0].node.line == 2)
    #expect(watchdog[1].node.line == 4)
    #expect(targets.map(\.line) == [4, 7])
    #expect(b[0].node.line == 8)
    #expect(parents.map(\.line) == [9, 9])
  }

  @Test(arguments: [
    "",
    "[",
    "[[",
    "= 1",
    "[a.]\nb = 1",
    "a = \"unterminated",
    "a = \"\"\"\nnever closed",
    "a = [[[[[[",
    String(repeating: "[", count: 100_000),
    String(repeating: "a.", count: 2000) + "b = 1",
    "\u{0}\u{1}\u{7F}\u{FFFF}",
    "[\"\\",
  ])
  func neverFailsOnStrangeText(source: String) {
    // The locator runs after the parser accepted the document, but it must
    // not crash on anything.
    _ = ConfigLocator(source: source).line(for: "a.b")
  }

  @Test func findsLinesInALongDocumentQuickly() {
    var source = ""
    for index in 1...5000 { source += "[[watchdog.target]]\nname = \"t\(index)\"\n" }
    let locator = ConfigLocator(source: source)
    #expect(locator.line(for: "watchdog.target[5000].name") == 10_000)
  }
}

extension String {
  /// `replacing(_:with:)` without Foundation or the 6.0 runtime requirement.
  func replacingAll(_ target: Character, with replacement: String) -> String {
    var out = ""
    for character in self {
      if character == target { out += replacement } else { out.append(character) }
    }
    return out
  }
}
