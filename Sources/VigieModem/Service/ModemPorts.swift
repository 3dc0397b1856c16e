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
  /// Gives a claimed SMS back at once, the attempt not counted: the session
  /// ended before it could be sent (it is not the message's fault).
  func release(_ sms: OutgoingSMS, reason: String) async throws
}

/// The live modem state, shared with STATUS and the status page, and the
/// door for fresh readings on demand (SIGNAL, `vigie modem`).
public final class ModemStatusBoard: Sendable {
  private let state = Mutex(ModemSnapshot())

  /// Poll requests: tickets handed out, and the highest ticket a completed
  /// poll started after.
  private struct Polls {
    var requested = 0
    var served = 0
  }
  private let polls = Mutex(Polls())

  public init() {}

  public var snapshot: ModemSnapshot { state.withLock { $0 } }

  public func update(_ change: (inout ModemSnapshot) -> Void) {
    state.withLock { change(&$0) }
  }

  /// Asks the modem session for a fresh signal and registration reading and
  /// waits for it up to `deadline`. Returns true when a reading made after
  /// the request is on the board; false when the modem is busy, recovering
  /// or absent (the board then holds the last reading, see `lastSeen`).
  public func freshReading(deadline: Duration) async -> Bool {
    let ticket = polls.withLock { polls -> Int in
      polls.requested += 1
      return polls.requested
    }
    let end = ContinuousClock.now.advanced(by: deadline)
    while ContinuousClock.now < end {
      if polls.withLock({ $0.served >= ticket }) { return true }
      guard (try? await Task.sleep(for: .milliseconds(100))) != nil else { return false }
    }
    return polls.withLock { $0.served >= ticket }
  }

  /// For the modem session: the ticket a poll starting now serves, or nil
  /// when nobody asked.
  public func pendingPollRequest() -> Int? {
    polls.withLock { $0.requested > $0.served ? $0.requested : nil }
  }

  /// For the modem session: the poll that started when `ticket` was
  /// pending is on the board.
  public func pollServed(_ ticket: Int) {
    polls.withLock { $0.served = max($0.served, ticket) }
  }
}
