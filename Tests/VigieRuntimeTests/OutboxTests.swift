import Foundation
import GRDB
import Synchronization
import Testing
import VigieCore
import VigieRuntime

/// A local sink for the transactional ack.
private let sinkMigration = StateStoreMigration("test.v1-sink") { db in
  try db.execute(sql: "CREATE TABLE sink (key TEXT PRIMARY KEY, payload BLOB NOT NULL)")
}

/// Deterministic policy: 3 attempts, 10 s doubling backoff without jitter,
/// 30 s lease, tombstones kept 7 days.
private let testPolicy = OutboxPolicy(
  maxAttempts: 3, backoff: Backoff(base: .seconds(10), factor: 2, cap: .seconds(300), jitter: 0),
  lease: .seconds(30))

private func withOutbox(
  policy: OutboxPolicy = testPolicy, _ body: (Outbox, StoreFixtures.Clock) async throws -> Void
) async throws {
  try await StoreFixtures.withTemporaryDirectory { directory in
    let store = try StateStore.open(
      at: directory, migrations: [sinkMigration], logger: StoreFixtures.quietLogger)
    defer { try? store.close() }
    let clock = StoreFixtures.Clock()
    try await body(Outbox(store: store, policy: policy, now: { clock.now }), clock)
  }
}

extension String {
  fileprivate var data: Data { Data(utf8) }
}

@Suite struct OutboxTests {
  @Test("enqueue, claim oldest first, ack")
  func enqueueClaimAck() async throws {
    try await withOutbox { outbox, clock in
      let created = clock.now
      for key in ["a", "b", "c"] {
        let result = try await outbox.enqueue(
          queue: "sms", key: key, payload: "payload \(key)".data)
        #expect(result.inserted)
        #expect(result.item.state == .pending)
        #expect(result.item.createdAt == clock.now)
        clock.advance(.seconds(1))
      }
      _ = try await outbox.enqueue(queue: "irc", key: "a", payload: "other queue".data)

      let claimed = try await outbox.claim(queue: "sms", owner: "worker-1", limit: 2)
      #expect(claimed.map(\.key) == ["a", "b"])
      #expect(
        claimed.allSatisfy {
          $0.state == .leased && $0.attempts == 1 && $0.lease?.owner == "worker-1"
        })
      #expect(claimed[0].payload == "payload a".data)
      #expect(claimed[0].createdAt == created)
      #expect(claimed[0].lease?.until == clock.now.addingTimeInterval(30))

      try await outbox.ack(claimed[0])
      let acked = try #require(try await outbox.item(id: claimed[0].id))
      #expect(acked.state == .acked)
      #expect(acked.finishedAt == clock.now)

      let next = try await outbox.claim(queue: "sms", owner: "worker-2", limit: 10)
      #expect(next.map(\.key) == ["c"])
      let counts = try await outbox.counts()
      #expect(counts["sms"]?.leased == 2)
      #expect(counts["sms"]?.acked == 1)
      #expect(counts["irc"]?.pending == 1)
    }
  }

  @Test("enqueuing a key again returns the existing item, before and after its ack")
  func idempotentEnqueue() async throws {
    try await withOutbox { outbox, clock in
      let first = try await outbox.enqueue(queue: "alerts", key: "k1", payload: "v1".data)
      clock.advance(.seconds(5))
      let again = try await outbox.enqueue(queue: "alerts", key: "k1", payload: "v2".data)
      #expect(!again.inserted)
      #expect(again.item.id == first.item.id)
      #expect(again.item.payload == "v1".data)
      #expect(again.item.createdAt == first.item.createdAt)

      let item = try #require(try await outbox.claim(queue: "alerts", owner: "w").first)
      try await outbox.ack(item)
      clock.advance(.seconds(3600))
      let afterAck = try await outbox.enqueue(queue: "alerts", key: "k1", payload: "v3".data)
      #expect(!afterAck.inserted)
      #expect(afterAck.item.id == first.item.id)
      #expect(afterAck.item.state == .acked)
      #expect(try await outbox.claim(queue: "alerts", owner: "w").isEmpty)

      let counts = try await outbox.counts(queue: "alerts")
      #expect(counts.pending + counts.leased + counts.dead + counts.acked == 1)
      #expect(
        try await outbox.enqueue(queue: "sms", key: "k1", payload: "v1".data).inserted,
        "keys are per queue")
    }
  }

  @Test("enqueue inside the caller's transaction commits or rolls back with it")
  func enqueueInTransaction() async throws {
    try await withOutbox { outbox, _ in
      struct Abort: Error {}
      await #expect(throws: Abort.self) {
        try await outbox.store.database.write { db in
          _ = try outbox.enqueue(queue: "q", key: "rolled-back", payload: Data(), in: db)
          throw Abort()
        }
      }
      #expect(try await outbox.item(queue: "q", key: "rolled-back") == nil)
      try await outbox.store.database.write { db in
        _ = try outbox.enqueue(queue: "q", key: "kept", payload: Data(), in: db)
      }
      #expect(try await outbox.item(queue: "q", key: "kept") != nil)
    }
  }

  @Test("an item is not claimed before its notBefore")
  func notBefore() async throws {
    try await withOutbox { outbox, clock in
      _ = try await outbox.enqueue(
        queue: "q", key: "later", payload: Data(), notBefore: clock.now.addingTimeInterval(60))
      #expect(try await outbox.claim(queue: "q", owner: "w").isEmpty)
      clock.advance(.milliseconds(59_999))
      #expect(try await outbox.claim(queue: "q", owner: "w").isEmpty)
      clock.advance(.milliseconds(1))
      #expect(try await outbox.claim(queue: "q", owner: "w").map(\.key) == ["later"])
    }
  }

  @Test("an expired lease is claimed again; the stale holder can neither ack nor fail")
  func leaseExpiryAndStaleAck() async throws {
    try await withOutbox { outbox, clock in
      _ = try await outbox.enqueue(queue: "q", key: "k", payload: Data())
      let first = try #require(try await outbox.claim(queue: "q", owner: "A").first)
      clock.advance(.seconds(29))
      #expect(try await outbox.claim(queue: "q", owner: "B").isEmpty, "the lease still holds")
      #expect(try await outbox.counts(queue: "q").leased == 1)
      clock.advance(.seconds(1))
      #expect(
        try await outbox.item(id: first.id)?.state == .pending, "an expired lease reads as pending")
      #expect(try await outbox.counts(queue: "q").pending == 1)

      let second = try #require(try await outbox.claim(queue: "q", owner: "B").first)
      #expect(second.id == first.id)
      #expect(second.attempts == 2)

      let stale = try await #require(throws: OutboxError.self) { try await outbox.ack(first) }
      #expect(stale.code == .staleLease)
      #expect(stale.itemID == first.id)
      #expect(stale.message.contains("the lease of 'A' expired and 'B' claimed it again"))
      let staleFail = try await #require(throws: OutboxError.self) {
        try await outbox.fail(first, reason: "late", retryable: true)
      }
      #expect(staleFail.code == .staleLease)

      try await outbox.ack(second)
      #expect(try await outbox.item(id: first.id)?.state == .acked)
      let twice = try await #require(throws: OutboxError.self) { try await outbox.ack(second) }
      #expect(twice.code == .alreadyAcknowledged)
    }
  }

  @Test("an ack after the lease expired is accepted while nobody claimed the item again")
  func lateAckWithoutReclaim() async throws {
    try await withOutbox { outbox, clock in
      _ = try await outbox.enqueue(queue: "q", key: "k", payload: Data())
      let item = try #require(try await outbox.claim(queue: "q", owner: "A").first)
      clock.advance(.seconds(300))
      try await outbox.ack(item)
      #expect(try await outbox.item(id: item.id)?.state == .acked)
    }
  }

  @Test("the transactional ack writes the sink and the ack together, or neither")
  func transactionalAck() async throws {
    try await withOutbox { outbox, clock in
      _ = try await outbox.enqueue(queue: "q", key: "k", payload: "hello".data)
      let item = try #require(try await outbox.claim(queue: "q", owner: "A").first)

      struct SinkFull: Error {}
      await #expect(throws: SinkFull.self) {
        try await outbox.ack(item) { db in
          try db.execute(
            sql: "INSERT INTO sink VALUES (?, ?)", arguments: [item.key, item.payload])
          throw SinkFull()
        }
      }
      #expect(try await outbox.item(id: item.id)?.state == .leased)
      #expect(
        try await outbox.store.database.read { db in
          try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sink")
        } == 0)

      let inserted = try await outbox.ack(item) { db in
        try db.execute(sql: "INSERT INTO sink VALUES (?, ?)", arguments: [item.key, item.payload])
        return db.changesCount
      }
      #expect(inserted == 1)
      #expect(try await outbox.item(id: item.id)?.state == .acked)

      // A stale claim's body never runs.
      _ = try await outbox.enqueue(queue: "q", key: "k2", payload: Data())
      let old = try #require(try await outbox.claim(queue: "q", owner: "A").first)
      clock.advance(.seconds(31))
      _ = try await outbox.claim(queue: "q", owner: "B")
      let ran = Mutex(false)
      await #expect(throws: OutboxError.self) {
        try await outbox.ack(old) { _ in ran.withLock { $0 = true } }
      }
      #expect(!ran.withLock { $0 })
    }
  }

  @Test(
    "a retryable failure waits for the backoff on the injected clock, keeping the attempt count")
  func retryWithBackoff() async throws {
    try await withOutbox { outbox, clock in
      _ = try await outbox.enqueue(queue: "q", key: "k", payload: Data())
      let start = clock.now
      let first = try #require(try await outbox.claim(queue: "q", owner: "w").first)
      #expect(
        try await outbox.fail(first, reason: "modem busy")
          == .retry(at: start.addingTimeInterval(10)))
      let pending = try #require(try await outbox.item(id: first.id))
      #expect(pending.state == .pending)
      #expect(pending.lastError == "modem busy")
      #expect(pending.attempts == 1)

      clock.advance(.milliseconds(9_999))
      #expect(try await outbox.claim(queue: "q", owner: "w").isEmpty)
      clock.advance(.milliseconds(1))
      let second = try #require(try await outbox.claim(queue: "q", owner: "w").first)
      #expect(second.attempts == 2)
      #expect(
        try await outbox.fail(second, reason: "no signal")
          == .retry(at: clock.now.addingTimeInterval(20)))
      clock.advance(.seconds(19))
      #expect(try await outbox.claim(queue: "q", owner: "w").isEmpty)
      clock.advance(.seconds(1))
      #expect(try await outbox.claim(queue: "q", owner: "w").first?.attempts == 3)
    }
  }

  @Test("an item is dead-lettered after the last attempt, keeping the reason")
  func deadLetterAfterMaxAttempts() async throws {
    try await withOutbox { outbox, clock in
      _ = try await outbox.enqueue(queue: "q", key: "k", payload: "p".data)
      var results: [OutboxFailureResult] = []
      for attempt in 1...3 {
        let item = try #require(try await outbox.claim(queue: "q", owner: "w").first)
        #expect(item.attempts == attempt)
        results.append(try await outbox.fail(item, reason: "error \(attempt)"))
        clock.advance(.seconds(600))
      }
      #expect(results.last == .deadLettered(.attemptsExhausted(3)))
      #expect(try await outbox.claim(queue: "q", owner: "w").isEmpty)
      let dead = try await outbox.deadLetters(queue: "q")
      #expect(dead.map(\.key) == ["k"])
      #expect(dead.first?.lastError == "error 3")
      #expect(dead.first?.state == .dead)
      #expect(dead.first?.payload == "p".data)
      #expect(try await outbox.counts(queue: "q").dead == 1)
    }
  }

  @Test("a released item is claimable at once, its attempt not counted, its old claim stale")
  func release() async throws {
    try await withOutbox { outbox, _ in
      _ = try await outbox.enqueue(queue: "q", key: "k", payload: Data())
      let item = try #require(try await outbox.claim(queue: "q", owner: "w", lease: .seconds(300)).first)
      #expect(item.attempts == 1)
      try await outbox.release(item, reason: "the modem was unplugged")
      let again = try #require(try await outbox.claim(queue: "q", owner: "w2").first, "not claimable at once")
      #expect(again.attempts == 1)
      #expect(again.lastError == "the modem was unplugged")
      await #expect(throws: OutboxError.self) { try await outbox.release(item, reason: "late") }
      await #expect(throws: OutboxError.self) { try await outbox.ack(item) }
      try await outbox.ack(again)
    }
  }

  @Test("a non-retryable failure is dead-lettered at once with its reason")
  func deadLetterNonRetryable() async throws {
    try await withOutbox { outbox, _ in
      _ = try await outbox.enqueue(queue: "q", key: "k", payload: Data())
      let item = try #require(try await outbox.claim(queue: "q", owner: "w").first)
      let result = try await outbox.fail(
        item, reason: "number rejected by the network", retryable: false)
      #expect(result == .deadLettered(.notRetryable))
      #expect(
        try await outbox.deadLetters(queue: "q").first?.lastError
          == "number rejected by the network")
    }
  }

  @Test("an item whose worker keeps dying on it is dead-lettered once its attempts are used up")
  func abandonedLeases() async throws {
    try await withOutbox { outbox, clock in
      _ = try await outbox.enqueue(queue: "q", key: "poison", payload: Data())
      _ = try await outbox.enqueue(queue: "q", key: "fine", payload: Data())
      for _ in 1...3 {
        #expect(try await outbox.claim(queue: "q", owner: "w").map(\.key) == ["poison"])
        clock.advance(.seconds(31))  // the worker crashed: no ack, no fail
      }
      #expect(
        try await outbox.claim(queue: "q", owner: "w").map(\.key) == ["fine"],
        "the next item is claimed instead")
      let dead = try #require(try await outbox.deadLetters(queue: "q").first)
      #expect(dead.key == "poison")
      #expect(dead.attempts == 3)
      #expect(dead.lastError?.contains("the last lease expired without ack or fail") == true)
    }
  }

  @Test("requeue puts a dead item back with a fresh attempt count")
  func requeue() async throws {
    try await withOutbox { outbox, clock in
      let id = try await outbox.enqueue(queue: "q", key: "k", payload: Data()).item.id
      let item = try #require(try await outbox.claim(queue: "q", owner: "w").first)
      try await outbox.fail(item, reason: "bad", retryable: false)
      clock.advance(.seconds(3600))

      let requeued = try await outbox.requeue(id: id)
      #expect(requeued.state == .pending)
      #expect(requeued.attempts == 0)
      #expect(requeued.lastError == "bad")
      #expect(requeued.finishedAt == nil)
      #expect(try await outbox.deadLetters(queue: "q").isEmpty)
      let again = try #require(try await outbox.claim(queue: "q", owner: "w").first)
      #expect(again.attempts == 1)

      let notDead = try await #require(throws: OutboxError.self) {
        try await outbox.requeue(id: id)
      }
      #expect(notDead.code == .notDeadLettered)
      let missing = try await #require(throws: OutboxError.self) {
        try await outbox.requeue(id: 9_999)
      }
      #expect(missing.code == .notFound)
    }
  }

  @Test("counts per queue and state, and the age of the oldest pending item")
  func counts() async throws {
    try await withOutbox { outbox, clock in
      let start = clock.now
      for key in ["old", "leased", "acked", "dead", "pending"] {
        _ = try await outbox.enqueue(queue: "q", key: key, payload: Data())
        clock.advance(.seconds(10))
      }
      _ = try await outbox.enqueue(
        queue: "q", key: "scheduled", payload: Data(),
        notBefore: clock.now.addingTimeInterval(86_400))
      // Claim "old" and fail it (pending again, retried later), then claim the
      // next three and settle them.
      let old = try #require(try await outbox.claim(queue: "q", owner: "w").first)
      try await outbox.fail(old, reason: "retry me")
      let items = try await outbox.claim(queue: "q", owner: "w", limit: 3)
      #expect(items.map(\.key) == ["leased", "acked", "dead"])
      try await outbox.ack(items[1])
      try await outbox.fail(items[2], reason: "no", retryable: false)

      let counts = try await outbox.counts(queue: "q")
      #expect(counts.pending == 3)  // old (retrying), pending, scheduled
      #expect(counts.leased == 1)
      #expect(counts.dead == 1)
      #expect(counts.acked == 1)
      #expect(counts.oldestPendingCreatedAt == start)
      #expect(counts.oldestPendingAge == .seconds(50))
      #expect(try await outbox.counts(queue: "empty") == OutboxCounts())
      #expect(try await outbox.counts().keys.sorted() == ["q"])
    }
  }

  @Test("items scheduled for later and never tried do not count in the oldest pending age")
  func scheduledNotOldest() async throws {
    try await withOutbox { outbox, clock in
      _ = try await outbox.enqueue(
        queue: "q", key: "s", payload: Data(), notBefore: clock.now.addingTimeInterval(60))
      #expect(try await outbox.counts(queue: "q").oldestPendingAge == nil)
      clock.advance(.seconds(90))
      #expect(try await outbox.counts(queue: "q").oldestPendingAge == .seconds(90))
    }
  }

  @Test("acked tombstones are pruned after the retention, and only them")
  func pruneTombstones() async throws {
    try await withOutbox(policy: OutboxPolicy(maxAttempts: 1, lease: .seconds(30))) {
      outbox, clock in
      for key in ["acked", "dead", "pending"] {
        _ = try await outbox.enqueue(queue: "q", key: key, payload: Data())
      }
      let items = try await outbox.claim(queue: "q", owner: "w", limit: 2)
      try await outbox.ack(items[0])
      try await outbox.fail(items[1], reason: "x", retryable: false)

      clock.advance(.seconds(7 * 86_400) - .milliseconds(1))
      #expect(try await outbox.pruneTombstones() == 0)
      #expect(try await outbox.enqueue(queue: "q", key: "acked", payload: Data()).inserted == false)
      clock.advance(.milliseconds(1))
      #expect(try await outbox.pruneTombstones() == 1)
      clock.advance(.seconds(365 * 86_400))
      #expect(try await outbox.pruneTombstones() == 0, "dead and pending items are never pruned")
      #expect(try await outbox.counts(queue: "q").dead == 1)
      #expect(
        try await outbox.enqueue(queue: "q", key: "acked", payload: Data()).inserted,
        "the key is free again")
    }
  }

  @Test("a lease taken before the clock went backwards is treated as expired")
  func clockBackwardsLease() async throws {
    try await withOutbox { outbox, clock in
      _ = try await outbox.enqueue(queue: "q", key: "k", payload: Data())
      let start = clock.now
      let first = try #require(try await outbox.claim(queue: "q", owner: "A").first)
      clock.set(start.addingTimeInterval(-86_400))  // NTP stepped the clock back a day
      let second = try #require(
        try await outbox.claim(queue: "q", owner: "B").first, "not blocked for a day")
      #expect(second.id == first.id)
      // B's own lease is coherent with the new clock and holds.
      #expect(try await outbox.claim(queue: "q", owner: "C").isEmpty)
      try await outbox.ack(second)
    }
  }

  @Test(
    "relative waits decided before the clock went backwards end at once; an absolute notBefore is honoured"
  )
  func clockBackwardsDue() async throws {
    try await withOutbox { outbox, clock in
      let start = clock.now
      // Enqueued (due "now") while the clock was a day ahead.
      _ = try await outbox.enqueue(queue: "a", key: "k", payload: Data())
      // Failed while the clock was a day ahead: retry planned 10 s later.
      _ = try await outbox.enqueue(queue: "r", key: "k", payload: Data())
      let item = try #require(try await outbox.claim(queue: "r", owner: "w").first)
      try await outbox.fail(item, reason: "later")
      // Scheduled a month ahead on purpose.
      _ = try await outbox.enqueue(
        queue: "m", key: "k", payload: Data(), notBefore: start.addingTimeInterval(30 * 86_400))

      clock.set(start.addingTimeInterval(-86_400))  // NTP steps the clock back a day
      #expect(try await outbox.claim(queue: "a", owner: "w").map(\.key) == ["k"])
      #expect(try await outbox.claim(queue: "r", owner: "w").map(\.key) == ["k"])
      #expect(
        try await outbox.claim(queue: "m", owner: "w").isEmpty, "an absolute notBefore still waits")

      clock.set(start.addingTimeInterval(86_400))
      #expect(try await outbox.claim(queue: "m", owner: "w").isEmpty, "a month ahead still waits")
      clock.set(start.addingTimeInterval(30 * 86_400))
      #expect(try await outbox.claim(queue: "m", owner: "w").map(\.key) == ["k"])
    }
  }

  @Test(
    "invalid arguments are refused with a clear error",
    arguments: [("", "k", 1), ("q", "", 1), ("q", "k", 0)])
  func invalidArguments(queue: String, key: String, limit: Int) async throws {
    try await withOutbox { outbox, _ in
      let error = try await #require(throws: OutboxError.self) {
        _ = try await outbox.enqueue(queue: queue, key: key, payload: Data())
        _ = try await outbox.claim(queue: queue, owner: "w", limit: limit)
      }
      #expect(error.code == .invalidArgument)
    }
  }

  @Test("an item that was not claimed carries no lease and cannot be acked")
  func ackWithoutLease() async throws {
    try await withOutbox { outbox, _ in
      let item = try await outbox.enqueue(queue: "q", key: "k", payload: Data()).item
      let error = try await #require(throws: OutboxError.self) { try await outbox.ack(item) }
      #expect(error.code == .invalidArgument)
    }
  }

  @Test("concurrent claimers never get the same item")
  func concurrentClaims() async throws {
    try await withOutbox { outbox, _ in
      let total = 200
      for index in 0..<total {
        _ = try await outbox.enqueue(queue: "q", key: "k\(index)", payload: Data())
      }
      let ids = try await withThrowingTaskGroup(of: [Int64].self) { group in
        for worker in 0..<4 {
          group.addTask {
            var mine: [Int64] = []
            while true {
              let items = try await outbox.claim(queue: "q", owner: "w\(worker)", limit: 3)
              if items.isEmpty { return mine }
              for item in items {
                try await outbox.ack(item)
                mine.append(item.id)
              }
            }
          }
        }
        return try await group.reduce(into: []) { $0 += $1 }
      }
      #expect(ids.count == total)
      #expect(Set(ids).count == total)
    }
  }
}
