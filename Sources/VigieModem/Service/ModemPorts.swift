import Foundation
import Synchronization
import VigieCore

/// What the modem service needs from the state store. VigieRuntime
/// implements it on SQLite; VigieModem stays free of the database.
public protocol ModemPersistence: Sendable {
  /// The record of `fingerprint` on `simID`, if any.
  func pinRecord(simID: String, fingerprint: String) async throws -> PinRecord?
  func savePinRecord(_ record: PinRecord) async throws
  /// Stores received parts durably (idempotent). Only after this returns are
  /// they deleted from the modem.
  func storeIncoming(_ parts: [StoredSMS], simID: String) async throws
  /// Keeps a bounded history of signal and registration for graphs.
  func recordHealth(_ snapshot: ModemSnapshot) async throws
  /// Queues an alert for the alert router (durable).
  func raiseAlert(key: String, severity: String, text: String) async throws
}

/// One SMS to send, as queued by the SMS gateway.
public struct OutgoingSMS: Sendable, Hashable {
  public var id: Int64
  public var to: String
  public var text: String
  public var unicode: Bool
  public var multipart: Bool
  public var attempts: Int

  public init(id: Int64, to: String, text: String, unicode: Bool, multipart: Bool, attempts: Int) {
    self.id = id
    self.to = to
    self.text = text
    self.unicode = unicode
    self.multipart = multipart
    self.attempts = attempts
  }
}

/// The durable SMS outbox, seen from the modem.
public protocol SMSSendQueue: Sendable {
  func claim(limit: Int) async throws -> [OutgoingSMS]
  func sent(_ sms: OutgoingSMS, references: [Int]) async throws
  func failed(_ sms: OutgoingSMS, reason: String, retryable: Bool) async throws
}

/// The live modem state, shared with STATUS and the status page.
public final class ModemStatusBoard: Sendable {
  private let state = Mutex(ModemSnapshot())

  public init() {}

  public var snapshot: ModemSnapshot { state.withLock { $0 } }

  public func update(_ change: (inout ModemSnapshot) -> Void) {
    state.withLock { change(&$0) }
  }
}
