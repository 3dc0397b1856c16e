import Foundation
import GRDB
import VigieCore

/// One item of the durable outbox.
public struct OutboxItem: Sendable, Hashable, Identifiable {
  /// Where an item stands.
  public enum State: String, Sendable, Hashable, CaseIterable {
    /// Waiting for a claim (maybe not due yet; maybe its last lease expired).
    case pending
    /// Claimed, and the lease still holds.
    case leased
    /// Given up; kept until someone requeues it. Never deleted silently.
    case dead
    /// Delivered. Kept as a tombstone (so its key is still recognised) for
    /// ``OutboxPolicy/tombstoneRetention``, then pruned.
    case acked
  }

  /// The claim that an item returned by ``Outbox/claim(queue:owner:lease:limit:)``
  /// carries: only it can ack or fail the item.
  public struct Lease: Sendable, Hashable {
    /// Who claimed the item (for diagnostics).
    public let owner: String
    /// Identifies this claim among all claims of the item.
    public let token: Int64
    /// When the claim was made.
    public let leasedAt: Date
    /// When other claimers may take the item again.
    public let until: Date
  }

  /// Unique in the database, never reused.
  public let id: Int64
  /// The named queue (`"sms"`, `"alerts.irc"`...).
  public let queue: String
  /// The idempotency key, unique in its queue.
  public let key: String
  /// What to deliver, encoded by the caller (JSON).
  public let payload: Data
  /// Where the item stands when it was read.
  public let state: State
  /// Delivery attempts so far (claims, including the current one).
  public let attempts: Int
  /// When the item was first enqueued: an alert delivered late shows its age.
  public let createdAt: Date
  /// Not to be claimed before this (the caller's, or the retry time).
  public let notBefore: Date
  /// The reason given by the last failure, if any.
  public let lastError: String?
  /// The current or last lease; set on items returned by `claim`.
  public let lease: Lease?
  /// When the item was acknowledged or dead-lettered.
  public let finishedAt: Date?
}

/// What ``Outbox/enqueue(queue:key:payload:notBefore:)`` did.
public struct OutboxEnqueueResult: Sendable, Hashable {
  /// The new item, or the one already holding the key (pending, leased,
  /// dead, or an acked tombstone).
  public let item: OutboxItem
  /// False when the key was already there: nothing was written.
  public let inserted: Bool
}

/// What ``Outbox/fail(_:reason:retryable:)`` did.
public enum OutboxFailureResult: Sendable, Hashable {
  /// The item will be claimable again at this time.
  case retry(at: Date)
  /// The item is in the dead letters, with the reason as its last error.
  case deadLettered(OutboxPolicy.DeadLetterCause)
}

/// Counts of one queue, for `vigie status` and metrics.
public struct OutboxCounts: Sendable, Hashable {
  /// Waiting for a claim, due or not (expired leases included).
  public var pending = 0
  /// Claimed, lease holding.
  public var leased = 0
  /// In the dead letters.
  public var dead = 0
  /// Acknowledged tombstones not yet pruned.
  public var acked = 0
  /// Creation time of the oldest item that is pending or leased and should
  /// have been delivered by now (items scheduled for later and never tried
  /// do not count).
  public var oldestPendingCreatedAt: Date?
  /// The age of that item when the counts were taken.
  public var oldestPendingAge: Duration?

  /// Zero counts.
  public init() {}
}

/// An error of the outbox.
public struct OutboxError: Error, CustomStringConvertible {
  /// What went wrong, to match on; new codes may be added.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    private enum Value: String, Sendable {
      case staleLease, alreadyAcknowledged, notFound, notDeadLettered, invalidArgument,
        databaseFailed
    }
    private let value: Value
    private init(_ value: Value) { self.value = value }

    /// The claim used is no longer the item's current lease: the lease
    /// expired and someone claimed the item again, or it was failed or
    /// dead-lettered meanwhile. Drop the claim.
    public static let staleLease = Code(.staleLease)
    /// This very claim already acknowledged the item.
    public static let alreadyAcknowledged = Code(.alreadyAcknowledged)
    /// No item has this id (never existed, or a pruned tombstone).
    public static let notFound = Code(.notFound)
    /// `requeue` was asked for an item that is not dead.
    public static let notDeadLettered = Code(.notDeadLettered)
    /// An argument is out of range (empty queue or key, zero limit...).
    public static let invalidArgument = Code(.invalidArgument)
    /// SQLite failed (disk full, I/O error...): see the underlying error.
    public static let databaseFailed = Code(.databaseFailed)

    /// The code's name, as in the source.
    public var description: String { value.rawValue }
  }

  /// What went wrong.
  public var code: Code
  /// A sentence that says what failed, on what, and what to do.
  public var message: String
  /// The item concerned, if any.
  public var itemID: Int64?
  /// The SQLite error, if any.
  public var underlyingError: (any Error)?

  /// Creates an error.
  public init(
    code: Code, message: String, itemID: Int64? = nil, underlyingError: (any Error)? = nil
  ) {
    self.code = code
    self.message = message
    self.itemID = itemID
    self.underlyingError = underlyingError
  }

  /// The message, followed by the underlying error if any.
  public var description: String {
    guard let underlyingError else { return message }
    return "\(message) (\(underlyingError))"
  }
}

/// The generic durable outbox: many named queues in one table of the state
/// database.
///
/// - Delivery to external peers is at least once: an item is claimed (leased)
///   by a worker, delivered, then acknowledged. If the worker dies before the
///   ack, the lease expires and the item is claimed again, so peers must
///   deduplicate by ``OutboxItem/key``.
/// - Delivery into a local sink (a table of the same database) is exactly
///   once with ``ack(_:perform:)``, which runs the sink's writes and the ack
///   in one transaction.
/// - Enqueuing is idempotent: the same key in the same queue returns the
///   existing item, even after it was acknowledged, for as long as its
///   tombstone is kept.
/// - Every state change is one transaction of the store (WAL,
///   `synchronous = FULL`): once a call returns, its effect survives kill -9
///   and power loss.
///
/// The policy is the caller's: two `Outbox` values with different policies can
/// serve different queues of the same table.
public struct Outbox: Sendable {
  /// The store holding the `outbox` table.
  public let store: StateStore
  /// Retries, leases and tombstones.
  public var policy: OutboxPolicy
  /// The clock: every timestamp comes from it.
  public let now: @Sendable () -> Date

  /// Creates an outbox over `store`'s table.
  public init(
    store: StateStore, policy: OutboxPolicy = .default,
    now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.store = store
    self.policy = policy
    self.now = now
  }

  /// The migrations creating the outbox table; part of
  /// ``StateStore/builtInMigrations``.
  public static let migrations: [StateStoreMigration] = [
    StateStoreMigration("outbox.v1") { db in
      // Times are milliseconds since the Unix epoch. `scheduled_at` is when a
      // relative wait was decided (enqueue "now", a retry backoff), NULL for
      // a caller's absolute `not_before`; `leased_at` is when the current
      // lease was taken: both detect a clock that went backwards.
      // Lease columns are kept after ack or dead-letter (who held it last).
      try db.execute(
        sql: """
          CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            queue TEXT NOT NULL CHECK (queue <> ''),
            key TEXT NOT NULL CHECK (key <> ''),
            payload BLOB NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
              CHECK (state IN ('pending', 'leased', 'dead', 'acked')),
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            not_before INTEGER NOT NULL,
            scheduled_at INTEGER,
            lease_owner TEXT,
            lease_token INTEGER,
            leased_at INTEGER,
            lease_until INTEGER,
            last_error TEXT,
            finished_at INTEGER,
            UNIQUE (queue, key)
          );
          CREATE INDEX outbox_by_state ON outbox (queue, state, id);
          CREATE INDEX outbox_finished ON outbox (state, finished_at);
          """)
    }
  ]

  // MARK: - Enqueue

  /// Adds an item to `queue` under the idempotency `key`, claimable from
  /// `notBefore` (now when nil), in its own transaction.
  ///
  /// `notBefore` is an absolute time, honoured even if the clock steps
  /// backwards meanwhile; retry delays, in contrast, are relative and end at
  /// once when the clock goes back past the failure.
  ///
  /// If the key is already in the queue (pending, leased, dead, or an acked
  /// tombstone), nothing is written and the existing item is returned, even
  /// when its payload differs.
  public func enqueue(
    queue: String, key: String, payload: Data, notBefore: Date? = nil
  ) async throws -> OutboxEnqueueResult {
    try Self.validate(queue: queue, key: key)
    return try await write("enqueuing key '\(key)' in outbox queue '\(queue)'") { db in
      try self.enqueue(queue: queue, key: key, payload: payload, notBefore: notBefore, in: db)
    }
  }

  /// ``enqueue(queue:key:payload:notBefore:)`` inside the caller's
  /// transaction, so that the item is enqueued if and only if the caller's
  /// own writes commit (record an incoming SMS and enqueue its forwarding in
  /// one transaction).
  public func enqueue(
    queue: String, key: String, payload: Data, notBefore: Date? = nil, in db: Database
  ) throws -> OutboxEnqueueResult {
    try Self.validate(queue: queue, key: key)
    if let row = try Row.fetchOne(
      db, sql: "SELECT * FROM outbox WHERE queue = ? AND key = ?", arguments: [queue, key])
    {
      return OutboxEnqueueResult(item: try item(row, now: now().millis), inserted: false)
    }
    let now = self.now().millis
    // No notBefore: due now, a relative wait (see OutboxPolicy.isDue); a
    // notBefore given by the caller is absolute.
    try db.execute(
      sql: """
        INSERT INTO outbox (queue, key, payload, state, attempts, created_at, not_before, scheduled_at)
        VALUES (?, ?, ?, 'pending', 0, ?, ?, ?)
        """,
      arguments: [queue, key, payload, now, notBefore?.millis ?? now, notBefore == nil ? now : nil])
    let row = try Row.fetchOne(
      db, sql: "SELECT * FROM outbox WHERE id = ?", arguments: [db.lastInsertedRowID])
    guard let row else {
      throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "inserted outbox row vanished")
    }
    return OutboxEnqueueResult(item: try item(row, now: now), inserted: true)
  }

  // MARK: - Claim

  // The SQL twins of `OutboxPolicy.leaseHolds` and `OutboxPolicy.isDue`,
  // with `:now` bound to the current time in milliseconds. Keep in step.
  private static let leaseHoldsSQL = "(leased_at <= :now AND :now < lease_until)"
  private static let isDueSQL =
    "(not_before <= :now OR (scheduled_at IS NOT NULL AND :now < scheduled_at))"

  /// Claims up to `limit` items of `queue` whose time has come and that
  /// nobody holds (never claimed, failed and due for a retry, or whose lease
  /// expired), oldest first, for `lease` (the policy's lease when nil), in
  /// one transaction. Each claim counts as an attempt.
  ///
  /// An item whose lease expired without ack or failure after the policy's
  /// last attempt is dead-lettered instead of claimed (a worker that crashes
  /// on it would otherwise crash forever).
  ///
  /// Deliver each returned item, then ``ack(_:)`` or ``fail(_:reason:retryable:)``
  /// it with the returned value (it carries the lease).
  public func claim(queue: String, owner: String, lease: Duration? = nil, limit: Int = 1)
    async throws -> [OutboxItem]
  {
    try Self.validate(queue: queue, key: nil)
    guard limit >= 1 else {
      throw OutboxError(
        code: .invalidArgument,
        message: "claim from outbox queue '\(queue)' asked for \(limit) items: ask for at least 1")
    }
    let lease = lease ?? policy.lease
    guard lease > .zero else {
      throw OutboxError(
        code: .invalidArgument,
        message:
          "claim from outbox queue '\(queue)' asked for a lease of \(lease): use a positive duration"
      )
    }
    return try await write("claiming from outbox queue '\(queue)'") { db in
      let now = self.now().millis
      let until = now.addingClamped(lease.millis)
      let token = Int64.random(in: 1...Int64.max)
      var claimed: [OutboxItem] = []
      while claimed.count < limit {
        let wanted = limit - claimed.count
        let rows = try Row.fetchAll(
          db,
          sql: """
            SELECT * FROM outbox
            WHERE queue = :queue AND state IN ('pending', 'leased') AND \(Self.isDueSQL)
              AND (state = 'pending' OR NOT \(Self.leaseHoldsSQL))
            ORDER BY id LIMIT :limit
            """,
          arguments: ["queue": queue, "now": now, "limit": wanted])
        var abandoned = 0
        for row in rows {
          let id: Int64 = row["id"]
          let attempts: Int = row["attempts"]
          if !policy.mayReclaim(afterAttempts: attempts) {
            let previous: String? = row["last_error"]
            let wasLeased = (row["state"] as String) == OutboxItem.State.leased.rawValue
            var reason =
              wasLeased
              ? "gave up after \(attempts) attempts: the last lease expired without ack or fail "
                + "(did the worker crash on this item?)"
              : "gave up after \(attempts) attempts (the policy allows \(policy.maxAttempts))"
            if let previous { reason += "; previous error: \(previous)" }
            try db.execute(
              sql: "UPDATE outbox SET state = 'dead', finished_at = ?, last_error = ? WHERE id = ?",
              arguments: [now, Self.truncated(reason), id])
            abandoned += 1
            continue
          }
          try db.execute(
            sql: """
              UPDATE outbox SET state = 'leased', attempts = attempts + 1, lease_owner = ?, lease_token = ?,
                leased_at = ?, lease_until = ?
              WHERE id = ?
              """,
            arguments: [owner, token, now, until, id])
          guard
            let updated = try Row.fetchOne(
              db, sql: "SELECT * FROM outbox WHERE id = ?", arguments: [id])
          else {
            continue
          }
          claimed.append(try item(updated, now: now))
        }
        // Dead-lettered rows made room: look again, else we are done.
        if abandoned == 0 || rows.count < wanted { break }
      }
      return claimed
    }
  }

  // MARK: - Ack and fail

  /// Acknowledges a delivered item: it becomes a tombstone. Only the claim
  /// that holds the item may ack it; an ack after the lease expired is
  /// accepted as long as nobody claimed the item again.
  ///
  /// - Throws: ``OutboxError`` ``OutboxError/Code/staleLease`` when another
  ///   claim took the item over (or it was failed or requeued meanwhile),
  ///   ``OutboxError/Code/alreadyAcknowledged`` when this claim already acked it.
  public func ack(_ item: OutboxItem) async throws {
    _ = try await ack(item) { _ in () }
  }

  /// Acknowledges `item` and runs `perform` (the caller's own writes, for
  /// example inserting into a local sink table) in the same transaction:
  /// both commit or neither does. This makes delivery into a local sink
  /// exactly once. If `perform` throws, nothing is written, the item stays
  /// leased, and the error is rethrown as is.
  ///
  /// `perform` runs only after the lease has been checked.
  public func ack<T: Sendable>(
    _ item: OutboxItem, perform: @escaping @Sendable (Database) throws -> T
  ) async throws -> T {
    let token = try Self.leaseToken(of: item, doing: "acknowledge")
    return try await write("acknowledging outbox item \(item.id)") { db in
      try self.checkLease(of: item, token: token, doing: "acknowledge", in: db)
      let result: T
      do { result = try perform(db) } catch { throw CallerError(error: error) }
      try db.execute(
        sql: "UPDATE outbox SET state = 'acked', finished_at = ? WHERE id = ? AND lease_token = ?",
        arguments: [self.now().millis, item.id, token])
      return result
    }
  }

  /// Records a failed attempt of a claimed item with `reason`. The item is
  /// retried after the policy's backoff for its attempt count, or
  /// dead-lettered (keeping `reason`) when `retryable` is false or the
  /// attempts are used up.
  ///
  /// - Throws: ``OutboxError`` ``OutboxError/Code/staleLease`` as ``ack(_:)`` does.
  @discardableResult
  public func fail(_ item: OutboxItem, reason: String, retryable: Bool = true) async throws
    -> OutboxFailureResult
  {
    let token = try Self.leaseToken(of: item, doing: "fail")
    let reason = Self.truncated(reason)
    return try await write("recording a failure of outbox item \(item.id)") { db in
      let row = try self.checkLease(of: item, token: token, doing: "fail", in: db)
      let now = self.now().millis
      let attempts: Int = row["attempts"]
      switch policy.outcome(ofFailedAttempt: attempts, retryable: retryable) {
      case .retry(let delay):
        let at = now.addingClamped(delay.millis)
        try db.execute(
          sql:
            "UPDATE outbox SET state = 'pending', not_before = ?, scheduled_at = ?, last_error = ? WHERE id = ?",
          arguments: [at, now, reason, item.id])
        return .retry(at: Date(millis: at))
      case .deadLetter(let cause):
        try db.execute(
          sql: "UPDATE outbox SET state = 'dead', finished_at = ?, last_error = ? WHERE id = ?",
          arguments: [now, reason, item.id])
        return .deadLettered(cause)
      }
    }
  }

  /// Gives a claimed item back, due now, without counting the attempt: the
  /// worker could not try it through no fault of the item (the modem was
  /// unplugged mid-send). Other claimers take it at once instead of
  /// waiting for the lease to expire. `reason` is kept as its last error.
  ///
  /// - Throws: ``OutboxError`` ``OutboxError/Code/staleLease`` as ``ack(_:)`` does.
  public func release(_ item: OutboxItem, reason: String) async throws {
    let token = try Self.leaseToken(of: item, doing: "release")
    let reason = Self.truncated(reason)
    try await write("releasing outbox item \(item.id)") { db in
      try self.checkLease(of: item, token: token, doing: "release", in: db)
      let now = self.now().millis
      try db.execute(
        sql: """
          UPDATE outbox SET state = 'pending', attempts = MAX(0, attempts - 1), not_before = ?, scheduled_at = ?,
            last_error = ?
          WHERE id = ?
          """,
        arguments: [now, now, reason, item.id])
    }
  }

  // MARK: - Dead letters

  /// The dead items of `queue`, oldest first, at most `limit`.
  public func deadLetters(queue: String, limit: Int = 100) async throws -> [OutboxItem] {
    try await read("reading the dead letters of outbox queue '\(queue)'") { db in
      let now = self.now().millis
      return try Row.fetchAll(
        db, sql: "SELECT * FROM outbox WHERE queue = ? AND state = 'dead' ORDER BY id LIMIT ?",
        arguments: [queue, max(0, limit)]
      ).map { try self.item($0, now: now) }
    }
  }

  /// Puts a dead item back in its queue, due now, with a fresh attempt
  /// count; its last error is kept until the next failure.
  ///
  /// - Throws: ``OutboxError`` ``OutboxError/Code/notFound`` or
  ///   ``OutboxError/Code/notDeadLettered``.
  @discardableResult
  public func requeue(id: Int64) async throws -> OutboxItem {
    try await write("requeuing outbox item \(id)") { db in
      guard
        let row = try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE id = ?", arguments: [id])
      else {
        throw OutboxError(
          code: .notFound,
          message:
            "cannot requeue outbox item \(id): there is no such item (list the dead letters for ids)",
          itemID: id)
      }
      let state: String = row["state"]
      guard state == OutboxItem.State.dead.rawValue else {
        throw OutboxError(
          code: .notDeadLettered,
          message:
            "cannot requeue outbox item \(id) of queue '\(row["queue"] as String)': it is \(state), not dead",
          itemID: id)
      }
      let now = self.now().millis
      try db.execute(
        sql: """
          UPDATE outbox SET state = 'pending', attempts = 0, not_before = ?, scheduled_at = ?, finished_at = NULL
          WHERE id = ?
          """,
        arguments: [now, now, id])
      guard
        let updated = try Row.fetchOne(
          db, sql: "SELECT * FROM outbox WHERE id = ?", arguments: [id])
      else {
        throw OutboxError(
          code: .notFound, message: "outbox item \(id) vanished while requeued", itemID: id)
      }
      return try self.item(updated, now: now)
    }
  }

  // MARK: - Inspection

  /// The item with this id, as it stands now, or nil.
  public func item(id: Int64) async throws -> OutboxItem? {
    try await read("reading outbox item \(id)") { db in
      try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE id = ?", arguments: [id]).map {
        try self.item($0, now: self.now().millis)
      }
    }
  }

  /// The newest items of `queue` in any state (tombstones of delivered
  /// items included, while they are kept), newest first.
  public func recent(queue: String, limit: Int = 20) async throws -> [OutboxItem] {
    try await read("reading the latest items of outbox queue '\(queue)'") { db in
      let now = self.now().millis
      return try Row.fetchAll(
        db, sql: "SELECT * FROM outbox WHERE queue = ? ORDER BY id DESC LIMIT ?", arguments: [queue, max(0, limit)]
      ).map { try self.item($0, now: now) }
    }
  }

  /// The item of `queue` with this idempotency key, or nil.
  public func item(queue: String, key: String) async throws -> OutboxItem? {
    try await read("reading key '\(key)' of outbox queue '\(queue)'") { db in
      try Row.fetchOne(
        db, sql: "SELECT * FROM outbox WHERE queue = ? AND key = ?", arguments: [queue, key]
      ).map {
        try self.item($0, now: self.now().millis)
      }
    }
  }

  /// Items of `queue` not delivered yet (pending or leased), oldest first;
  /// a read, nothing is claimed (the alert router looks at what chat still
  /// owes to decide on SMS fallback).
  public func undelivered(queue: String, limit: Int = 100) async throws -> [OutboxItem] {
    try await read("listing outbox queue '\(queue)'") { db in
      try Row.fetchAll(
        db, sql: "SELECT * FROM outbox WHERE queue = ? AND state IN ('pending', 'leased') ORDER BY id LIMIT ?",
        arguments: [queue, limit]
      ).map { try self.item($0, now: self.now().millis) }
    }
  }

  /// Counts of every queue that has items.
  public func counts() async throws -> [String: OutboxCounts] {
    try await read("counting outbox items") { db in
      try self.counts(where: "1", arguments: [:], in: db)
    }
  }

  /// Counts of one queue (zeros when it has no items).
  public func counts(queue: String) async throws -> OutboxCounts {
    try await read("counting outbox queue '\(queue)'") { db in
      try self.counts(where: "queue = :queue", arguments: ["queue": queue], in: db)[queue]
        ?? OutboxCounts()
    }
  }

  // MARK: - Tombstones

  /// Deletes acknowledged tombstones older than the policy's
  /// ``OutboxPolicy/tombstoneRetention`` (all queues); returns how many.
  /// Call it now and then (hourly): each call is a write.
  @discardableResult
  public func pruneTombstones() async throws -> Int {
    try await write("pruning outbox tombstones") { db in
      let limit = self.now().millis.addingClamped(-policy.tombstoneRetention.millis)
      try db.execute(
        sql: "DELETE FROM outbox WHERE state = 'acked' AND finished_at <= ?", arguments: [limit])
      return db.changesCount
    }
  }

  // MARK: - Helpers

  /// Wraps an error thrown by the caller's closure so that it is rethrown
  /// unchanged rather than as a database failure.
  private struct CallerError: Error {
    var error: any Error
  }

  private func write<T: Sendable>(
    _ what: String, _ body: @escaping @Sendable (Database) throws -> T
  ) async throws -> T {
    do {
      return try await store.database.write(body)
    } catch {
      throw translate(error, what)
    }
  }

  private func read<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T)
    async throws -> T
  {
    do {
      return try await store.database.read(body)
    } catch {
      throw translate(error, what)
    }
  }

  private func translate(_ error: any Error, _ what: String) -> any Error {
    switch error {
    case let error as OutboxError: return error
    case let error as CallerError: return error.error
    default:
      return OutboxError(
        code: .databaseFailed,
        message:
          "\(what) failed in state database \(store.path): check free space and the SD card (dmesg)",
        underlyingError: error)
    }
  }

  private static func validate(queue: String, key: String?) throws {
    if queue.isEmpty {
      throw OutboxError(
        code: .invalidArgument, message: "an outbox queue name is empty: name the queue")
    }
    if let key, key.isEmpty {
      throw OutboxError(
        code: .invalidArgument,
        message:
          "an idempotency key for outbox queue '\(queue)' is empty: derive one from what is delivered"
      )
    }
  }

  private static func leaseToken(of item: OutboxItem, doing verb: String) throws -> Int64 {
    guard let lease = item.lease else {
      throw OutboxError(
        code: .invalidArgument,
        message: "cannot \(verb) outbox item \(item.id) of queue '\(item.queue)': "
          + "this value carries no lease; use the item returned by claim",
        itemID: item.id)
    }
    return lease.token
  }

  /// Returns the item's row if `token` is its current lease, else throws
  /// an error that says what happened to it.
  @discardableResult
  private func checkLease(of item: OutboxItem, token: Int64, doing verb: String, in db: Database)
    throws -> Row
  {
    let what = "cannot \(verb) outbox item \(item.id) (queue '\(item.queue)', key '\(item.key)')"
    guard
      let row = try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE id = ?", arguments: [item.id])
    else {
      throw OutboxError(
        code: .notFound, message: "\(what): it no longer exists (its tombstone was pruned?)",
        itemID: item.id)
    }
    let state: String = row["state"]
    let current: Int64? = row["lease_token"]
    if state == OutboxItem.State.leased.rawValue && current == token { return row }
    let owner = item.lease?.owner ?? "?"
    if state == OutboxItem.State.acked.rawValue && current == token {
      throw OutboxError(
        code: .alreadyAcknowledged, message: "\(what): this claim already acknowledged it",
        itemID: item.id)
    }
    let explanation: String
    if current != token, let newOwner: String = row["lease_owner"] {
      explanation =
        "the lease of '\(owner)' expired and '\(newOwner)' claimed it again (it is now \(state)); "
        + "drop this claim: the delivery may have been duplicated, peers dedupe by key"
    } else {
      explanation =
        "it was \(state == "pending" ? "failed or requeued" : state) since this claim; drop this claim"
    }
    throw OutboxError(code: .staleLease, message: "\(what): \(explanation)", itemID: item.id)
  }

  private func counts(where filter: String, arguments: StatementArguments, in db: Database) throws
    -> [String:
    OutboxCounts]
  {
    let now = self.now().millis
    var arguments = arguments
    arguments += ["now": now]
    let rows = try Row.fetchAll(
      db,
      sql: """
        SELECT queue,
          SUM(state = 'pending' OR (state = 'leased' AND NOT \(Self.leaseHoldsSQL))) AS pending,
          SUM(state = 'leased' AND \(Self.leaseHoldsSQL)) AS leased,
          SUM(state = 'dead') AS dead,
          SUM(state = 'acked') AS acked,
          MIN(CASE WHEN state IN ('pending', 'leased') AND (attempts > 0 OR \(Self.isDueSQL))
            THEN created_at END) AS oldest
        FROM outbox WHERE \(filter) GROUP BY queue
        """,
      arguments: arguments)
    var result: [String: OutboxCounts] = [:]
    for row in rows {
      var counts = OutboxCounts()
      counts.pending = row["pending"]
      counts.leased = row["leased"]
      counts.dead = row["dead"]
      counts.acked = row["acked"]
      if let oldest: Int64 = row["oldest"] {
        counts.oldestPendingCreatedAt = Date(millis: oldest)
        counts.oldestPendingAge = .milliseconds(max(0, now - oldest))
      }
      result[row["queue"]] = counts
    }
    return result
  }

  /// Decodes a row; `state` is the effective one at `now` (an expired lease
  /// reads as pending).
  private func item(_ row: Row, now: Int64) throws -> OutboxItem {
    let stored: String = row["state"]
    guard var state = OutboxItem.State(rawValue: stored) else {
      throw DatabaseError(
        resultCode: .SQLITE_CORRUPT, message: "outbox item has unknown state '\(stored)'")
    }
    var lease: OutboxItem.Lease?
    if let owner: String = row["lease_owner"], let token: Int64 = row["lease_token"],
      let leasedAt: Int64 = row["leased_at"], let until: Int64 = row["lease_until"]
    {
      lease = OutboxItem.Lease(
        owner: owner, token: token, leasedAt: Date(millis: leasedAt), until: Date(millis: until))
      if state == .leased
        && !OutboxPolicy.leaseHolds(leasedAt: leasedAt, leaseUntil: until, now: now)
      {
        state = .pending
      }
    }
    return OutboxItem(
      id: row["id"], queue: row["queue"], key: row["key"], payload: row["payload"], state: state,
      attempts: row["attempts"], createdAt: Date(millis: row["created_at"]),
      notBefore: Date(millis: row["not_before"]),
      lastError: row["last_error"], lease: lease,
      finishedAt: (row["finished_at"] as Int64?).map(Date.init(millis:)))
  }

  /// Reasons come from error descriptions; keep a runaway one from bloating
  /// the database.
  private static func truncated(_ reason: String) -> String {
    reason.count <= 2000 ? reason : String(reason.prefix(2000)) + "…"
  }
}

// MARK: - Time in milliseconds

extension Date {
  /// Milliseconds since the Unix epoch, rounded down: how the store keeps time.
  var millis: Int64 {
    let value = (timeIntervalSince1970 * 1000).rounded(.down)
    guard value.isFinite else { return 0 }
    return Int64(max(Double(Int64.min / 2), min(Double(Int64.max / 2), value)))
  }

  init(millis: Int64) {
    self.init(timeIntervalSince1970: Double(millis) / 1000)
  }
}

extension Duration {
  /// The duration in whole milliseconds (rounded down), clamped to a range
  /// that cannot overflow when added to a timestamp.
  var millis: Int64 {
    let (seconds, attoseconds) = components
    let limit = Int64.max / 4_000
    if seconds >= limit { return Int64.max / 4 }
    if seconds <= -limit { return Int64.min / 4 }
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
  }
}

extension Int64 {
  /// Addition that saturates instead of trapping.
  fileprivate func addingClamped(_ other: Int64) -> Int64 {
    let (sum, overflow) = addingReportingOverflow(other)
    if !overflow { return sum }
    return other > 0 ? .max : .min
  }
}
