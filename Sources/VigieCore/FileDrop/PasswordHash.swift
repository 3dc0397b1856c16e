/// A stored password: `pbkdf2-sha256$ITERATIONS$SALT$HASH`, salt and hash in
/// lowercase hex. Computing and checking it needs HMAC-SHA256 (VigieFileDrop).
public struct PasswordHash: Sendable, Equatable {
  public var iterations: Int
  public var salt: [UInt8]
  public var hash: [UInt8]

  public static let scheme = "pbkdf2-sha256"

  public init(iterations: Int, salt: [UInt8], hash: [UInt8]) {
    self.iterations = iterations
    self.salt = salt
    self.hash = hash
  }

  public enum ParseResult: Sendable, Equatable {
    case success(PasswordHash)
    case failure(String)
  }

  public static func parse(_ text: String) -> ParseResult {
    let parts = text.split(separator: "$", omittingEmptySubsequences: false)
    guard parts.count == 4, parts[0] == scheme else {
      return .failure("expected pbkdf2-sha256$ITERATIONS$SALT$HASH (run vigie drop-password)")
    }
    guard let iterations = Int(parts[1]), (1000...10_000_000).contains(iterations) else {
      return .failure("the iteration count must be between 1000 and 10000000")
    }
    guard let salt = hex(parts[2]), salt.count >= 8 else { return .failure("the salt must be at least 8 bytes of hex") }
    guard let hash = hex(parts[3]), hash.count == 32 else { return .failure("the hash must be 32 bytes of hex") }
    return .success(PasswordHash(iterations: iterations, salt: salt, hash: hash))
  }

  public var text: String { "\(Self.scheme)$\(iterations)$\(Self.hex(salt))$\(Self.hex(hash))" }

  public static func hex(_ bytes: [UInt8]) -> String {
    bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
  }

  static func hex(_ text: Substring) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    for index in stride(from: 0, to: utf8.count, by: 2) {
      guard let high = DropPath.hexValue(utf8[index]), let low = DropPath.hexValue(utf8[index + 1]) else { return nil }
      out.append(high << 4 | low)
    }
    return out
  }

  /// Compares in time independent of where the first difference is.
  public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
  }
}
