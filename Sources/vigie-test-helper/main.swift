// Helper processes for tests that must kill a real process. Not installed.
//
//   vigie-test-helper outbox-torture --db DIR --log FILE --seed N
//       Loops forever on the outbox of the state store in DIR: enqueues items
//       with fresh keys, claims them, acks most of them with the
//       transactional ack that also inserts into the `delivered` table (a
//       local sink), fails some. Appends "enqueued KEY" to FILE after each
//       enqueue commit returns and "acked KEY" after each ack returns
//       (O_APPEND, fsync'd). Prints "ready" once the store is open. Meant to
//       be killed with SIGKILL.
//   vigie-test-helper outbox-drain --db DIR --log FILE
//       Claims and acks (into `delivered`) everything left, waiting for
//       leases and retry delays, then exits 0; dead letters stay.
//   vigie-test-helper outbox-report --db DIR
//       Prints a JSON report of the database (see `TortureReport`).
//   vigie-test-helper raise-alert --db DIR --key KEY [--severity S] [--text T] [--age SECONDS] [--count N]
//       Queues N alerts (KEY-1..KEY-N when N > 1) in the `alerts` queue of the
//       state store in DIR, as the watchdog does, raised AGE seconds ago.
//       The daemon may be running: SQLite WAL lets both write.
//   vigie-test-helper udev-watch [--device auto|PATH] [--settle-ms N]
//       Prints the serial ports, the modem port chosen, hotplug events and
//       presence changes as JSON lines until stdin closes (UdevWatch.swift).

import Foundation
// The transactional ack hands the caller a GRDB `Database` to write its sink.
import GRDB
import VigieCore
import VigieRuntime

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

enum Torture {
  /// The local sink: one row per delivery, no uniqueness, so that a
  /// duplicate delivery would show as two rows.
  static let deliveredMigration = StateStoreMigration("torture.v1-delivered") { db in
    try db.execute(
      sql:
        "CREATE TABLE delivered (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, run TEXT NOT NULL)"
    )
  }

  static let queue = "torture"

  /// Short lease and retry delays so that the items of a killed run come
  /// back quickly; many attempts so that kills alone never dead-letter an item.
  static let policy = OutboxPolicy(
    maxAttempts: 1_000,
    backoff: Backoff(base: .milliseconds(20), factor: 2, cap: .milliseconds(200), jitter: 0.5),
    lease: .milliseconds(300))
}

/// What `outbox-report` prints, decoded by the integration test.
struct TortureReport: Codable {
  /// Rows of `delivered` per key.
  var delivered: [String: Int]
  /// State of every outbox item of the torture queue, by key.
  var outbox: [String: String]
  /// Acked items without a `delivered` row (must be empty).
  var ackedWithoutDelivery: [String]
  /// `PRAGMA integrity_check` rows (`["ok"]` when sound).
  var integrity: [String]
}

struct Failure: Error, CustomStringConvertible {
  var description: String
}

/// SplitMix64, seeded from the command line so a run can be replayed.
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// An append-only log whose lines reach the disk before `write` returns.
final class SyncedLog: Sendable {
  let fd: Int32

  init(path: String) throws {
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      throw Failure(description: "cannot open log \(path): \(String(cString: strerror(errno)))")
    }
  }

  func append(_ line: String) throws {
    let bytes = Array((line + "\n").utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count, fsync(fd) == 0 else {
      throw Failure(description: "cannot write the log: \(String(cString: strerror(errno)))")
    }
  }
}

func option(_ name: String, in arguments: [String]) throws -> String {
  guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else {
    throw Failure(description: "missing \(name) VALUE")
  }
  return arguments[index + 1]
}

func openStore(_ arguments: [String]) throws -> StateStore {
  try StateStore.open(
    at: try option("--db", in: arguments), migrations: [Torture.deliveredMigration])
}

/// Acks `item` and records its delivery in the same transaction.
func deliver(_ item: OutboxItem, outbox: Outbox, run: String) async throws {
  try await outbox.ack(item) { db in
    try db.execute(
      sql: "INSERT INTO delivered (key, run) VALUES (?, ?)", arguments: [item.key, run])
  }
}

func torture(_ arguments: [String]) async throws {
  let seed = UInt64(try option("--seed", in: arguments)) ?? 0
  let log = try SyncedLog(path: try option("--log", in: arguments))
  let store = try openStore(arguments)
  let outbox = Outbox(store: store, policy: Torture.policy)
  var random = SeededGenerator(state: seed)
  let run = "run-\(seed)"
  FileHandle.standardOutput.write(Data("ready\n".utf8))

  var counter = 0
  while true {
    for _ in 0..<Int.random(in: 1...3, using: &random) {
      counter += 1
      let key = "s\(seed)-\(counter)"
      _ = try await outbox.enqueue(queue: Torture.queue, key: key, payload: Data(key.utf8))
      try log.append("enqueued \(key)")
    }
    for item in try await outbox.claim(
      queue: Torture.queue, owner: run, limit: Int.random(in: 1...4, using: &random))
    {
      let dice = Int.random(in: 0..<100, using: &random)
      do {
        if dice < 75 {
          try await deliver(item, outbox: outbox, run: run)
          try log.append("acked \(item.key)")
        } else if dice < 95 {
          try await outbox.fail(item, reason: "transient failure in \(run)", retryable: true)
        } else {
          try await outbox.fail(item, reason: "permanent failure in \(run)", retryable: false)
        }
      } catch let error as OutboxError where error.code == .staleLease {
        // This process was starved past its lease and took the item over
        // from itself: legitimate, the other claim delivers it.
        continue
      }
    }
  }
}

func drain(_ arguments: [String]) async throws {
  let log = try SyncedLog(path: try option("--log", in: arguments))
  let store = try openStore(arguments)
  let outbox = Outbox(store: store, policy: Torture.policy)
  let deadline = Date().addingTimeInterval(30)
  while Date() < deadline {
    let items = try await outbox.claim(queue: Torture.queue, owner: "drain", limit: 50)
    for item in items {
      try await deliver(item, outbox: outbox, run: "drain")
      try log.append("acked \(item.key)")
    }
    if items.isEmpty {
      let counts = try await outbox.counts(queue: Torture.queue)
      if counts.pending == 0 && counts.leased == 0 { return }
      try await Task.sleep(for: .milliseconds(20))
    }
  }
  throw Failure(description: "the outbox did not drain within 30 s")
}

func report(_ arguments: [String]) async throws {
  let store = try openStore(arguments)
  let report = try await store.database.read { db in
    var delivered: [String: Int] = [:]
    for row in try Row.fetchAll(db, sql: "SELECT key, COUNT(*) AS n FROM delivered GROUP BY key") {
      delivered[row["key"]] = row["n"]
    }
    var outbox: [String: String] = [:]
    for row in try Row.fetchAll(
      db, sql: "SELECT key, state FROM outbox WHERE queue = ?", arguments: [Torture.queue])
    {
      outbox[row["key"]] = row["state"]
    }
    let ackedWithoutDelivery = try String.fetchAll(
      db,
      sql: """
        SELECT key FROM outbox WHERE queue = ? AND state = 'acked'
          AND key NOT IN (SELECT key FROM delivered)
        """, arguments: [Torture.queue])
    let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
    return TortureReport(
      delivered: delivered, outbox: outbox, ackedWithoutDelivery: ackedWithoutDelivery,
      integrity: integrity)
  }
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.sortedKeys]
  FileHandle.standardOutput.write(try encoder.encode(report))
}

func raiseAlert(_ arguments: [String]) async throws {
  let store = try StateStore.open(
    at: try option("--db", in: arguments), migrations: ModemStore.migrations + SMSStore.migrations)
  defer { try? store.close() }
  let outbox = Outbox(store: store)
  let key = try option("--key", in: arguments)
  let severity = (try? option("--severity", in: arguments)) ?? "warning"
  let text = (try? option("--text", in: arguments)) ?? key
  let age = Int((try? option("--age", in: arguments)) ?? "0") ?? 0
  let count = Int((try? option("--count", in: arguments)) ?? "1") ?? 1
  let at = Int(Date().timeIntervalSince1970) - age
  for n in 1...max(1, count) {
    let suffix = count > 1 ? "-\(n)" : ""
    let payload = try JSONSerialization.data(
      withJSONObject: ["key": key + suffix, "severity": severity, "text": text + suffix, "at": at],
      options: [.sortedKeys])
    _ = try await outbox.enqueue(queue: ModemStore.alertQueue, key: "\(key)\(suffix)@test", payload: payload)
  }
  print("queued \(count)")
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
  switch arguments.first {
  case "outbox-torture": try await torture(arguments)
  case "outbox-drain": try await drain(arguments)
  case "outbox-report": try await report(arguments)
  case "raise-alert": try await raiseAlert(arguments)
  case "udev-watch": try await UdevWatch.run(arguments)
  default:
    throw Failure(
      description:
        "usage: vigie-test-helper outbox-torture|outbox-drain|outbox-report --db DIR [--log FILE] [--seed N]"
        + " | udev-watch [--device auto|PATH] [--settle-ms N]"
    )
  }
} catch {
  FileHandle.standardError.write(Data("vigie-test-helper: \(error)\n".utf8))
  exit(1)
}
