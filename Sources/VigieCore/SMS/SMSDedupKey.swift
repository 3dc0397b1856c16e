/// The identity of a received SMS, so that the same SMS never runs twice:
/// a message read again after a crash or a reboot (still on the SIM, or
/// reassembled once more) has the same key, and the command journal and the
/// outbox refuse it.
///
/// The key is the hex SHA-1 of the normalised sender (``PhoneNumber/key``),
/// the SMSC timestamp as given (local time and zone, not converted) and the
/// text, each field length-prefixed so that no two different triples give
/// the same input. Two identical texts sent in the same second by the same
/// sender are one command: that is the intent.
public struct SMSDedupKey: Sendable, Hashable, Codable, CustomStringConvertible {
  /// 40 lower-case hexadecimal digits.
  public let value: String

  /// The key of the SMS from `sender`, stamped `timestamp`, with the
  /// (reassembled) `text`.
  public init(sender: PhoneNumber, timestamp: SMSCTimestamp, text: String) {
    var sha = SHA1()
    for field in ["vigie-sms-v1", sender.key, Self.canonical(timestamp), text] {
      let bytes = Array(field.utf8)
      let length = UInt64(bytes.count)
      sha.update((0..<8).map { UInt8(truncatingIfNeeded: length >> (56 - 8 * UInt64($0))) })
      sha.update(bytes)
    }
    value = hexString(sha.finalize())
  }

  /// A key read back from storage.
  public init(value: String) { self.value = value }

  /// The hex digest.
  public var description: String { value }

  /// `yyyy-MM-ddThh:mm:ss±qq`: every field, the zone in quarter hours.
  private static func canonical(_ t: SMSCTimestamp) -> String {
    func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    let zone =
      t.zoneQuarterHours < 0 ? "-" + two(-t.zoneQuarterHours) : "+" + two(t.zoneQuarterHours)
    return
      "\(t.year)-\(two(t.month))-\(two(t.day))T\(two(t.hour)):\(two(t.minute)):\(two(t.second))\(zone)"
  }
}
