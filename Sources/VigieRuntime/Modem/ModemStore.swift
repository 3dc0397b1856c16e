import Foundation
import GRDB
import Synchronization
import VigieCore
import VigieModem
import VigieWatchdog

/// The modem's and the SMS gateway's tables in the state store, and the SMS
/// outbox (queue `sms` of the durable outbox).
public final class ModemStore: ModemPersistence, SMSSendQueue, WatchdogAlertSink, Sendable {
  public static let smsQueue = "sms"
  public static let alertQueue = "alerts"

  public static let migrations: [StateStoreMigration] = [
    StateStoreMigration("modem.v1") { db in
      try db.execute(
        sql: """
          CREATE TABLE pin_records (
            sim_id TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            accepted INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0,
            in_flight INTEGER NOT NULL DEFAULT 0,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (sim_id, fingerprint)
          );
          CREATE TABLE sms_parts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            dedup_key TEXT NOT NULL UNIQUE,
            sim_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            sender TEXT NOT NULL,
            text TEXT NOT NULL,
            binary BLOB,
            smsc_time TEXT,
            smsc_unix INTEGER,
            concat_ref INTEGER,
            concat_part INTEGER,
            concat_total INTEGER,
            message_reference INTEGER NOT NULL,
            delivery_status INTEGER NOT NULL,
            received_at INTEGER NOT NULL
          );
          CREATE INDEX sms_parts_group ON sms_parts (sender, concat_ref, concat_total);
          CREATE TABLE modem_health (
            at INTEGER NOT NULL,
            signal_dbm INTEGER,
            signal_percent INTEGER,
            registration TEXT,
            operator TEXT
          );
          CREATE INDEX modem_health_at ON modem_health (at);
          """)
    }
  ]

  let store: StateStore
  let outbox: Outbox
  /// Items claimed from the SMS queue, by id, until acked or failed.
  private let claimed = Mutex<[Int64: OutboxItem]>([:])
  private let owner = "modem-\(getpid())"
  /// How much signal history is kept.
  let historyRetention: Duration

  public init(store: StateStore, outbox: Outbox, historyRetention: Duration = .seconds(86_400)) {
    self.store = store
    self.outbox = outbox
    self.historyRetention = historyRetention
  }

  // MARK: PIN records

  public func pinRecord(simID: String, fingerprint: String) async throws -> PinRecord? {
    try await store.database.read { db in
      try Row.fetchOne(
        db, sql: "SELECT * FROM pin_records WHERE sim_id = ? AND fingerprint = ?", arguments: [simID, fingerprint]
      ).map { row in
        PinRecord(
          simID: row["sim_id"], fingerprint: row["fingerprint"], accepted: row["accepted"], rejected: row["rejected"],
          inFlight: row["in_flight"], updatedAt: row["updated_at"])
      }
    }
  }

  public func savePinRecord(_ record: PinRecord) async throws {
    try await store.database.write { db in
      try db.execute(
        sql: """
          INSERT INTO pin_records (sim_id, fingerprint, accepted, rejected, in_flight, updated_at)
          VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT (sim_id, fingerprint) DO UPDATE SET
            accepted = excluded.accepted, rejected = excluded.rejected,
            in_flight = excluded.in_flight, updated_at = excluded.updated_at
          """,
        arguments: [
          record.simID, record.fingerprint, record.accepted, record.rejected, record.inFlight, record.updatedAt,
        ])
    }
  }

  /// Forgets interrupted attempts so the configured PIN may be tried once
  /// more (`vigie modem pin-retry`, after a person checked the PIN).
  public func clearInterruptedPinAttempts() async throws -> Int {
    try await store.database.write { db in
      try db.execute(sql: "DELETE FROM pin_records WHERE in_flight = 1 AND accepted = 0")
      return db.changesCount
    }
  }

  // MARK: Incoming SMS

  public func storeIncoming(_ parts: [StoredSMS], simID: String) async throws {
    let now = Int(Date().timeIntervalSince1970)
    try await store.database.write { db in
      for part in parts {
        try db.execute(
          sql: """
            INSERT OR IGNORE INTO sms_parts (dedup_key, sim_id, kind, sender, text, binary, smsc_time, smsc_unix,
              concat_ref, concat_part, concat_total, message_reference, delivery_status, received_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
          arguments: [
            Self.dedupKey(part, simID: simID), simID, part.kind.rawValue, part.sender, part.text,
            part.binary.map { Data($0) }, part.timestamp?.description, part.timestamp?.unixTime,
            part.concatenation?.reference, part.concatenation?.part, part.concatenation?.total,
            part.messageReference, part.deliveryStatus, now,
          ])
      }
    }
  }

  /// The same part read twice (a delete that failed) is stored once.
  static func dedupKey(_ part: StoredSMS, simID: String) -> String {
    var fields = [simID, part.kind.rawValue, part.sender, part.timestamp?.description ?? "-", part.text]
    if let c = part.concatenation { fields.append("\(c.reference)/\(c.part)/\(c.total)") }
    if let binary = part.binary { fields.append(binary.map { String($0, radix: 16) }.joined()) }
    fields.append(String(part.messageReference))
    return fields.joined(separator: "\u{1F}")
  }

  // MARK: Health and alerts

  public func recordHealth(_ snapshot: ModemSnapshot) async throws {
    let now = Int(Date().timeIntervalSince1970)
    let oldest = now - Int(historyRetention.components.seconds)
    try await store.database.write { db in
      try db.execute(
        sql: "INSERT INTO modem_health (at, signal_dbm, signal_percent, registration, operator) VALUES (?, ?, ?, ?, ?)",
        arguments: [
          now, snapshot.signalDBm, snapshot.signalPercent, snapshot.registration,
          snapshot.operatorName ?? snapshot.operatorCode,
        ])
      try db.execute(sql: "DELETE FROM modem_health WHERE at < ?", arguments: [oldest])
    }
  }

  /// Signal readings since `since` (seconds since the epoch), oldest first;
  /// nil where the modem gave no percentage.
  public func signalHistory(since: Int) async throws -> [(at: Int, percent: Int?)] {
    try await store.database.read { db in
      try Row.fetchAll(
        db, sql: "SELECT at, signal_percent FROM modem_health WHERE at >= ? ORDER BY at", arguments: [since]
      ).map { (at: $0["at"], percent: $0["signal_percent"]) }
    }
  }

  public func raiseAlert(key: String, severity: String, text: String) async throws {
    let now = Date()
    let payload = try JSONSerialization.data(
      withJSONObject: ["key": key, "severity": severity, "text": text, "at": Int(now.timeIntervalSince1970)],
      options: [.sortedKeys])
    // One alert per key and hour: a problem that lasts does not flood the queue.
    let bucket = Int(now.timeIntervalSince1970) / 3600
    _ = try await outbox.enqueue(queue: Self.alertQueue, key: "\(key)@\(bucket)", payload: payload)
  }

  // MARK: SMS outbox

  /// What the SMS gateway puts in the `sms` queue.
  public struct OutgoingPayload: Codable, Sendable, Hashable {
    public var to: String
    public var text: String
    public var unicode: Bool
    public var multipart: Bool

    public init(to: String, text: String, unicode: Bool, multipart: Bool) {
      self.to = to
      self.text = text
      self.unicode = unicode
      self.multipart = multipart
    }
  }

  public func claim(limit: Int) async throws -> [OutgoingSMS] {
    let items = try await outbox.claim(queue: Self.smsQueue, owner: owner, lease: .seconds(300), limit: limit)
    var result: [OutgoingSMS] = []
    for item in items {
      guard let payload = try? JSONDecoder().decode(OutgoingPayload.self, from: item.payload) else {
        try await outbox.fail(item, reason: "unreadable SMS payload", retryable: false)
        continue
      }
      claimed.withLock { $0[item.id] = item }
      result.append(
        OutgoingSMS(
          id: item.id, to: payload.to, text: payload.text, unicode: payload.unicode, multipart: payload.multipart,
          attempts: item.attempts))
    }
    return result
  }

  public func sent(_ sms: OutgoingSMS, references: [Int]) async throws {
    guard let item = claimed.withLock({ $0.removeValue(forKey: sms.id) }) else { return }
    try await outbox.ack(item)
  }

  public func failed(_ sms: OutgoingSMS, reason: String, retryable: Bool) async throws {
    guard let item = claimed.withLock({ $0.removeValue(forKey: sms.id) }) else { return }
    try await outbox.fail(item, reason: reason, retryable: retryable)
  }

  public func release(_ sms: OutgoingSMS, reason: String) async throws {
    guard let item = claimed.withLock({ $0.removeValue(forKey: sms.id) }) else { return }
    try await outbox.release(item, reason: reason)
  }
}
