import Foundation
import GRDB
// The C API of the SQLite that GRDB links, for `sqlite3_file_control` (the
// persistent-WAL flag has no PRAGMA). GRDB's own system-library module.
import GRDBSQLite
import Logging
import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// One migration of the state database: a name that never changes once
/// shipped, and the schema change.
///
/// Subsystems declare their migrations as a static list (for example
/// `SMSGateway.migrations`) and the daemon passes them all to
/// ``StateStore/open(at:migrations:logger:)``. Prefix names with the
/// subsystem (`"sms.v1"`, `"sms.v2-add-status"`): names are global to the
/// database. Never edit or rename a migration that has shipped; append a new
/// one.
public struct StateStoreMigration: Sendable {
  /// The unique, permanent name recorded in `grdb_migrations`.
  public let name: String
  /// Applies the change. Runs inside a transaction: if it throws, nothing of
  /// it is kept.
  public let migrate: @Sendable (Database) throws -> Void

  /// Creates a migration named `name` that runs `migrate`.
  public init(_ name: String, migrate: @escaping @Sendable (Database) throws -> Void) {
    self.name = name
    self.migrate = migrate
  }
}

/// An error of the state store: opening, migrating or checking the database.
public struct StateStoreError: Error, CustomStringConvertible {
  /// What went wrong, to match on; new codes may be added.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    private enum Value: String, Sendable {
      case directoryUnusable
      case directoryNotWritable
      case notADatabase
      case corrupt
      case cannotOpen
      case invalidMigrations
      case migrationFailed
      case queryFailed
    }
    private let value: Value
    private init(_ value: Value) { self.value = value }

    /// The state directory does not exist and cannot be created, or is not
    /// a directory.
    public static let directoryUnusable = Code(.directoryUnusable)
    /// The state directory exists but this process cannot write in it.
    public static let directoryNotWritable = Code(.directoryNotWritable)
    /// The database file is not a SQLite database.
    public static let notADatabase = Code(.notADatabase)
    /// SQLite reports the database file as corrupt.
    public static let corrupt = Code(.corrupt)
    /// The database file cannot be opened for another reason (see the
    /// underlying error).
    public static let cannotOpen = Code(.cannotOpen)
    /// The migrations given to the store are inconsistent (a duplicate or
    /// empty name): a programming error.
    public static let invalidMigrations = Code(.invalidMigrations)
    /// A migration failed; the database is left as it was before it.
    public static let migrationFailed = Code(.migrationFailed)
    /// A query of the store itself (such as the integrity check) failed.
    public static let queryFailed = Code(.queryFailed)

    /// The code's name, as in the source.
    public var description: String { value.rawValue }
  }

  /// What went wrong.
  public var code: Code
  /// The file or directory concerned.
  public var path: String
  /// A sentence that says what failed, on what, and what to do.
  public var message: String
  /// The error reported by SQLite or the system, if any.
  public var underlyingError: (any Error)?

  /// Creates an error.
  public init(code: Code, path: String, message: String, underlyingError: (any Error)? = nil) {
    self.code = code
    self.path = path
    self.message = message
    self.underlyingError = underlyingError
  }

  /// The message, followed by the underlying error if any.
  public var description: String {
    guard let underlyingError else { return message }
    return "\(message) (\(underlyingError))"
  }
}

/// The daemon's one SQLite database, `<stateDir>/vigie.sqlite`.
///
/// - The state directory is created with mode 0700 if missing; the database
///   files have mode 0600.
/// - WAL journal with `synchronous = FULL`: a transaction whose commit has
///   returned survives kill -9 and power loss (see `docs/state-store.md`).
/// - Foreign keys are enforced; a writer waits up to 5 s for another
///   process's lock (`busy_timeout`).
/// - Opening writes nothing unless migrations are pending: the WAL file is
///   kept between runs (persistent WAL) so that GRDB needs no "make the WAL
///   non-empty" write at each start. An SD card wears out.
///
/// Subsystems read and write their own tables through ``database``, each
/// state change in one transaction.
public final class StateStore: Sendable {
  /// The file name of the database inside the state directory.
  public static let fileName = "vigie.sqlite"

  /// How long a writer waits for another process's write lock.
  public static let busyTimeout: Duration = .seconds(5)

  /// The migrations every store runs first, whatever the daemon passes:
  /// the durable outbox.
  public static let builtInMigrations: [StateStoreMigration] = Outbox.migrations

  /// The state directory.
  public let directory: String
  /// The database file, `directory/vigie.sqlite`.
  public let path: String
  /// The connection pool (one writer, several readers). Each write is one
  /// transaction: one state change, all or nothing.
  public let database: DatabasePool
  /// The migrations this open applied, in order (empty when the database was
  /// already up to date).
  public let appliedMigrations: [String]
  /// Migrations recorded in the database that this build does not know: the
  /// database was migrated by a newer vigie. The store still opens (a
  /// downgraded daemon must keep sending alerts) and logs a warning;
  /// `vigie status` shows them.
  public let unknownMigrations: [String]

  private init(
    directory: String, path: String, database: DatabasePool, appliedMigrations: [String],
    unknownMigrations: [String]
  ) {
    self.directory = directory
    self.path = path
    self.database = database
    self.appliedMigrations = appliedMigrations
    self.unknownMigrations = unknownMigrations
  }

  /// Opens (creating if needed) the state database in `directory` and applies
  /// ``builtInMigrations`` then `migrations`, those not yet applied, in order.
  ///
  /// Blocks while it opens and migrates: call it at startup.
  ///
  /// - Throws: ``StateStoreError`` with code ``StateStoreError/Code/directoryUnusable``,
  ///   ``StateStoreError/Code/directoryNotWritable``, ``StateStoreError/Code/notADatabase``,
  ///   ``StateStoreError/Code/corrupt``, ``StateStoreError/Code/cannotOpen``,
  ///   ``StateStoreError/Code/invalidMigrations`` or ``StateStoreError/Code/migrationFailed``.
  public static func open(
    at directory: String,
    migrations: [StateStoreMigration] = [],
    logger: Logger = Logger(label: "vigie.store")
  ) throws -> StateStore {
    let all = builtInMigrations + migrations
    try validate(all, directory: directory)
    try prepareDirectory(directory)
    let path = URL(fileURLWithPath: directory).appendingPathComponent(fileName).path
    try prepareFiles(path)

    let pool: DatabasePool
    do {
      pool = try DatabasePool(path: path, configuration: configuration())
      // GRDB sets `synchronous = NORMAL` when it switches the pool to WAL,
      // after `prepareDatabase`: set FULL again on the writer, the only
      // connection that commits. NORMAL in WAL mode does not sync the WAL at
      // commit, so the last transactions before a power loss can vanish
      // (the database stays consistent, but not durable). The outbox tells
      // peers "I have it" once a commit returns (an SMS is deleted from the
      // SIM once it is enqueued): FULL syncs the WAL at every commit, so
      // what returned is on the card.
      try pool.writeWithoutTransaction { db in
        try db.execute(sql: "PRAGMA synchronous = FULL")
      }
    } catch {
      throw openError(error, path: path)
    }

    var migrator = DatabaseMigrator()
    for migration in all {
      let (name, migrate) = (migration.name, migration.migrate)
      migrator.registerMigration(name) { db in
        do { try migrate(db) } catch { throw FailedMigration(name: name, error: error) }
      }
    }
    let known = Set(all.map(\.name))
    let applied: [String]
    let unknown: [String]
    do {
      let (done, recorded) = try pool.read { db in
        (try migrator.hasCompletedMigrations(db), try migrator.appliedIdentifiers(db))
      }
      unknown = recorded.subtracting(known).sorted()
      if done {
        applied = []
      } else {
        try migrator.migrate(pool)
        let now = try pool.read { db in try migrator.appliedIdentifiers(db) }
        applied = all.map(\.name).filter { now.contains($0) && !recorded.contains($0) }
      }
    } catch let failure as FailedMigration {
      throw StateStoreError(
        code: .migrationFailed, path: path,
        message:
          "migration '\(failure.name)' of state database \(path) failed and was rolled back: "
          + "keep the file for a bug report, and start an earlier vigie or move the file away",
        underlyingError: failure.error)
    } catch {
      throw openError(error, path: path)
    }
    if !applied.isEmpty {
      logger.info(
        "state database migrated",
        metadata: ["store.path": "\(path)", "store.migrations": "\(applied)"])
    }
    if !unknown.isEmpty {
      logger.warning(
        "state database was migrated by a newer vigie; tables it added are ignored",
        metadata: ["store.path": "\(path)", "store.unknown_migrations": "\(unknown)"])
    }
    return StateStore(
      directory: directory, path: path, database: pool, appliedMigrations: applied,
      unknownMigrations: unknown)
  }

  /// The result of an integrity check.
  public struct IntegrityReport: Sendable, Hashable {
    /// The problems SQLite found; empty when the database is sound.
    public var problems: [String]
    /// True when SQLite found no problem.
    public var isOK: Bool { problems.isEmpty }
  }

  /// Checks the database: `PRAGMA quick_check` (O(N), skips index-content
  /// checks), or the slower `PRAGMA integrity_check` when `full` is true.
  /// Reads only.
  public func integrityCheck(full: Bool = false) async throws -> IntegrityReport {
    let pragma = full ? "integrity_check" : "quick_check"
    do {
      let rows = try await database.read { db in try String.fetchAll(db, sql: "PRAGMA \(pragma)") }
      return IntegrityReport(problems: rows == ["ok"] ? [] : rows)
    } catch {
      throw StateStoreError(
        code: .queryFailed, path: path,
        message:
          "integrity check of state database \(path) could not run: the file may be damaged; "
          + "stop vigie, copy the file aside and check it with sqlite3",
        underlyingError: error)
    }
  }

  /// Closes the database. Later uses of ``database`` throw.
  public func close() throws {
    try database.close()
  }

  // MARK: - Opening

  /// An error thrown by a migration, tagged with the migration's name.
  private struct FailedMigration: Error {
    var name: String
    var error: any Error
  }

  private static func configuration() -> Configuration {
    var configuration = Configuration()
    configuration.label = "vigie.state"
    configuration.foreignKeysEnabled = true
    configuration.busyMode = .timeout(busyTimeout.seconds)
    configuration.prepareDatabase { db in
      guard !db.configuration.readonly else { return }
      // Persistent WAL: the -wal file is not deleted when the last
      // connection closes. Without it GRDB writes a throw-away table at each
      // open to make the WAL file non-empty (GRDB issue 102).
      var flag: CInt = 1
      let code = withUnsafeMutablePointer(to: &flag) { pointer in
        sqlite3_file_control(db.sqliteConnection, nil, SQLITE_FCNTL_PERSIST_WAL, pointer)
      }
      guard code == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: code)) }
      try db.execute(sql: "PRAGMA synchronous = FULL")
    }
    return configuration
  }

  private static func validate(_ migrations: [StateStoreMigration], directory: String) throws {
    var seen = Set<String>()
    for migration in migrations {
      if migration.name.isEmpty {
        throw StateStoreError(
          code: .invalidMigrations, path: directory,
          message:
            "a state database migration has an empty name: give every migration a permanent unique name"
        )
      }
      if !seen.insert(migration.name).inserted {
        throw StateStoreError(
          code: .invalidMigrations, path: directory,
          message: "state database migration '\(migration.name)' is registered twice: "
            + "migration names must be unique across subsystems (prefix them with the subsystem)")
      }
    }
  }

  private static func prepareDirectory(_ directory: String) throws {
    var info = stat()
    if stat(directory, &info) != 0 {
      let code = errno
      guard code == ENOENT else {
        throw StateStoreError(
          code: .directoryUnusable, path: directory,
          message:
            "cannot use state directory \(directory): \(describe(code)); fix it or point --state-dir elsewhere",
          underlyingError: POSIXError(posixCode(code)))
      }
      do {
        try FileManager.default.createDirectory(
          atPath: directory, withIntermediateDirectories: true,
          attributes: [.posixPermissions: 0o700])
      } catch {
        throw StateStoreError(
          code: .directoryUnusable, path: directory,
          message: "cannot create state directory \(directory): create it for the vigie user "
            + "or point --state-dir elsewhere",
          underlyingError: error)
      }
      // The umask may have removed bits, never added any; make it exact.
      _ = chmod(directory, 0o700)
    } else if info.st_mode & S_IFMT != S_IFDIR {
      throw StateStoreError(
        code: .directoryUnusable, path: directory,
        message:
          "state directory \(directory) exists but is not a directory: move it away or point --state-dir elsewhere"
      )
    }
    if access(directory, W_OK | X_OK) != 0 {
      let code = errno
      throw StateStoreError(
        code: .directoryNotWritable, path: directory,
        message: "state directory \(directory) is not writable (\(describe(code))): "
          + "give the vigie user write access to it or point --state-dir elsewhere",
        underlyingError: POSIXError(posixCode(code)))
    }
  }

  /// Creates the database file with mode 0600 before SQLite does (SQLite
  /// gives the -wal and -shm files the mode of the database file), and
  /// tightens the mode of existing files.
  private static func prepareFiles(_ path: String) throws {
    let fd = systemOpen(path, O_CREAT | O_RDONLY | O_CLOEXEC, 0o600)
    if fd < 0 {
      let code = errno
      throw StateStoreError(
        code: code == EACCES || code == EROFS ? .directoryNotWritable : .cannotOpen, path: path,
        message: "cannot open state database \(path) (\(describe(code))): "
          + "check the file's owner and the disk, or point --state-dir elsewhere",
        underlyingError: POSIXError(posixCode(code)))
    }
    defer { _ = systemClose(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { return }
    if info.st_mode & S_IFMT != S_IFREG {
      throw StateStoreError(
        code: .cannotOpen, path: path,
        message:
          "state database \(path) is not a regular file: move it away or point --state-dir elsewhere"
      )
    }
    if info.st_mode & 0o777 != 0o600 { _ = fchmod(fd, 0o600) }
    for suffix in ["-wal", "-shm"]
    where stat(path + suffix, &info) == 0 && info.st_mode & 0o777 != 0o600 {
      _ = chmod(path + suffix, 0o600)
    }
  }

  private static func openError(_ error: any Error, path: String) -> StateStoreError {
    if let error = error as? StateStoreError { return error }
    if let error = error as? DatabaseError {
      switch error.resultCode {
      case .SQLITE_NOTADB:
        return StateStoreError(
          code: .notADatabase, path: path,
          message:
            "state database \(path) is not a SQLite database: move it away or point --state-dir elsewhere",
          underlyingError: error)
      case .SQLITE_CORRUPT:
        return StateStoreError(
          code: .corrupt, path: path,
          message:
            "state database \(path) is corrupt: stop vigie, move the file (with its -wal and -shm files) "
            + "away to start afresh, and try `sqlite3 .recover` on the copy",
          underlyingError: error)
      case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_AUTH:
        return StateStoreError(
          code: .directoryNotWritable, path: path,
          message:
            "state database \(path) cannot be written: give the vigie user write access to it "
            + "and its directory, or point --state-dir elsewhere",
          underlyingError: error)
      default:
        break
      }
    }
    return StateStoreError(
      code: .cannotOpen, path: path,
      message:
        "cannot open state database \(path): check the disk and the file's owner, or point --state-dir elsewhere",
      underlyingError: error)
  }

  private static func describe(_ code: Int32) -> String {
    String(cString: strerror(code))
  }

  private static func posixCode(_ code: Int32) -> POSIXErrorCode {
    POSIXErrorCode(rawValue: code) ?? .EIO
  }
}

// `open` and `close` are also members of `StateStore`: call the system's
// through these.
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
  #if canImport(Glibc)
    Glibc.open(path, flags, mode)
  #else
    Darwin.open(path, flags, mode)
  #endif
}

private func systemClose(_ fd: Int32) -> Int32 {
  #if canImport(Glibc)
    Glibc.close(fd)
  #else
    Darwin.close(fd)
  #endif
}
