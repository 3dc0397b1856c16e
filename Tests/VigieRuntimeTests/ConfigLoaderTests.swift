import Foundation
import Testing
import VigieCore
import VigieRuntime

/// The problems `ConfigLoader.parse` reports for `text`, or [] if it loads.
func parseProblems(_ text: String) -> [String] {
  do throws(ConfigError) {
    _ = try ConfigLoader.parse(text)
    return []
  } catch {
    return error.issues.map(\.description)
  }
}

/// The package root, found from this file.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent()
  .deletingLastPathComponent()

/// `ConfigLoader`: parsing text, and loading files.
@Suite enum ConfigLoaderTests {}

extension ConfigLoaderTests {
  @Suite struct Parsing {
    @Test(arguments: ["", "\n", "   \n\t\n", "# only a comment\n", "\r\n"])
    func anEmptyFileGivesTheDefaults(text: String) throws {
      let loaded = try ConfigLoader.parse(text)
      #expect(loaded.config == VigieConfig())
      #expect(loaded.warnings.isEmpty)
    }

    @Test func readsValues() throws {
      let loaded = try ConfigLoader.parse(
        """
        [daemon]
        name = "house"
        log_level = "debug"

        [watchdog]
        interval = "30s"
        timeout = 5

        [[watchdog.target]]
        name = "gateway"
        host = "192.0.2.1"

        [[watchdog.target]]
        name = "internet"
        host = "198.51.100.7"
        probe = "tcp:22"
        depends_on = ["gateway"]
        """)
      #expect(loaded.config.daemon.name == "house")
      #expect(loaded.config.daemon.logLevel == .debug)
      #expect(loaded.config.watchdog.interval == .seconds(30))
      #expect(loaded.config.watchdog.timeout == .seconds(5))
      #expect(loaded.config.watchdog.target.map(\.name) == ["gateway", "internet"])
      #expect(loaded.config.watchdog.target[1].dependsOn == ["gateway"])
    }

    @Test func anUnknownKeyGetsAHintAndItsLine() {
      #expect(
        parseProblems("# Vigie\n[modem]\ndevcie = \"auto\"\n") == [
          "line 3: modem.devcie: unknown key 'devcie'; did you mean 'device'?"
        ])
    }

    @Test func anUnknownSectionGetsAHint() {
      #expect(
        parseProblems("[daemon]\nname = \"x\"\n\n[watchdgo]\ninterval = \"30s\"\n") == [
          "line 4: watchdgo: unknown key 'watchdgo'; did you mean 'watchdog'?"
        ])
    }

    @Test func anUnknownSectionOnlyNamedInASubTableHeader() {
      #expect(
        parseProblems("[daemon]\nname = \"x\"\n\n[[watchdgo.target]]\nname = \"a\"\n") == [
          "line 4: watchdgo: unknown key 'watchdgo'; did you mean 'watchdog'?"
        ])
    }

    @Test func aWrongTypeNamesThePathTheTypeAndTheLine() {
      #expect(
        parseProblems("[daemon]\nname = \"x\"\n\n[watchdog]\ninterval = true\n") == [
          "line 5: watchdog.interval: expected a duration such as \"30s\" or a non-negative integer number of seconds, found boolean true"
        ])
    }

    @Test func aDateIsNotAString() {
      let problems = parseProblems("[daemon]\nname = 1979-05-27T07:32:00Z\n")
      #expect(problems.count == 1)
      #expect(
        problems.first?.hasPrefix(
          "line 2: daemon.name: expected a string, found date-time 1979-05-27") == true,
        "\(problems)"
      )
    }

    @Test func everyErrorIsReportedAtOnceSortedByLine() {
      let problems = parseProblems(
        """
        [watchdog]
        interval = "5x"

        [[watchdog.target]]
        name = "a"
        host = "192.0.2.1"
        depends_on = ["router"]

        [daemon]
        log_level = "infos"
        naem = "x"

        [alerts]
        quiet_hours = "night"

        [modem]
        enabled = "yes"
        """)
      #expect(
        problems == [
          "line 2: watchdog.interval: \"5x\" is not a duration; write e.g. \"500ms\", \"30s\", \"5m\", \"2h\", \"1d\" or \"1h30m\"",
          "line 7: watchdog.target[1].depends_on: no target is named 'router'",
          "line 10: daemon.log_level: \"infos\" is not one of \"trace\", \"debug\", \"info\", \"notice\", \"warning\", \"error\", \"critical\"; did you mean \"info\"?",
          "line 11: daemon.naem: unknown key 'naem'; did you mean 'name'?",
          "line 14: alerts.quiet_hours: \"night\" is not a time window; write HH:MM-HH:MM, e.g. \"22:00-07:00\"",
          "line 17: modem.enabled: expected a boolean (true or false), found string \"yes\"",
        ])
    }

    @Test func anErrorInTheSecondTargetNamesIt() {
      let problems = parseProblems(
        """
        [[watchdog.target]]
        name = "gateway"
        host = "192.0.2.1"

        [[watchdog.target]]
        name = "internet"
        host = "198.51.100.7"
        probe = "tcp-conect:22"
        """)
      #expect(problems.count == 1)
      #expect(
        problems.first?.hasPrefix(
          "line 8: watchdog.target[2].probe: \"tcp-conect:22\" is not a probe") == true)
      #expect(problems.first?.hasSuffix("(did you mean 'tcp-connect'?)") == true)
    }

    @Test func validationProblemsHaveLines() {
      #expect(
        parseProblems(
          """
          [modem]
          pin = "1234"
          pin_file = "/etc/vigie/pin"

          [filedrop]
          listen = "localhost"

          [[watchdog.target]]
          name = "gateway"
          host = "192.0.2.1"

          [[watchdog.target]]
          name = "gateway"
          host = "192.0.2.2"
          depends_on = ["gatway"]

          [irc]
          enabled = true
          channels = ["general"]
          """) == [
            "line 2: modem.pin: give either 'pin' or 'pin_file', not both",
            "line 6: filedrop.listen: \"localhost\" is not host:port, e.g. 0.0.0.0:8080 or [::]:8080",
            "line 13: watchdog.target[2].name: 'gateway' is already the name of target 1",
            "line 15: watchdog.target[2].depends_on: no target is named 'gatway'; did you mean 'gateway'?",
            "line 17: irc.server: is required when [irc] is enabled",
            "line 19: irc.channels[1]: \"general\" is not a channel name (#name)",
          ])
    }

    @Test func aDependencyCycle() {
      #expect(
        parseProblems(
          """
          [[watchdog.target]]
          name = "a"
          host = "192.0.2.1"
          depends_on = ["b"]

          [[watchdog.target]]
          name = "b"
          host = "192.0.2.2"
          depends_on = ["a"]
          """) == ["line 4: watchdog.target[1].depends_on: dependency cycle: a -> b -> a"])
    }

    // MARK: TOML syntax

    @Test func aSyntaxErrorHasALineAndAColumn() {
      let problems = parseProblems("[modem]\ndevice = \"auto\nenabled = true\n")
      #expect(problems.count == 1)
      #expect(
        problems.first?.hasPrefix("line 2: TOML syntax error at column ") == true, "\(problems)")
    }

    @Test(arguments: [
      ("[modem]\ndevice = \"a\"\ndevice = \"b\"\n", 3),
      ("[modem]\nenabled = true\n\n[modem]\n", 4),
      ("[modem]\nenabled = true\nenabled.x = 1\n", 3),
      ("[daemon]\nname = \"x\"\nname = 'x'\n", 3),
    ])
    func aRepeatedKeyIsASyntaxError(text: String, line: Int) {
      let problems = parseProblems(text)
      #expect(problems.count == 1)
      #expect(
        problems.first?.hasPrefix("line \(line): TOML syntax error at column ") == true,
        "\(problems)"
      )
    }

    @Test(arguments: [
      "[modem", "device = ", "= 1", "a = 1 b = 2", "[[]]", "x = [1,,2]", "x = 1979-13-45", "x = 0x",
      "x = \"\\q\"",
      "x = \"\u{1}\"", "[a]\n[a.b]\n[a]\n", "x = {a = 1,}", "x = 9223372036854775808",
    ])
    func syntaxErrors(text: String) {
      let problems = parseProblems(text)
      #expect(problems.count == 1)
      #expect(problems.first?.contains("TOML syntax error") == true, "\(problems)")
    }

    @Test func crlfLineEndingsKeepLinesRight() {
      let text = "# Vigie\r\n[daemon]\r\nname = \"x\"\r\n\r\n[watchdog]\r\ninterval = true\r\n"
      #expect(
        parseProblems(text) == [
          "line 6: watchdog.interval: expected a duration such as \"30s\" or a non-negative integer number of seconds, found boolean true"
        ])
      #expect(
        parseProblems("[modem]\r\ndevcie = \"auto\"\r\n") == [
          "line 2: modem.devcie: unknown key 'devcie'; did you mean 'device'?"
        ])
    }

    @Test func aByteOrderMarkIsAccepted() throws {
      #expect(try ConfigLoader.parse("\u{FEFF}[daemon]\nname = \"x\"\n").config.daemon.name == "x")
      #expect(
        parseProblems("\u{FEFF}[modem]\ndevcie = \"auto\"\n") == [
          "line 2: modem.devcie: unknown key 'devcie'; did you mean 'device'?"
        ])
    }

    // MARK: Hostile input

    @Test func aOneMegabyteString() throws {
      let long = String(repeating: "x", count: 1 << 20)
      #expect(try ConfigLoader.parse("[daemon]\nname = \"\(long)\"\n").config.daemon.name == long)
      let problems = parseProblems("[daemon]\nlog_level = \"\(long)\"\n")
      #expect(problems.count == 1)
      #expect((problems.first?.count ?? .max) < 300)
      #expect(problems.first?.hasPrefix("line 2: daemon.log_level: ") == true)
    }

    @Test func aOneMegabyteKey() {
      let long = String(repeating: "k", count: 1 << 20)
      let problems = parseProblems("[daemon]\n\(long) = 1\n")
      #expect(problems.count == 1)
      #expect(problems.first?.hasPrefix("line 2: daemon.kkkk") == true)
    }

    @Test(arguments: [
      "x = " + String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000),
      "x = " + String(repeating: "{a = ", count: 2000) + "1" + String(repeating: "}", count: 2000),
      "x = " + String(repeating: "[{a = ", count: 1000) + "1"
        + String(repeating: "}]", count: 1000),
    ])
    func deepNestingIsRefusedCleanly(text: String) {
      let problems = parseProblems(text)
      #expect(problems.count == 1)
      #expect(
        problems.first?.contains("TOML syntax error") == true,
        "\(problems.first?.prefix(200) ?? "")")
    }

    @Test(arguments: [
      "[daemon]\nextra = " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        + "\n",
      "[daemon]\nextra = " + String(repeating: "{a = ", count: 200) + "1"
        + String(repeating: "}", count: 200) + "\n",
      "[daemon]\n" + Array(repeating: "a", count: 2000).joined(separator: ".") + " = 1\n",
      "[" + Array(repeating: "a", count: 2000).joined(separator: ".") + "]\n",
    ])
    func deepButAcceptedNestingIsAnUnknownKey(text: String) {
      let problems = parseProblems(text)
      #expect(problems.count == 1)
      #expect(
        problems.first?.contains("unknown key") == true
          || problems.first?.contains("TOML syntax error") == true)
    }

    @Test(arguments: [
      (
        "[daemon]\nname = \"a\\u0000b\"\n",
        "line 2: daemon.name: a NUL character is not allowed in a string"
      ),
      (
        "[daemon]\nname = \"\\U00000000\"\n",
        "line 2: daemon.name: a NUL character is not allowed in a string"
      ),
      (
        "[daemon]\nname = \"\"\"\nab\\u0000\n\"\"\"\n",
        "line 3: daemon.name: a NUL character is not allowed in a string"
      ),
      (
        "[modem]\n\"device\\u0000x\" = \"auto\"\n",
        "line 2: modem.device?x: a NUL character is not allowed in a key"
      ),
      (
        "[irc]\nchannels = [\n  \"#a\",\n  \"#b\\u0000\",\n]\n",
        "line 4: irc.channels: a NUL character is not allowed in a string"
      ),
    ])
    func nulEscapesAreRefused(text: String, problem: String) {
      #expect(parseProblems(text) == [problem])
    }

    @Test(arguments: [
      ("name = 'a\\u0000b'", "a\\u0000b"),  // literal strings have no escapes
      ("name = \"a\\\\u0000b\"", "a\\u0000b"),  // an escaped backslash
      ("name = '''\\u0000'''", "\\u0000"),
    ])
    func textThatOnlyLooksLikeANulEscape(line: String, name: String) throws {
      #expect(try ConfigLoader.parse("[daemon]\n\(line)\n").config.daemon.name == name)
    }

    @Test func aRawNulByteIsRefused() {
      #expect(
        parseProblems("[daemon]\nname = \"x\"\n\u{0}\n[modem]\ndevcie = 1\n") == [
          "line 3: TOML syntax error at column 1: a NUL byte is not allowed in a configuration file"
        ])
    }

    // MARK: Round trip

    @Test func renderingMasksSecrets() throws {
      let loaded = try ConfigLoader.parse("[modem]\npin = \"1234\"\n")
      let text = loaded.config.renderTOML()
      #expect(text.contains("\npin = \"********\"\n"))
      #expect(!text.contains("1234"))
    }

    @Test func theDefaultsRoundTrip() throws {
      #expect(try ConfigLoader.parse(VigieConfig().renderTOML()).config == VigieConfig())
    }

    @Test func aFullConfigurationRoundTrips() throws {
      var config = VigieConfig()
      config.daemon.name = "Maison \"Les Pins\"\nété \\ 🚀 \u{1}"
      config.daemon.logLevel = .debug
      config.daemon.restartBackoffMax = .milliseconds(90_500)
      config.modem.enabled = false
      config.modem.pinFile = "/etc/vigie/pin"
      config.modem.device = "/dev/serial/by-id/usb-HUAWEI_Mobile-if00-port0"
      var alice = SMSSender()
      alice.number = "+33639980001"
      alice.level = .admin
      var bob = SMSSender()
      bob.number = "+33639980002"
      config.sms.allow = [alice, bob]
      config.sms.dailyBudget = 0
      config.filedrop.maxUploadSize = ByteSize(bytes: 1025)
      config.filedrop.freeSpaceReserve = ByteSize(bytes: 3 << 29)
      config.filedrop.clash = .overwrite
      config.drive.cacheSize = ByteSize(bytes: (1 << 60) + 1)
      config.drive.uploadWindow = "01:00-06:00"
      var gateway = WatchTarget()
      gateway.name = "gateway"
      gateway.host = "192.0.2.1"
      var internet = WatchTarget()
      internet.name = "internet"
      internet.host = "198.51.100.7"
      internet.probe = "udp-openvpn:1194"
      internet.interval = .seconds(5400)
      internet.timeout = .milliseconds(1500)
      internet.dependsOn = ["gateway"]
      config.watchdog.target = [gateway, internet]
      config.irc.channels = ["#vigie", "#ops"]
      var carol = ChatPrincipal()
      carol.account = "carol"
      carol.level = .operate
      config.irc.allow = [carol]
      var dave = ChatPrincipal()
      dave.jid = "dave@example.org"
      config.xmpp.allow = [dave]
      config.xmpp.notify = ["erin@example.org"]
      config.alerts.smsNumbers = ["+33639980001"]
      config.sms.totpSecretFile = "/etc/vigie/sms-totp"
      config.leds.alert = "gpio:5:active-low"
      config.status.listen = "[::]:9100"
      #expect(config.validate().isEmpty)
      let text = config.renderTOML()
      let reparsed = try ConfigLoader.parse(text).config
      #expect(reparsed == config, "\(text)")
    }

    // MARK: Examples

    static let examples = ["docs/examples/vigie.toml", "docs/examples/demo.toml"]

    @Test(arguments: examples)
    func theExamplesLoad(path: String) throws {
      let text = try String(contentsOf: packageRoot.appendingPathComponent(path), encoding: .utf8)
      let loaded = try ConfigLoader.parse(text, file: path)
      #expect(loaded.warnings.isEmpty)
    }

    @Test func theDemoConfigurationRunsWithoutHardware() throws {
      let text = try String(
        contentsOf: packageRoot.appendingPathComponent("docs/examples/demo.toml"), encoding: .utf8)
      let config = try ConfigLoader.parse(text).config
      #expect(config.daemon.stateDir == "/tmp/vigie-demo/state")
      #expect(config.daemon.runtimeDir == "/tmp/vigie-demo/run")
      #expect(
        !config.modem.enabled && !config.sms.enabled && !config.drive.enabled
          && !config.leds.enabled)
      #expect(!config.irc.enabled && !config.xmpp.enabled)
      #expect(config.alerts.enabled && config.filedrop.enabled && config.watchdog.enabled)
      #expect(config.filedrop.listen == "127.0.0.1:8080")
      #expect(config.filedrop.root == "/tmp/vigie-demo/drop")
      #expect(config.watchdog.interval == .seconds(10))
      #expect(config.watchdog.target.map(\.name) == ["loopback", "ssh"])
      #expect(config.watchdog.target.map(\.host) == ["127.0.0.1", "127.0.0.1"])
      #expect(config.watchdog.target.map(\.probe) == ["icmp", "tcp-connect:22"])
      #expect(config.watchdog.target[1].dependsOn == ["loopback"])
    }

    /// The full example shows every key of the reference, written in its table
    /// or, for keys that cannot be set there together with the others (`pin`
    /// beside `pin_file`, `account` in `[[xmpp.allow]]`), as `key =` in a comment.
    @Test func theFullExampleHasEveryKey() throws {
      let text = try String(
        contentsOf: packageRoot.appendingPathComponent("docs/examples/vigie.toml"), encoding: .utf8)
      let locator = ConfigLocator(source: text)
      let comments = text.split(separator: "\n").compactMap { line in
        line.firstIndex(of: "#").map { line[$0...] }
      }
      func commented(_ key: String) -> Bool {
        comments.contains { comment in
          comment.ranges(of: key + " =").contains { range in
            range.lowerBound == comment.startIndex
              || !(comment[comment.index(before: range.lowerBound)].isLetter
                || comment[comment.index(before: range.lowerBound)] == "_")
          }
        }
      }
      var table = ""
      for line in VigieConfig.referenceMarkdown().split(separator: "\n") {
        if line.hasPrefix("## [") {
          table = String(line.dropFirst(4).dropLast())
        } else if line.hasPrefix("### [[") {
          table = String(line.dropFirst(6).dropLast(2)) + "[1]"
        } else if line.hasPrefix("### [") {
          table = String(line.dropFirst(5).dropLast())
        } else if line.hasPrefix("| `") {
          let key = String(line.split(separator: "`")[1])
          let written = locator.line(for: "\(table).\(key)")
          #expect(
            written != nil && written != locator.line(for: table) || commented(key),
            "\(table).\(key)"
          )
        }
      }
    }
  }
}

// MARK: - Files

/// A fresh directory, removed after `body`.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
    "vigie-config-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: directory) }
  return try body(directory)
}

/// Writes `text` to `name` in `directory` with `mode` and returns its path.
@discardableResult
func write(_ text: String, to name: String, in directory: URL, mode: Int = 0o600) throws -> String {
  let url = directory.appendingPathComponent(name)
  try Data(text.utf8).write(to: url)
  try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
  return url.path
}

/// The problems `ConfigLoader.load` reports for `path`, or [] if it loads.
func loadProblems(_ path: String) -> [String] {
  do throws(ConfigError) {
    _ = try ConfigLoader.load(path: path)
    return []
  } catch {
    return error.issues.map(\.description)
  }
}

extension ConfigLoaderTests {
  @Suite struct Files {
    @Test func loadsAFile() throws {
      try withTemporaryDirectory { directory in
        let path = try write(
          "[daemon]\nname = \"house\"\n", to: "vigie.toml", in: directory, mode: 0o644)
        let loaded = try ConfigLoader.load(path: path)
        #expect(loaded.config.daemon.name == "house")
        #expect(loaded.file == path)
        #expect(loaded.warnings.isEmpty)
      }
    }

    @Test func aMissingFileNamedExplicitlyIsAnError() throws {
      try withTemporaryDirectory { directory in
        let path = directory.appendingPathComponent("nope.toml").path
        do throws(ConfigError) {
          _ = try ConfigLoader.load(path: path)
          Issue.record("loaded a missing file")
        } catch {
          #expect(error.file == path)
          #expect(error.issues.map(\.description) == ["no such file"])
          #expect(error.description.contains(path))
        }
      }
    }

    @Test func problemsNameTheFile() throws {
      try withTemporaryDirectory { directory in
        let path = try write("[modem]\ndevcie = \"auto\"\n", to: "vigie.toml", in: directory)
        do throws(ConfigError) {
          _ = try ConfigLoader.load(path: path)
          Issue.record("loaded a bad file")
        } catch {
          #expect(
            error.description
              == "invalid configuration \(path): 1 problem\n  line 2: modem.devcie: unknown key 'devcie'; did you mean 'device'?"
          )
        }
      }
    }

    @Test func invalidUTF8IsRefused() throws {
      try withTemporaryDirectory { directory in
        let url = directory.appendingPathComponent("vigie.toml")
        try Data([0x5B, 0x64, 0x61, 0x65, 0x6D, 0x6F, 0x6E, 0x5D, 0x0A, 0xFF, 0xFE, 0x0A]).write(
          to: url)
        #expect(
          loadProblems(url.path) == ["line 2: not UTF-8 text at column 1; save the file as UTF-8"])
      }
    }

    @Test func aDirectoryIsNotAConfigurationFile() throws {
      try withTemporaryDirectory { directory in
        let problems = loadProblems(directory.path)
        #expect(problems.count == 1)
        #expect(problems.first?.hasPrefix("cannot read") == true, "\(problems)")
      }
    }

    @Test func aPrivateSecretFileIsFine() throws {
      try withTemporaryDirectory { directory in
        let pin = try write("1234\n", to: "pin", in: directory, mode: 0o600)
        let path = try write(
          "[modem]\npin_file = \"\(pin)\"\n", to: "vigie.toml", in: directory, mode: 0o644)
        let loaded = try ConfigLoader.load(path: path)
        #expect(loaded.config.modem.pinFile == pin)
        #expect(loaded.warnings.isEmpty)
        #expect(try SecretFile.read(pin) == "1234")
      }
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o666])
    func aSecretFileOthersCanReadIsRefused(mode: Int) throws {
      try withTemporaryDirectory { directory in
        let pin = try write("1234\n", to: "pin", in: directory, mode: mode)
        let path = try write(
          "# SIM\n[modem]\npin_file = \"\(pin)\"\n", to: "vigie.toml", in: directory)
        #expect(
          loadProblems(path) == [
            "line 3: modem.pin_file: secret file \(pin) is readable by group or others (mode \(String(mode, radix: 8))); run: chmod 600 \(pin)"
          ])
        #expect(throws: (any Error).self) { try SecretFile.read(pin) }
      }
    }

    @Test func aMissingSecretFile() throws {
      try withTemporaryDirectory { directory in
        let secret = directory.appendingPathComponent("irc-password").path
        let path = try write(
          "[irc]\nenabled = true\nserver = \"irc.example.org\"\npassword_file = \"\(secret)\"\n",
          to: "vigie.toml",
          in: directory)
        #expect(
          loadProblems(path) == [
            "line 4: irc.password_file: cannot use secret file \(secret): No such file or directory"
          ])
      }
    }

    @Test func aSecretFileThatIsADirectory() throws {
      try withTemporaryDirectory { directory in
        let secret = directory.appendingPathComponent("secret.d")
        try FileManager.default.createDirectory(at: secret, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: secret.path)
        let path = try write(
          "[modem]\npin_file = \"\(secret.path)\"\n", to: "vigie.toml", in: directory)
        #expect(
          loadProblems(path) == [
            "line 2: modem.pin_file: secret file \(secret.path) is not a regular file"
          ])
      }
    }

    @Test func secretFilesOfDisabledSectionsAreNotChecked() throws {
      try withTemporaryDirectory { directory in
        let open = try write("x\n", to: "open", in: directory, mode: 0o644)
        let path = try write(
          """
          [modem]
          enabled = false
          pin_file = "\(directory.path)/missing"

          [xmpp]
          password_file = "\(open)"

          [drive]
          client_secret_file = "\(directory.path)/missing"
          """, to: "vigie.toml", in: directory)
        #expect(try ConfigLoader.load(path: path).warnings.isEmpty)
      }
    }

    @Test func allSecretProblemsAtOnce() throws {
      try withTemporaryDirectory { directory in
        let open = try write("x\n", to: "open", in: directory, mode: 0o644)
        let path = try write(
          """
          [modem]
          pin_file = "\(directory.path)/missing"

          [irc]
          enabled = true
          server = "irc.example.org"
          password_file = "\(open)"

          [xmpp]
          enabled = true
          jid = "vigie@example.org"
          password_file = "\(open)"
          """, to: "vigie.toml", in: directory)
        #expect(loadProblems(path).map { $0.prefix(7) } == ["line 2:", "line 7:", "line 12"])
      }
    }

    @Test func anInlineSecretInAFileOthersCanReadIsAWarning() throws {
      try withTemporaryDirectory { directory in
        let path = try write(
          "[modem]\npin = \"1234\"\n", to: "vigie.toml", in: directory, mode: 0o644)
        let loaded = try ConfigLoader.load(path: path)
        #expect(loaded.config.modem.pin == "1234")
        #expect(
          loaded.warnings.map(\.description) == [
            "warning: line 2: modem.pin: a secret written in \(path), which other users can read (mode 644); move it to 'modem.pin_file' with mode 0600"
          ])
      }
    }

    @Test func anInlineSecretInAPrivateFileIsFine() throws {
      try withTemporaryDirectory { directory in
        let path = try write(
          "[modem]\npin = \"1234\"\n", to: "vigie.toml", in: directory, mode: 0o600)
        #expect(try ConfigLoader.load(path: path).warnings.isEmpty)
      }
    }

    @Test func warningsAreKeptWithErrors() throws {
      try withTemporaryDirectory { directory in
        let path = try write(
          "[modem]\npin = \"1234\"\n\n[irc]\nenabled = true\nserver = \"irc.example.org\"\npassword_file = \"/nonexistent/irc\"\n",
          to: "vigie.toml", in: directory, mode: 0o644)
        do throws(ConfigError) {
          _ = try ConfigLoader.load(path: path)
          Issue.record("loaded with a missing secret file")
        } catch {
          #expect(error.issues.map(\.severity) == [.warning, .error])
          #expect(
            error.description.hasPrefix(
              "invalid configuration \(path): 1 problem\n  warning: line 2: modem.pin"))
        }
      }
    }

    @Test func crlfFileFromWindows() throws {
      try withTemporaryDirectory { directory in
        let url = directory.appendingPathComponent("vigie.toml")
        try Data("\u{FEFF}# written on Windows\r\n[modem]\r\ndevcie = \"auto\"\r\n".utf8).write(
          to: url)
        #expect(
          loadProblems(url.path) == [
            "line 3: modem.devcie: unknown key 'devcie'; did you mean 'device'?"
          ])
      }
    }
  }
}
