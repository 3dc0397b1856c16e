import Foundation
import GRDB
import Testing
import VigieRuntime

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

@Suite struct StateStoreTests {
  static let notesMigration = StateStoreMigration("test.v1-notes") { db in
    try db.execute(sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
  }
  static let notesV2 = StateStoreMigration("test.v2-notes-author") { db in
    try db.execute(sql: "ALTER TABLE notes ADD COLUMN author TEXT")
  }

  @Test("opening creates the directory (0700) and the database files (0600)")
  func createsWithModes() async throws {
    try await StoreFixtures.withTemporaryDirectory { root in
      let directory = root + "/nested/state"
      let store = try StateStore.open(at: directory, logger: StoreFixtures.quietLogger)
      defer { try? store.close() }
      #expect(store.path == directory + "/vigie.sqlite")
      #expect(StoreFixtures.mode(of: directory) == 0o700)
      #expect(StoreFixtures.mode(of: store.path) == 0o600)
      #expect(StoreFixtures.mode(of: store.path + "-wal") == 0o600)
      #expect(StoreFixtures.mode(of: store.path + "-shm") == 0o600)
    }
  }

  @Test("an existing database with a loose mode is tightened to 0600")
  func tightensModes() async throws {
    try await StoreFixtures.withTemporaryDirectory { directory in
      try StateStore.open(at: directory, logger: StoreFixtures.quietLogger).close()
      let path = directory + "/vigie.sqlite"
      chmod(path, 0o644)
      let store = try StateStore.open(at: directory, logger: StoreFixtures.quietLogger)
      defer { try? store.close() }
      #expect(StoreFixtures.mode(of: path) == 0o600)
    }
  }

  @Test("the connection is WAL, synchronous FULL, foreign keys on, with a busy timeout")
  func pragmas() async throws {
    try await StoreFixtures.withTemporaryDirectory { directory in
      let store = try StateStore.open(at: directory, logger: StoreFixtures.quietLogger)
      defer { try? store.close() }
      let values = try await store.database.write { db in
        [
          try String.fetchOne(db, sql: "PRAGMA journal_mode"),
          try String.fetchOne(db, sql: "PRAGMA synchronous"),
          try String.fetchOne(db, sql: "PRAGMA foreign_keys"),
          try String.fetchOne(db, sql: "PRAGMA busy_timeout"),
        ]
      }
      #expect(values == ["wal", "2", "1", "5000"])
    }
  }

  @Test("migrations run once: reopening applies nothing, a new migration alone is applied")
  func migrationsIdempotent() async throws {
    try await StoreFixtures.withTemporaryDirectory { directory in
      let first = try StateStore.open(
        at: directory, migrations: [Self.notesMigration], logger: StoreFixtures.quietLogger)
      #expect(first.appliedMigrations == ["outbox.v1", "test.v1-notes"])
      try await first.database.write { db in
        try db.execute(sql: "INSERT INTO notes (text) VALUES ('kept')")
      }
      try first.close()

      let second = try StateStore.open(
        at: directory, migrations: [Self.notesMigration], logger: StoreFixtures.quietLogger)
      #expect(second.appliedMigrations == [])
      try second.close()

      let third = try StateStore.open(
        at: directory, migrations: [Self.notesMigration, Self.notesV2],
        logger: StoreFixtures.quietLogger)
      defer { try? third.close() }
      #expect(third.appliedMigrations == ["test.v2-notes-author"])
      let (text, applied) = try await third.database.read { db in
        (
          try String.fetchOne(db, sql: "SELECT text FROM notes"),
          try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        )
      }
      #expect(text == "kept")
      #expect(applied == ["outbox.v1", "test.v1-notes", "test.v2-notes-author"])
    }
  }

  @Test("reopening an up-to-date database writes nothing to it (SD card wear)")
  func noWriteOnOpen() async throws {
    try await StoreFixtures.withTemporaryDirectory { directory in
      let path = directory + "/vigie.sqlite"
      let first = try StateStore.open(
        at: directory, migrations: [Self.notesMigration], logger: StoreFixtures.quietLogger)
      try await first.database.write { db in
        try db.execute(sql: "INSERT INTO notes (text) VALUES ('x')")
      }
      try first.close()
      let before = [StoreFixtures.fingerprint(path), StoreFixtures.fingerprint(path + "-wal")]
      #expect(!before[1].isEmpty, "the WAL file is kept between runs")

      try await Task.sleep(for: .milliseconds(20))  // let a write show in the mtime
      let second = try StateStore.open(
        at: directory, migrations: [Self.notesMigration], logger: StoreFixtures.quietLogger)
      let count = try await second.database.read { db in
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM notes")
      }
      #expect(count == 1)
      _ = try await second.integrityCheck()
      try second.close()
      #expect(
        [StoreFixtures.fingerprint(path), StoreFixtures.fingerprint(path + "-wal")] == before)
    }
  }

  @Test("a file that is not a database is rejected with a clear message and left untouched")
  func notADatabase() async throws {
    try await StoreFixtures.withTemporaryDirectory { directory in
      let path = directory + "/vigie.sqlite"
      let garbage = Data(String(repeating: "this is not a database\n", count: 300).utf8)
      try garbage.write(to: URL(fileURLWithPath: path))
      let error = try #require(throws: StateStoreError.self) {
        try StateStore.open(at: directory, logger: StoreFixtures.quietLogger)
      }
      #expect(error.code == .notADatabase)
      #expect(
        error.message
          == "state database \(path) is not a SQLite database: move it away or point --state-dir elsewhere"
      )
      #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
    }
  }

  @Test("a state directory that cannot be created is reported")
  func directoryUnusable() async throws {
    try await StoreFixtures.withTemporaryDirectory { root in
      let file = root + "/plain-file"
      try Data("x".utf8).write(to: URL(fileURLWithPath: file))
      for directory in [file, file + "/state"] {
        let error = try #require(throws: StateStoreError.self) {
          try StateStore.open(at: directory, logger: StoreFixtures.quietLogger)
        }
        #expect(error.code == .directoryUnusable)
        #expect(error.message.contains(directory))
        #expect(error.message.contains("--state-dir"))
      }
    }
  }

  @Test(
    "a state directory without write permission is reported",
    .enabled(if: geteuid() != 0, "root writes through permission bits"))
  func directoryNotWritable() async throws {
    try await StoreFixtures.withTemporaryDirectory { root in
      let directory = root + "/readonly"
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
      chmod(directory, 0o500)
      defer { chmod(directory, 0o700) }
      let error = try #require(throws: StateStoreError.self) {
        try StateStore.open(at: directory, logger: StoreFixtures.quietLogger)
      }
      #expect(error.code == .directoryNotWritable)
      #expect(error.message.hasPrefix("state directory \(directory) is not writable"))
    }
  }

  @Test(
    "inconsistent migration lists are refused",
    arguments: [
      ["a.v1", "a.v1"],
      ["outbox.v1"],
      [""],
    ])
  func invalidMigrations(names: [String]) async throws {
    try await StoreFixtures.withTemporaryDirectory { directory in
      let migrations = names.map { StateStoreMigration($0) { _ in } }
      let error = try #require(throws: StateStoreError.self) {
        try StateStore.open(
          at: directory, migrations: migrations, logger: StoreFixtures.quietLogger)
      }
      #expect(error.code == .invalidMigrations)
    }
  }

  @Test("a failing migration is named, rolled back, and the store opens without it")
  func failingMigration() async throws {
    try await StoreFixtures.withTemporaryDirectory { directory in
      struct Boom: Error {}
      let broken = StateStoreMigration("test.v1-broken") { db in
        try db.execute(sql: "CREATE TABLE half (id INTEGER)")
        throw Boom()
      }
      let error = try #require(throws: StateStoreError.self) {
        try StateStore.open(at: directory, migrations: [broken], logger: StoreFixtures.quietLogger)
      }
      #expect(error.code == .migrationFailed)
      #expect(error.message.contains("'test.v1-broken'"))
      #expect(error.underlyingError is Boom)

      let store = try StateStore.open(at: directory, logger: StoreFixtures.quietLogger)
      defer { try? store.close() }
      let exists = try await store.database.read { db in try db.tableExists("half") }
      #expect(!exists)
    }
  }

  @Test("migrations unknown to this build are reported, not fatal")
  func unknownMigrations() async throws {
    try await StoreFixtures.withTemporaryDirectory { directory in
      try StateStore.open(
        at: directory, migrations: [Self.notesMigration], logger: StoreFixtures.quietLogger
      )
      .close()
      let store = try StateStore.open(at: directory, logger: StoreFixtures.quietLogger)
      defer { try? store.close() }
      #expect(store.unknownMigrations == ["test.v1-notes"])
    }
  }

  @Test("the integrity check passes on a sound database", arguments: [false, true])
  func integrity(full: Bool) async throws {
    try await StoreFixtures.withTemporaryDirectory { directory in
      let store = try StateStore.open(at: directory, logger: StoreFixtures.quietLogger)
      defer { try? store.close() }
      let report = try await store.integrityCheck(full: full)
      #expect(report.isOK)
      #expect(report.problems.isEmpty)
    }
  }
}
