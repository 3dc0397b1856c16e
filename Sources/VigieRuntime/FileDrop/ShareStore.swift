import Foundation
import GRDB
import VigieCore
import VigieFileDrop

/// Share links of the file drop, in the state store: they survive restarts.
public final class ShareStore: ShareLinkStore, Sendable {
  public static let migrations: [StateStoreMigration] = [
    StateStoreMigration("filedrop.v1") { db in
      try db.execute(
        sql: """
          CREATE TABLE filedrop_shares (
            token TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER,
            max_downloads INTEGER,
            downloads INTEGER NOT NULL DEFAULT 0,
            revoked INTEGER NOT NULL DEFAULT 0
          );
          """)
    }
  ]

  let store: StateStore
  public init(store: StateStore) { self.store = store }

  static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

  /// Creates a link to `path`.
  public func create(path: DropPath, maxDownloads: Int?, expiresIn: Duration?) async throws -> ShareLink {
    var generator = SystemRandomNumberGenerator()
    let now = Self.now()
    let link = ShareLink(
      token: ShareLink.makeToken(using: &generator), path: path, createdAt: now,
      expiresAt: expiresIn.map { now + $0.components.seconds }, maxDownloads: maxDownloads)
    try await store.database.write { db in
      try db.execute(
        sql: """
          INSERT INTO filedrop_shares (token, path, created_at, expires_at, max_downloads) VALUES (?, ?, ?, ?, ?)
          """, arguments: [link.token, link.path.relative, link.createdAt, link.expiresAt, link.maxDownloads])
    }
    return link
  }

  public func link(token: String) async throws -> ShareLink? {
    guard ShareLink.isTokenShaped(token) else { return nil }
    return try await store.database.read { db in
      try Row.fetchOne(db, sql: "SELECT * FROM filedrop_shares WHERE token = ?", arguments: [token]).flatMap(Self.link)
    }
  }

  public func recordDownload(token: String) async throws {
    try await store.database.write { db in
      try db.execute(sql: "UPDATE filedrop_shares SET downloads = downloads + 1 WHERE token = ?", arguments: [token])
    }
  }

  /// Every link, newest first.
  public func all() async throws -> [ShareLink] {
    try await store.database.read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM filedrop_shares ORDER BY created_at DESC, token").compactMap(Self.link)
    }
  }

  /// Revokes `token`; false when there is no such link.
  public func revoke(token: String) async throws -> Bool {
    try await store.database.write { db in
      try db.execute(sql: "UPDATE filedrop_shares SET revoked = 1 WHERE token = ?", arguments: [token])
      return db.changesCount > 0
    }
  }

  static func link(_ row: Row) -> ShareLink? {
    guard case .success(let path) = DropPath.parse(relative: row["path"] as String) else { return nil }
    return ShareLink(
      token: row["token"], path: path, createdAt: row["created_at"], expiresAt: row["expires_at"],
      maxDownloads: row["max_downloads"], downloads: row["downloads"], revoked: (row["revoked"] as Int) != 0)
  }
}
