/// A share link: a random token that lets anyone holding it download one
/// file, a limited number of times (completed downloads only) until it
/// expires or is revoked.
public struct ShareLink: Sendable, Equatable {
  public var token: String
  /// The shared file, relative to the drop's root.
  public var path: DropPath
  /// Seconds since the epoch.
  public var createdAt: Int64
  public var expiresAt: Int64?
  public var maxDownloads: Int?
  /// Completed downloads so far.
  public var downloads: Int
  public var revoked: Bool

  public init(
    token: String, path: DropPath, createdAt: Int64, expiresAt: Int64?, maxDownloads: Int?, downloads: Int = 0,
    revoked: Bool = false
  ) {
    self.token = token
    self.path = path
    self.createdAt = createdAt
    self.expiresAt = expiresAt
    self.maxDownloads = maxDownloads
    self.downloads = downloads
    self.revoked = revoked
  }

  public enum State: String, Sendable, Equatable {
    case active, expired, exhausted, revoked
  }

  public func state(now: Int64) -> State {
    if revoked { return .revoked }
    if let expiresAt, now >= expiresAt { return .expired }
    if let maxDownloads, downloads >= maxDownloads { return .exhausted }
    return .active
  }

  /// 128 random bits as 26 lowercase base32 characters (no padding): short
  /// enough for a QR code, unguessable, safe in a URL path.
  public static func makeToken<G: RandomNumberGenerator>(using generator: inout G) -> String {
    let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
    var bits = (
      UInt64.random(in: .min ... .max, using: &generator), UInt64.random(in: .min ... .max, using: &generator)
    )
    var out = ""
    for index in 0..<26 {
      let value: UInt64
      if index < 12 {
        value = bits.0 & 31
        bits.0 >>= 5
      } else if index == 12 {
        // 4 bits left of the first word plus one of the second.
        value = (bits.0 & 15) | ((bits.1 & 1) << 4)
        bits.1 >>= 1
      } else {
        value = bits.1 & 31
        bits.1 >>= 5
      }
      out.append(alphabet[Int(value)])
    }
    return out
  }

  /// Whether `text` has the shape of a token (checked before any lookup).
  public static func isTokenShaped(_ text: String) -> Bool {
    text.utf8.count == 26 && text.utf8.allSatisfy { (97...122).contains($0) || (50...55).contains($0) }
  }

  /// A one-line description for `vigie share --list`.
  public func summary(now: Int64) -> String {
    var parts = [token, path.description, state(now: now).rawValue]
    parts.append("\(downloads)/\(maxDownloads.map(String.init) ?? "∞") downloads")
    if let expiresAt {
      parts.append(now < expiresAt ? "expires in \(StatusReport.formatDuration(Int(expiresAt - now)))" : "expired")
    }
    return parts.joined(separator: "  ")
  }
}
