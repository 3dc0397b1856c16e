import VigieCore

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

    public init(reference: Int, part: Int, total: Int) {
      self.reference = reference
      self.part = part
      self.total = total
    }
  }

  public init(
    location: Int, folder: Int, memory: String, kind: Kind, sender: String, text: String, binary: [UInt8]?,
    timestamp: SMSCTimestamp?, concatenation: Concatenation?, messageReference: Int, deliveryStatus: Int
  ) {
    self.location = location
    self.folder = folder
    self.memory = memory
    self.kind = kind
    self.sender = sender
    self.text = text
    self.binary = binary
    self.timestamp = timestamp
    self.concatenation = concatenation
    self.messageReference = messageReference
    self.deliveryStatus = deliveryStatus
  }
}
