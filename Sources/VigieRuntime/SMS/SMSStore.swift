import Foundation
import GRDB
import VigieCore

/// The SMS gateway's tables: whole messages with their journal state, the
/// lockout and TOTP replay records, and delivery reports.
public final class SMSStore: Sendable {
  public static let migrations: [StateStoreMigration] = [
    StateStoreMigration("sms.v1") { db in
      try db.execute(
        sql: """
          CREATE TABLE sms_messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            dedup_key TEXT NOT NULL UNIQUE,
            sender TEXT NOT NULL,
            text TEXT NOT NULL,
            redacted TEXT,
            smsc_time TEXT,
            smsc_unix INTEGER,
            missing_parts TEXT NOT NULL DEFAULT '',
            received_at INTEGER NOT NULL,
            state TEXT NOT NULL,
            outcome TEXT,
            updated_at INTEGER NOT NULL
          );
          CREATE INDEX sms_messages_state ON sms_messages (state, id);
          CREATE TABLE sms_state (name TEXT PRIMARY KEY, value BLOB NOT NULL);
          CREATE TABLE sms_delivery_reports (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            recipient TEXT NOT NULL,
            message_reference INTEGER NOT NULL,
            status INTEGER NOT NULL,
            smsc_time TEXT,
            received_at INTEGER NOT NULL
          );
          """)
    },
    // Keys made before SMSStore used VigieCore's SMSDedupKey (a SHA-1 of the
    // raw fields joined by U+001F) are recomputed, so that a message read
    // again after the upgrade still finds its journal row. A row whose new
    // key another row already has is the same SMS twice: it keeps its old key.
    StateStoreMigration("sms.v2-dedup-key") { db in
      let rows = try Row.fetchAll(db, sql: "SELECT id, sender, smsc_time, text FROM sms_messages")
      for row in rows {
        let key = SMSStore.dedupKey(sender: row["sender"], timestamp: row["smsc_time"], text: row["text"])
        try db.execute(
          sql: "UPDATE OR IGNORE sms_messages SET dedup_key = ? WHERE id = ?", arguments: [key, row["id"] as Int64])
      }
    },
  ]

  public struct Message: Sendable, Hashable {
    public var id: Int64
    public var sender: String
    public var text: String
    public var redacted: String
    public var smscTime: String?
    public var smscUnix: Int64?
    public var missingParts: String
    public var receivedAt: Int
    public var state: String
    public var outcome: String?
  }

  public struct Reply: Sendable {
    public var to: String
    public var plan: SMSPlan
    public var budget: Int
  }

  let store: StateStore
  let outbox: Outbox

  public init(store: StateStore, outbox: Outbox) {
    self.store = store
    self.outbox = outbox
  }

  // MARK: Assembly

  /// Turns stored parts into messages (multipart reassembly) and files
  /// delivery reports, in one transaction. Returns the messages made.
  public func assemble(now: Int, timeout: Duration) async throws -> Int {
    try await store.database.write { db in
      let rows = try Row.fetchAll(db, sql: "SELECT * FROM sms_parts ORDER BY id")
      guard !rows.isEmpty else { return 0 }
      var parts: [ReceivedPart] = []
      for row in rows {
        let id: Int64 = row["id"]
        let kind: String = row["kind"]
        if kind == "statusReport" {
          try db.execute(
            sql: """
              INSERT INTO sms_delivery_reports (recipient, message_reference, status, smsc_time, received_at)
              VALUES (?, ?, ?, ?, ?)
              """,
            arguments: [row["sender"], row["message_reference"], row["delivery_status"], row["smsc_time"], now])
          try db.execute(sql: "DELETE FROM sms_parts WHERE id = ?", arguments: [id])
          continue
        }
        guard kind == "deliver" else {
          try db.execute(sql: "DELETE FROM sms_parts WHERE id = ?", arguments: [id])
          continue
        }
        var text: String = row["text"]
        if let binary = row["binary"] as Data? { text = "<binary message, \(binary.count) bytes>" }
        parts.append(
          ReceivedPart(
            id: id, sender: row["sender"], text: text, timestamp: row["smsc_time"],
            unixTime: (row["smsc_unix"] as Int64?).map(Int.init), reference: row["concat_ref"],
            part: row["concat_part"], total: row["concat_total"], receivedAt: row["received_at"]))
      }
      let messages = SMSReassembly.assemble(parts, now: now, timeout: timeout)
      for message in messages {
        let key = SMSStore.dedupKey(sender: message.sender, timestamp: message.timestamp, text: message.text)
        try db.execute(
          sql: """
            INSERT OR IGNORE INTO sms_messages
              (dedup_key, sender, text, smsc_time, smsc_unix, missing_parts, received_at, state, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, 'new', ?)
            """,
          arguments: [
            key, message.sender, message.text, message.timestamp, message.unixTime,
            message.missingParts.map(String.init).joined(separator: ","), now, now,
          ])
        for id in message.partIDs {
          try db.execute(sql: "DELETE FROM sms_parts WHERE id = ?", arguments: [id])
        }
      }
      return messages.count
    }
  }

  /// The same SMS (sender, SMSC timestamp, text) read twice is one message:
  /// it can never run twice. The key is VigieCore's ``SMSDedupKey``; the
  /// timestamp is the stored form (``SMSCTimestamp/description``). The
  /// sender is normalised without a region: the key must not change when
  /// `default_country_code` does.
  static func dedupKey(sender: String, timestamp: String?, text: String) -> String {
    let stamp = timestamp.flatMap { try? SMSCTimestamp(stored: $0) }
    return SMSDedupKey(modemSender: sender, timestamp: stamp, text: text).value
  }

  // MARK: Journal

  public func nextNew() async throws -> Message? {
    try await store.database.read { db in
      try Row.fetchOne(db, sql: "SELECT * FROM sms_messages WHERE state = 'new' ORDER BY id LIMIT 1").map(Self.message)
    }
  }

  /// Messages whose command was running when the process stopped: they are
  /// marked `interrupted` and never run again.
  public func markInterrupted() async throws -> [Message] {
    try await store.database.write { db in
      let rows = try Row.fetchAll(db, sql: "SELECT * FROM sms_messages WHERE state = 'running'")
      try db.execute(
        sql:
          "UPDATE sms_messages SET state = 'interrupted', outcome = 'interrupted by a restart', updated_at = ? WHERE state = 'running'",
        arguments: [Int(Date().timeIntervalSince1970)])
      return rows.map(Self.message)
    }
  }

  public func markRunning(_ id: Int64, redacted: String) async throws {
    try await store.database.write { db in
      try db.execute(
        sql: "UPDATE sms_messages SET state = 'running', redacted = ?, updated_at = ? WHERE id = ?",
        arguments: [redacted, Int(Date().timeIntervalSince1970), id])
    }
  }

  /// Records the outcome and, when there is a reply and budget left, queues
  /// it, atomically. Returns false when the budget stopped the reply.
  @discardableResult
  public func finish(_ id: Int64, state: String, outcome: String, reply: Reply?, redacted: String? = nil)
    async throws -> Bool
  {
    let outbox = self.outbox
    return try await store.database.write { db in
      var queued = true
      if let reply {
        if try Self.sentToday(db) >= reply.budget {
          queued = false
        } else {
          let payload = try JSONEncoder().encode(
            ModemStore.OutgoingPayload(
              to: reply.to, text: reply.plan.text, unicode: reply.plan.encoding == .ucs2,
              multipart: reply.plan.isMultipart))
          _ = try outbox.enqueue(queue: ModemStore.smsQueue, key: "reply-\(id)", payload: payload, in: db)
        }
      }
      try db.execute(
        sql: """
          UPDATE sms_messages SET state = ?, outcome = ?, redacted = COALESCE(?, redacted), updated_at = ? WHERE id = ?
          """,
        arguments: [
          state, queued ? outcome : outcome + "; reply not sent: daily budget reached", redacted,
          Int(Date().timeIntervalSince1970), id,
        ])
      return queued
    }
  }

  /// SMS queued since the start of the current UTC day (for the budget).
  public func sentTodayCount() async throws -> Int {
    try await store.database.read { try Self.sentToday($0) }
  }

  /// SMS queued since the start of the current UTC day.
  static func sentToday(_ db: Database) throws -> Int {
    let now = Int64(Date().timeIntervalSince1970)
    let midnight = (now - now % 86_400) * 1000
    return try Int.fetchOne(
      db, sql: "SELECT COUNT(*) FROM outbox WHERE queue = ? AND created_at >= ?",
      arguments: [ModemStore.smsQueue, midnight]) ?? 0
  }

  /// Queues an SMS sent by a person (`vigie sms send`) or an alert.
  public func send(to number: String, text: String, key: String, maxParts: Int, budget: Int) async throws -> SMSPlan? {
    let outbox = self.outbox
    let plan = SMSPlan.capped(text: text, maxParts: maxParts)
    return try await store.database.write { db in
      guard try Self.sentToday(db) < budget else { return nil }
      let payload = try JSONEncoder().encode(
        ModemStore.OutgoingPayload(
          to: number, text: plan.text, unicode: plan.encoding == .ucs2, multipart: plan.isMultipart))
      _ = try outbox.enqueue(queue: ModemStore.smsQueue, key: key, payload: payload, in: db)
      return plan
    }
  }

  /// The latest messages, newest first.
  public func recent(limit: Int = 20) async throws -> [Message] {
    try await store.database.read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM sms_messages ORDER BY id DESC LIMIT ?", arguments: [limit]).map(
        Self.message)
    }
  }

  // MARK: Lockout and replay records

  public func lockout(policy: SenderLockout.Policy) async throws -> SenderLockout {
    let data = try await store.database.read { db in
      try Data.fetchOne(db, sql: "SELECT value FROM sms_state WHERE name = 'lockout'")
    }
    var lockout = data.flatMap { try? JSONDecoder().decode(SenderLockout.self, from: $0) } ?? SenderLockout()
    lockout.policy = policy
    return lockout
  }

  public func replayGuard() async throws -> TOTPReplayGuard {
    let data = try await store.database.read { db in
      try Data.fetchOne(db, sql: "SELECT value FROM sms_state WHERE name = 'totp'")
    }
    return data.flatMap { try? JSONDecoder().decode(TOTPReplayGuard.self, from: $0) } ?? TOTPReplayGuard()
  }

  public func save(lockout: SenderLockout, replayGuard: TOTPReplayGuard) async throws {
    var lockout = lockout
    lockout.prune(at: Int64(Date().timeIntervalSince1970))
    let lockoutData = try JSONEncoder().encode(lockout)
    let guardData = try JSONEncoder().encode(replayGuard)
    try await store.database.write { db in
      try db.execute(
        sql:
          "INSERT INTO sms_state (name, value) VALUES ('lockout', ?), ('totp', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        arguments: [lockoutData, guardData])
    }
  }

  static func message(_ row: Row) -> Message {
    Message(
      id: row["id"], sender: row["sender"], text: row["text"], redacted: row["redacted"] ?? "",
      smscTime: row["smsc_time"], smscUnix: row["smsc_unix"], missingParts: row["missing_parts"],
      receivedAt: row["received_at"], state: row["state"], outcome: row["outcome"])
  }
}
