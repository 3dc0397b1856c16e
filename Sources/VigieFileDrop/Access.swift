import CArchive
import Crypto
import Foundation
import Glibc
import HTTPTypes
import NIOCore
import Synchronization
import VigieCore

/// PBKDF2-HMAC-SHA256 password hashes (RFC 8018), one 32-byte block.
public enum Passwords {
  public static let defaultIterations = 100_000

  public static func derive(_ password: String, salt: [UInt8], iterations: Int) -> [UInt8] {
    let key = SymmetricKey(data: Array(password.utf8))
    var block = salt + [0, 0, 0, 1]
    var result = [UInt8](repeating: 0, count: 32)
    for _ in 0..<iterations {
      let mac = Array(HMAC<Crypto.SHA256>.authenticationCode(for: block, using: key))
      for index in 0..<32 { result[index] ^= mac[index] }
      block = mac
    }
    return result
  }

  public static func hash(_ password: String, iterations: Int = defaultIterations) -> PasswordHash {
    var generator = SystemRandomNumberGenerator()
    let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    return PasswordHash(iterations: iterations, salt: salt, hash: derive(password, salt: salt, iterations: iterations))
  }

  public static func verify(_ password: String, _ stored: PasswordHash) -> Bool {
    PasswordHash.constantTimeEqual(derive(password, salt: stored.salt, iterations: stored.iterations), stored.hash)
  }
}

/// Who may do what: the public (`public_read`, `public_drop`) and the
/// `[[filedrop.user]]` accounts over HTTP Basic. A verified credential is
/// remembered for a few minutes by its SHA-256 (PBKDF2 is slow by design).
final class AccessControl: Sendable {
  enum Need: Sendable {
    case read, drop
  }

  enum Decision: Equatable, Sendable {
    case allowed(user: String?)
    /// 401: credentials needed or wrong.
    case unauthenticated
    /// 403: known user, wrong role.
    case forbidden(user: String)
  }

  let publicRead: Bool
  let publicDrop: Bool
  let users: [String: (role: DropRole, hash: PasswordHash)]
  private let verified = Mutex<[String: (user: String, until: ContinuousClock.Instant)]>([:])
  static let rememberFor: Duration = .seconds(300)
  /// Wrong guesses against unknown names cost the same PBKDF2 as known ones.
  private let decoy = Passwords.hash("decoy", iterations: 1000)

  init(publicRead: Bool, publicDrop: Bool, users: [DropUser]) {
    self.publicRead = publicRead
    self.publicDrop = publicDrop
    var table: [String: (role: DropRole, hash: PasswordHash)] = [:]
    for user in users {
      if case .success(let hash) = PasswordHash.parse(user.passwordHash) { table[user.name] = (user.role, hash) }
    }
    self.users = table
  }

  static func allows(_ role: DropRole, _ need: Need) -> Bool {
    switch (role, need) {
    case (.admin, _), (.read, .read), (.drop, .drop): true
    default: false
    }
  }

  func decide(_ need: Need, authorization: String?) -> Decision {
    if authorization == nil {
      switch need {
      case .read where publicRead, .drop where publicDrop: return .allowed(user: nil)
      default: return .unauthenticated
      }
    }
    guard let user = authenticate(authorization!) else { return .unauthenticated }
    guard let entry = users[user] else { return .unauthenticated }
    return Self.allows(entry.role, need) || (need == .read && publicRead) || (need == .drop && publicDrop)
      ? .allowed(user: user) : .forbidden(user: user)
  }

  /// The user name when `authorization` is valid Basic credentials.
  func authenticate(_ authorization: String) -> String? {
    guard authorization.count < 1024, authorization.lowercased().hasPrefix("basic ") else { return nil }
    let key = Crypto.SHA256.hash(data: Array(authorization.utf8)).map { String(format: "%02x", $0) }.joined()
    let now = ContinuousClock.now
    if let known = verified.withLock({ $0[key] }), known.until > now { return known.user }
    guard let data = Data(base64Encoded: String(authorization.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
      let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
    else { return nil }
    let name = String(text[..<colon])
    let password = String(text[text.index(after: colon)...])
    guard let entry = users[name] else {
      _ = Passwords.verify(password, decoy)
      return nil
    }
    guard Passwords.verify(password, entry.hash) else { return nil }
    verified.withLock { table in
      if table.count > 1000 { table.removeAll() }
      table[key] = (name, now.advanced(by: Self.rememberFor))
    }
    return name
  }
}
