/// Why an SMSC timestamp was refused.
public struct SMSCTimestampError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The kinds of error; more may be added.
  public struct Code: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable { case malformed, outOfRange }
    private let kind: Kind
    private init(_ kind: Kind) { self.kind = kind }
    /// Not 7 octets of BCD, or not `yy/MM/dd,hh:mm:ss±zz`.
    public static let malformed = Code(.malformed)
    /// A field outside its range (month 13, 31 April, zone beyond ±14 h...).
    public static let outOfRange = Code(.outOfRange)
    /// The code's name, for logs.
    public var description: String { "\(kind)" }
  }

  /// What went wrong, for programs.
  public var code: Code
  /// What went wrong and what to do, for people.
  public var message: String

  /// An error with its code and message.
  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  /// The message.
  public var description: String { message }
}

/// The service centre time stamp of a received SMS (TP-SCTS, 3GPP TS 23.040
/// §9.2.3.11): a local date and time and the offset of that local time from
/// UTC in quarters of an hour, as the SMSC gave them.
///
/// Values are valid by construction: every initialiser checks the fields.
public struct SMSCTimestamp: Sendable, Hashable, Codable, CustomStringConvertible {
  /// 1970 to 2099; the PDU and the modem's text mode carry two digits, read
  /// as 2000 to 2099.
  public let year: Int
  /// 1 to 12.
  public let month: Int
  /// 1 to the month's length.
  public let day: Int
  /// 0 to 23, local time.
  public let hour: Int
  /// 0 to 59.
  public let minute: Int
  /// 0 to 59.
  public let second: Int
  /// Local time minus UTC in quarters of an hour, -48 (UTC-12) to +56
  /// (UTC+14).
  public let zoneQuarterHours: Int

  /// A timestamp from its fields; throws ``SMSCTimestampError/Code/outOfRange``
  /// for an impossible date, time or zone.
  public init(
    year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, zoneQuarterHours: Int
  ) throws(SMSCTimestampError) {
    func check(_ ok: Bool, _ what: String) throws(SMSCTimestampError) {
      if !ok { throw SMSCTimestampError(.outOfRange, "SMSC timestamp has an invalid \(what).") }
    }
    try check((1970...2099).contains(year), "year (\(year))")
    try check((1...12).contains(month), "month (\(month))")
    try check(
      (1...Self.daysInMonth(month, year: year)).contains(day), "day (\(year)-\(month)-\(day))")
    try check((0...23).contains(hour), "hour (\(hour))")
    try check((0...59).contains(minute), "minute (\(minute))")
    try check((0...59).contains(second), "second (\(second))")
    try check(
      (-48...56).contains(zoneQuarterHours), "time zone (\(zoneQuarterHours) quarter hours)")
    self.year = year
    self.month = month
    self.day = day
    self.hour = hour
    self.minute = minute
    self.second = second
    self.zoneQuarterHours = zoneQuarterHours
  }

  /// Decodes the 7 octets of a TP-SCTS field: year, month, day, hour,
  /// minute, second, zone, each two BCD digits with the nibbles swapped; bit
  /// 3 of the zone octet is its sign.
  public init(pdu octets: some Collection<UInt8>) throws(SMSCTimestampError) {
    let bytes = Array(octets)
    guard bytes.count == 7 else {
      throw SMSCTimestampError(
        .malformed, "SMSC timestamp has \(bytes.count) octets; TP-SCTS has 7.")
    }
    var fields: [Int] = []
    for (index, byte) in bytes.enumerated() {
      var low = Int(byte & 0x0F)
      let high = Int(byte >> 4)
      var negative = false
      if index == 6 {
        negative = low & 0x08 != 0
        low &= 0x07
      }
      guard low <= 9, high <= 9 else {
        throw SMSCTimestampError(
          .malformed, "SMSC timestamp octet \(index + 1) is not BCD (0x\(String(byte, radix: 16)))."
        )
      }
      let value = low * 10 + high
      fields.append(negative ? -value : value)
    }
    try self.init(
      year: 2000 + fields[0], month: fields[1], day: fields[2], hour: fields[3],
      minute: fields[4], second: fields[5], zoneQuarterHours: fields[6])
  }

  /// Parses the modem's text-mode form `yy/MM/dd,hh:mm:ss±zz` (`+CMGL`,
  /// `+CMGR`), the zone in quarters of an hour; surrounding quotes are
  /// allowed.
  public init(text: String) throws(SMSCTimestampError) {
    var bytes = Array(text.utf8)
    if bytes.count >= 2, bytes.first == UInt8(ascii: "\""), bytes.last == UInt8(ascii: "\"") {
      bytes = Array(bytes.dropFirst().dropLast())
    }
    let pattern = Array("00/00/00,00:00:00+00".utf8)
    let malformed = SMSCTimestampError(
      .malformed,
      "SMSC timestamp '\(CommandGrammar.printable(text))' is not in the form yy/MM/dd,hh:mm:ss+zz.")
    guard bytes.count == pattern.count else { throw malformed }
    var numbers: [Int] = []
    var index = 0
    while index < bytes.count {
      if pattern[index] == UInt8(ascii: "0") {
        let (a, b) = (bytes[index], bytes[index + 1])
        guard (0x30...0x39).contains(a), (0x30...0x39).contains(b) else { throw malformed }
        numbers.append(Int(a - 0x30) * 10 + Int(b - 0x30))
        index += 2
      } else if pattern[index] == UInt8(ascii: "+") {
        guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") else {
          throw malformed
        }
        index += 1
      } else {
        guard bytes[index] == pattern[index] else { throw malformed }
        index += 1
      }
    }
    let sign = bytes[17] == UInt8(ascii: "-") ? -1 : 1
    try self.init(
      year: 2000 + numbers[0], month: numbers[1], day: numbers[2], hour: numbers[3],
      minute: numbers[4], second: numbers[5], zoneQuarterHours: sign * numbers[6])
  }

  /// Parses ``description``'s form, `2024-05-17 10:32:05 +02:00`, as the
  /// state store keeps timestamps. The zone's minutes must be a multiple of
  /// 15.
  public init(stored text: String) throws(SMSCTimestampError) {
    let bytes = Array(text.utf8)
    let pattern = Array("0000-00-00 00:00:00 +00:00".utf8)
    let malformed = SMSCTimestampError(
      .malformed,
      "stored SMSC timestamp '\(CommandGrammar.printable(text))' is not in the form yyyy-MM-dd hh:mm:ss +hh:mm.")
    guard bytes.count == pattern.count else { throw malformed }
    var numbers: [Int] = []
    var current = -1
    for (index, byte) in bytes.enumerated() {
      if pattern[index] == UInt8(ascii: "0") {
        guard (0x30...0x39).contains(byte) else { throw malformed }
        current = (current < 0 ? 0 : current) * 10 + Int(byte - 0x30)
      } else {
        if current >= 0 { numbers.append(current) }
        current = -1
        if pattern[index] == UInt8(ascii: "+") {
          guard byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") else { throw malformed }
        } else {
          guard byte == pattern[index] else { throw malformed }
        }
      }
    }
    numbers.append(current)
    guard numbers.count == 8, numbers[7] % 15 == 0 else { throw malformed }
    let sign = bytes[20] == UInt8(ascii: "-") ? -1 : 1
    try self.init(
      year: numbers[0], month: numbers[1], day: numbers[2], hour: numbers[3], minute: numbers[4],
      second: numbers[5], zoneQuarterHours: sign * (numbers[6] * 4 + numbers[7] / 15))
  }

  /// Decodes the fields and checks them as the memberwise initialiser does.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    try self.init(
      year: container.decode(Int.self, forKey: .year),
      month: container.decode(Int.self, forKey: .month),
      day: container.decode(Int.self, forKey: .day),
      hour: container.decode(Int.self, forKey: .hour),
      minute: container.decode(Int.self, forKey: .minute),
      second: container.decode(Int.self, forKey: .second),
      zoneQuarterHours: container.decode(Int.self, forKey: .zoneQuarterHours))
  }

  /// Seconds since 1970-01-01 00:00 UTC.
  public var unixTime: Int64 {
    let days = Self.daysFromCivil(year: year, month: month, day: day)
    let local = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    return local - Int64(zoneQuarterHours * 900)
  }

  /// `2024-05-17 10:32:05 +02:00`: the local time and zone as given.
  public var description: String {
    func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    let zone = abs(zoneQuarterHours)
    let sign = zoneQuarterHours < 0 ? "-" : "+"
    return
      "\(year)-\(two(month))-\(two(day)) \(two(hour)):\(two(minute)):\(two(second)) \(sign)\(two(zone / 4)):\(two(zone % 4 * 15))"
  }

  static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

  static func daysInMonth(_ month: Int, year: Int) -> Int {
    switch month {
    case 2: isLeap(year) ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
  }

  /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
  /// `days_from_civil`).
  static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
    let y = Int64(month <= 2 ? year - 1 : year)
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let m = Int64(month)
    let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
  }
}

/// Whether a command is too old to run, by its SMSC timestamp: an SMS that
/// sat in the network or in the modem for hours (a reboot loop, a modem that
/// was off) must not reboot the Pi now.
///
/// An SMSC (or a modem) clock can be ahead of ours: up to ``maxFutureSkew``
/// is accepted, further is refused. Mind that the Pi has no real-time clock:
/// `now` must come from a synchronised clock or commands may all look
/// "from the future" or "too old".
public struct CommandAge: Sendable, Hashable {
  /// Oldest command run; 1 hour unless set.
  public var maxAge: Duration
  /// How far in the future a timestamp may be; 5 minutes unless set.
  public var maxFutureSkew: Duration

  /// Negative durations are taken as zero.
  public init(maxAge: Duration = .seconds(3600), maxFutureSkew: Duration = .seconds(300)) {
    self.maxAge = max(.zero, maxAge)
    self.maxFutureSkew = max(.zero, maxFutureSkew)
  }

  /// The decision on one command.
  public enum Verdict: Sendable, Hashable {
    /// Run it. `age` is negative when the SMSC clock is ahead, within the
    /// skew allowed.
    case fresh(age: Duration)
    /// Refuse it: older than ``CommandAge/maxAge``.
    case tooOld(age: Duration)
    /// Refuse it: sent more than ``CommandAge/maxFutureSkew`` after `now`.
    case fromTheFuture(ahead: Duration)

    /// Whether the command may run.
    public var isFresh: Bool {
      if case .fresh = self { true } else { false }
    }
  }

  /// The verdict on a command stamped `sent`, at `now` (Unix seconds).
  /// Exactly ``maxAge`` old is still fresh.
  public func check(sent: SMSCTimestamp, now: Int64) -> Verdict {
    check(sentAt: sent.unixTime, now: now)
  }

  /// The verdict on a command sent at Unix time `sentAt`, at `now`.
  public func check(sentAt: Int64, now: Int64) -> Verdict {
    let (difference, overflow) = now.subtractingReportingOverflow(sentAt)
    let seconds = overflow ? (now < sentAt ? Int64.min : Int64.max) : difference
    let age = Duration.seconds(seconds)
    if age > maxAge { return .tooOld(age: age) }
    let ahead = Duration.zero - age
    if ahead > maxFutureSkew { return .fromTheFuture(ahead: ahead) }
    return .fresh(age: age)
  }
}
