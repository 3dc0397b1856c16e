/// The identity of a received SMS, so that the same SMS never runs twice:
/// a message read again after a crash or a reboot (still on the SIM, or
/// reassembled once more) has the same key, and the command journal and the
/// outbox refuse it.
///
/// The key is the hex SHA-1 of the normalised sender (``PhoneNumber/key``),
/// the SMSC timestamp as given (local time and zone, not converted) and the
/// text, each field length-prefixed so that no two different triples give
/// the same input. Two identical texts sent in the same second by the same
/// sender are one command: that is the intent. A message without a
/// timestamp (some modems give none) has `-` in its place; a sender that is
/// not a number nor a name (``init(modemSender:region:timestamp:text:)``)
/// is keyed `raw:` and its text as the modem gave it.
public struct SMSDedupKey: Sendable, Hashable, Codable, CustomStringConvertible {
  /// 40 lower-case hexadecimal digits.
  public let value: String

  /// The key of the SMS from `sender`, stamped `timestamp`, with the
  /// (reassembled) `text`.
  public init(sender: PhoneNumber, timestamp: SMSCTimestamp?, text: String) {
    self.init(senderKey: sender.key, timestamp: timestamp, text: text)
  }

  /// The key of an SMS whose sender is as the modem (libgammu) gave it: a
  /// number, national ones completed with `region`, or a name; anything
  /// else is keyed as is, so that it still has a stable key.
  public init(modemSender: String, region: PhoneRegion? = nil, timestamp: SMSCTimestamp?, text: String) {
    let key =
      switch PhoneNumber.parse(modemSender, region: region) {
      case .success(let number): number.key
      case .failure: "raw:" + modemSender
      }
    self.init(senderKey: key, timestamp: timestamp, text: text)
  }

  private init(senderKey: String, timestamp: SMSCTimestamp?, text: String) {
    var sha = SHA1()
    for field in ["vigie-sms-v1", senderKey, timestamp.map(Self.canonical) ?? "-", text] {
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
