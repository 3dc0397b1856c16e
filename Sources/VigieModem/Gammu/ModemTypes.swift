/// What the SIM asks for before the modem can be used.
public enum SecurityStatus: String, Sendable, Hashable {
  /// Nothing to enter: the SIM is ready.
  case ready
  case pin
  case puk
  case pin2
  case puk2
  /// A phone (device) code or network personalisation lock.
  case phoneCode
  case other
}

/// Network registration as the modem reports it (`+CREG`).
public enum Registration: String, Sendable, Hashable {
  case home, roaming, searching, denied, notRegistered, unknown
}

public struct SignalQuality: Sendable, Hashable {
  /// dBm, when known (e.g. -71).
  public var dBm: Int?
  /// 0–100, when known.
  public var percent: Int?
  /// Bit error rate in percent, when known.
  public var bitErrorRate: Int?

  public init(dBm: Int?, percent: Int?, bitErrorRate: Int?) {
    self.dBm = dBm
    self.percent = percent
    self.bitErrorRate = bitErrorRate
  }
}

public struct NetworkStatus: Sendable, Hashable {
  public var registration: Registration
  /// MCC MNC, e.g. `208 01`.
  public var operatorCode: String
  /// Operator name as the modem knows it; may be empty.
  public var operatorName: String
  public var locationAreaCode: String
  public var cellID: String
}

public struct ModemIdentity: Sendable, Hashable {
  public var manufacturer: String
  public var model: String
  public var firmware: String
  public var imei: String
}

/// An SMSC timestamp with its time zone, as carried by the PDU.
public struct SMSCTimestamp: Sendable, Hashable, CustomStringConvertible {
  public var year, month, day, hour, minute, second: Int
  /// Offset from UTC in seconds.
  public var utcOffsetSeconds: Int

  public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, utcOffsetSeconds: Int) {
    (self.year, self.month, self.day, self.hour, self.minute, self.second) = (year, month, day, hour, minute, second)
    self.utcOffsetSeconds = utcOffsetSeconds
  }

  /// Seconds since 1970-01-01T00:00:00Z.
  public var unixTime: Int {
    // Days from civil (Howard Hinnant's algorithm), valid for the Gregorian calendar.
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146_097 + doe - 719_468
    return days * 86_400 + hour * 3600 + minute * 60 + second - utcOffsetSeconds
  }

  /// ISO 8601 with the offset, e.g. `2026-11-25T10:00:00+01:00`.
  public var description: String {
    func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    let sign = utcOffsetSeconds < 0 ? "-" : "+"
    let offset = abs(utcOffsetSeconds)
    return "\(year)-\(two(month))-\(two(day))T\(two(hour)):\(two(minute)):\(two(second))\(sign)\(two(offset / 3600)):\(two(offset % 3600 / 60))"
  }
}

/// One SMS part as stored in the modem.
public struct StoredSMS: Sendable, Hashable {
  public enum Kind: String, Sendable, Hashable { case deliver, statusReport, submit, other }

  /// Where it is, to delete it afterwards.
  public var location: Int
  public var folder: Int
  public var memory: String
  public var kind: Kind
  public var sender: String
  public var text: String
  /// Set when the text is binary (8-bit data): the raw bytes.
  public var binary: [UInt8]?
  public var timestamp: SMSCTimestamp?
  /// Concatenation info when this is one part of a longer message.
  public var concatenation: Concatenation?
  /// TP-MR, for status reports.
  public var messageReference: Int
  /// Delivery status for status reports (0 = delivered).
  public var deliveryStatus: Int

  public struct Concatenation: Sendable, Hashable {
    public var reference: Int
    public var part: Int
    public var total: Int
  }
}
