import Testing
import VigieCore

@Suite struct ConfigUnitsTests {
  // MARK: Durations

  @Test(arguments: [
    ("500ms", Duration.milliseconds(500)),
    ("30s", .seconds(30)),
    ("5m", .seconds(300)),
    ("2h", .seconds(7200)),
    ("1d", .seconds(86_400)),
    ("1h30m", .seconds(5400)),
    ("1m30s500ms", .milliseconds(90_500)),
    ("0s", .zero),
    ("0ms", .zero),
    ("90s", .seconds(90)),
    ("1H", .seconds(3600)),
    (" 10s ", .seconds(10)),
    ("999999999ms", .milliseconds(999_999_999)),
    ("999999999d", .seconds(999_999_999 * 86_400)),
  ])
  func parsesDurations(text: String, expected: Duration) {
    #expect(Duration(configText: text) == expected)
  }

  @Test(arguments: [
    "", " ", "-5s", "5x", "5", "s", "ms", "1.5s", "1h 30m", "+5s", "5 s", "1e3s", "٣s",  // Arabic-Indic digit
    "99999999999999999999s",  // does not fit in 64 bits
    "1h-30m", "5sec", "30S0",
  ])
  func refusesBadDurations(text: String) {
    #expect(Duration(configText: text) == nil)
  }

  @Test func refusesDurationsThatOverflow() {
    // Each part fits; their sum does not fit in 64-bit milliseconds.
    let text = String(repeating: "999999999d", count: 200)
    #expect(Duration(configText: text) == nil)
  }

  @Test(arguments: [
    Duration.zero, .milliseconds(1), .milliseconds(500), .seconds(1), .seconds(59), .seconds(60),
    .seconds(61),
    .seconds(5400), .seconds(86_400), .seconds(90_061), .milliseconds(90_061_001),
    .seconds(999_999_999 * 86_400), .milliseconds(Int64.max), .seconds(Int64.max / 1000),
  ])
  func configTextRoundTrips(duration: Duration) {
    #expect(Duration(configText: duration.configText) == duration)
  }

  @Test(arguments: [
    (Duration.zero, "0s"), (.milliseconds(500), "500ms"), (.seconds(5400), "1h30m"),
    (.seconds(86_400), "1d"),
    (.milliseconds(90_061_001), "1d1h1m1s1ms"),
  ])
  func configText(duration: Duration, expected: String) {
    #expect(duration.configText == expected)
    #expect(duration.tomlLiteral == "\"\(expected)\"")
  }

  @Test func decodesAnIntegerAsSeconds() {
    var issues: [ConfigIssue] = []
    #expect(Duration.decode(ConfigNode(.integer(30)), path: "x", issues: &issues) == .seconds(30))
    #expect(Duration.decode(ConfigNode(.integer(0)), path: "x", issues: &issues) == .zero)
    #expect(issues.isEmpty)
  }

  @Test(arguments: [
    (
      ConfigNode.Value.integer(-5),
      "expected a duration such as \"30s\" or a non-negative integer number of seconds, found integer -5"
    ),
    (
      .bool(true),
      "expected a duration such as \"30s\" or a non-negative integer number of seconds, found boolean true"
    ),
    (.float(1.5), "found float 1.5"),
    (.string("5x"), "\"5x\" is not a duration; write e.g. \"500ms\""),
    (.string("-5s"), "\"-5s\" is not a duration"),
    (.integer(Int.max), "is too long"),
    (.integer(Int.max / 1000 + 1), "is too long"),
    (.array([]), "found array"),
  ])
  func refusesBadDurationValues(value: ConfigNode.Value, message: String) {
    var issues: [ConfigIssue] = []
    let result = Duration.decode(
      ConfigNode(value, line: 7), path: "watchdog.interval", issues: &issues)
    #expect(result == nil)
    #expect(issues.count == 1)
    #expect(issues.first?.path == "watchdog.interval")
    #expect(issues.first?.line == 7)
    #expect(issues.first?.message.contains(message) == true, "\(issues)")
  }

  @Test func aHugeValidIntegerStillRendersAndRoundTrips() {
    var issues: [ConfigIssue] = []
    let seconds = Int(Int64.max / 1000)
    let duration = Duration.decode(ConfigNode(.integer(seconds)), path: "x", issues: &issues)
    #expect(issues.isEmpty)
    #expect(duration.map { Duration(configText: $0.configText) } == duration)
  }

  // MARK: Sizes

  static let sizes: [(String, Int64)] = [
    ("0", 0),
    ("100", 100),
    ("100B", 100),
    ("512K", 512 << 10),
    ("512k", 512 << 10),
    ("512KB", 512 << 10),
    ("512KiB", 512 << 10),
    ("10M", 10 << 20),
    ("10 M", 10 << 20),
    ("100MB", 100 << 20),
    ("1.5G", 3 << 29),
    ("2GiB", 2 << 30),
    ("1T", 1 << 40),
    (" 4G ", 4 << 30),
    ("0.5K", 512),
  ]

  @Test(arguments: sizes)
  func parsesSizes(text: String, bytes: Int64) {
    #expect(ByteSize(text: text) == ByteSize(bytes: bytes))
  }

  @Test(arguments: [
    "", "K", "M10", "-1M", "10X", "1.2.3M", "ten", "10 MBs", "9000000T", "1e3", ".", "1P",
  ])
  func refusesBadSizes(text: String) {
    #expect(ByteSize(text: text) == nil)
  }

  @Test(arguments: [
    ByteSize(bytes: 0), ByteSize(bytes: 1), ByteSize(bytes: 1023), .kib(1), ByteSize(bytes: 1025),
    .mib(200), .gib(4),
    ByteSize(bytes: 3 << 29), ByteSize(bytes: (1 << 40) + 1), ByteSize(bytes: Int64.max / 2 + 1),
    ByteSize(bytes: 123_456_789),
    ByteSize(bytes: (1 << 60) + 1), ByteSize(bytes: Int64.max),
  ])
  func sizeLiteralRoundTrips(size: ByteSize) {
    var issues: [ConfigIssue] = []
    let literal = size.tomlLiteral
    let node: ConfigNode =
      literal.hasPrefix("\"")
      ? ConfigNode(.string(String(literal.dropFirst().dropLast())))
      : ConfigNode(.integer(Int(literal)!))
    #expect(ByteSize.decode(node, path: "x", issues: &issues) == size, "\(literal)")
    #expect(issues.isEmpty)
  }

  @Test(arguments: [
    (ByteSize.gib(4), "4G"), (.mib(200), "200M"), (ByteSize(bytes: 3 << 29), "1.5G"),
    (ByteSize(bytes: 1000), "1000"),
  ])
  func sizeDescription(size: ByteSize, expected: String) {
    #expect(size.description == expected)
  }

  @Test(arguments: [
    (
      ConfigNode.Value.integer(-1),
      "expected a size such as \"10M\" or an integer of bytes, found integer -1"
    ),
    (.string("10X"), "\"10X\" is not a size"),
    (.bool(false), "found boolean false"),
  ])
  func refusesBadSizeValues(value: ConfigNode.Value, message: String) {
    var issues: [ConfigIssue] = []
    #expect(
      ByteSize.decode(ConfigNode(value, line: 3), path: "filedrop.max_upload_size", issues: &issues)
        == nil)
    #expect(issues.count == 1)
    #expect(issues.first?.description.hasPrefix("line 3: filedrop.max_upload_size: ") == true)
    #expect(issues.first?.message.contains(message) == true, "\(issues)")
  }
}
