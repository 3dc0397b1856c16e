/// One received SMS part, as stored in the state store.
public struct ReceivedPart: Sendable, Hashable {
  public var id: Int64
  public var sender: String
  public var text: String
  /// SMSC timestamp text (ISO 8601 with offset) and its Unix time.
  public var timestamp: String?
  public var unixTime: Int?
  public var reference: Int?
  public var part: Int?
  public var total: Int?
  /// When Vigie stored it (Unix time).
  public var receivedAt: Int

  public init(
    id: Int64, sender: String, text: String, timestamp: String?, unixTime: Int?, reference: Int?, part: Int?,
    total: Int?, receivedAt: Int
  ) {
    self.id = id
    self.sender = sender
    self.text = text
    self.timestamp = timestamp
    self.unixTime = unixTime
    self.reference = reference
    self.part = part
    self.total = total
    self.receivedAt = receivedAt
  }
}

/// A whole message, made of one or more parts.
public struct AssembledSMS: Sendable, Hashable {
  public var sender: String
  public var text: String
  /// The SMSC timestamp of the first part.
  public var timestamp: String?
  public var unixTime: Int?
  /// Parts missing when the multipart timeout gave up waiting (empty when complete).
  public var missingParts: [Int]
  /// The stored parts this message consumed.
  public var partIDs: [Int64]
}

/// Multipart reassembly, gammu-smsd's `MultipartTimeout` done right: parts
/// are kept (durably, by the caller) until every part is there, in any
/// order; after `timeout` without completion the message is delivered with
/// a visible gap marker rather than lost (the last part of a message is the
/// one operators drop most).
public enum SMSReassembly {
  /// The marker put where parts are missing.
  public static let gapMarker = "[…]"

  public static func assemble(_ parts: [ReceivedPart], now: Int, timeout: Duration) -> [AssembledSMS] {
    var messages: [AssembledSMS] = []
    var groups: [String: [ReceivedPart]] = [:]
    var order: [String] = []
    for part in parts {
      guard let reference = part.reference, let index = part.part, let total = part.total, total > 1,
        (1...total).contains(index), total <= 255
      else {
        messages.append(
          AssembledSMS(
            sender: part.sender, text: part.text, timestamp: part.timestamp, unixTime: part.unixTime,
            missingParts: [], partIDs: [part.id]))
        continue
      }
      let key = "\(part.sender)\u{1F}\(reference)\u{1F}\(total)"
      if groups[key] == nil { order.append(key) }
      groups[key, default: []].append(part)
    }
    let timeoutSeconds = Int(timeout.components.seconds)
    for key in order {
      let group = groups[key]!
      let total = group[0].total!
      var byIndex: [Int: ReceivedPart] = [:]
      var duplicates: [Int64] = []
      for part in group.sorted(by: { $0.id < $1.id }) {
        if byIndex[part.part!] == nil { byIndex[part.part!] = part } else { duplicates.append(part.id) }
      }
      let missing = (1...total).filter { byIndex[$0] == nil }
      let oldest = group.map(\.receivedAt).min()!
      guard missing.isEmpty || now - oldest >= timeoutSeconds else { continue }
      var text = ""
      var previousMissing = false
      for index in 1...total {
        if let part = byIndex[index] {
          text += part.text
          previousMissing = false
        } else if !previousMissing {
          text += gapMarker
          previousMissing = true
        }
      }
      let first = byIndex[1] ?? byIndex.values.min(by: { $0.part! < $1.part! })!
      messages.append(
        AssembledSMS(
          sender: first.sender, text: text, timestamp: first.timestamp, unixTime: first.unixTime,
          missingParts: missing, partIDs: group.map(\.id).sorted()))
      _ = duplicates
    }
    return messages
  }
}
