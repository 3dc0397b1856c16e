/// OAuth 2.0 for Drive: the device authorisation grant (RFC 8628, Google's
/// "OAuth 2.0 for TV and Limited-Input Device Applications") and the
/// refresh-token grant, as pure state machines. Times are seconds on a
/// clock the caller chooses (monotonic for polling, Unix time for token
/// expiry); nothing here reads a clock or does I/O.

/// The scope Vigie asks for over the device flow (Google refuses the full
/// `drive` scope there).
public let driveFileScope = "https://www.googleapis.com/auth/drive.file"

/// The grant type of a device-code poll.
public let deviceCodeGrantType = "urn:ietf:params:oauth:grant-type:device_code"

/// A token answer: `access_token`, `expires_in`, optional `refresh_token`.
public struct OAuthTokenResponse: Sendable, Equatable {
  public var accessToken: String
  public var expiresIn: Int64
  public var refreshToken: String?
  public var scope: String

  public init(accessToken: String, expiresIn: Int64, refreshToken: String?, scope: String) {
    self.accessToken = accessToken
    self.expiresIn = expiresIn
    self.refreshToken = refreshToken
    self.scope = scope
  }

  /// Parses a token endpoint's 200 body; refuses missing or absurd fields.
  public static func parse(_ body: [UInt8]) throws(OAuthError) -> OAuthTokenResponse {
    let json: JSONValue
    do { json = try JSONValue.parse(body) } catch { throw .malformed(error.description) }
    guard let access = json["access_token"]?.string, !access.isEmpty, access.utf8.count <= 4096 else {
      throw .malformed("no access_token")
    }
    guard let expires = json["expires_in"]?.int64, (1...31_536_000).contains(expires) else {
      throw .malformed("expires_in missing or outside 1 s...1 year")
    }
    if let type = json["token_type"]?.string, type.lowercased() != "bearer" {
      throw .malformed("token_type \(type) is not Bearer")
    }
    let refresh = json["refresh_token"]?.string
    if let refresh, refresh.isEmpty || refresh.utf8.count > 4096 { throw .malformed("bad refresh_token") }
    return OAuthTokenResponse(
      accessToken: access, expiresIn: expires, refreshToken: refresh, scope: json["scope"]?.string ?? "")
  }
}

/// OAuth failures, by the `error` field of the answer (not the HTTP status:
/// Google uses 428 for `authorization_pending` where RFC 8628 says 400).
public enum OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
  case authorizationPending
  case slowDown
  case accessDenied
  case expiredToken
  /// The refresh token is revoked or expired (7 days for unverified apps
  /// in testing mode): a new `vigie drive auth` is needed.
  case invalidGrant(String)
  case invalidClient(String)
  /// Another `error` value.
  case other(error: String, description: String)
  /// The answer is not what the protocol says.
  case malformed(String)

  public var description: String {
    switch self {
    case .authorizationPending: "authorization pending"
    case .slowDown: "polling too fast"
    case .accessDenied: "the user refused access"
    case .expiredToken: "the device code expired before it was approved"
    case .invalidGrant(let d):
      "the refresh token is no longer valid (\(d)); run `vigie drive auth` again (apps in testing mode get tokens that expire after 7 days)"
    case .invalidClient(let d): "the OAuth client id or secret is wrong (\(d))"
    case .other(let e, let d): "\(e): \(d)"
    case .malformed(let m): "malformed OAuth answer: \(m)"
    }
  }

  /// Parses an error answer of a token or device endpoint.
  public static func parse(status: Int, body: [UInt8]) -> OAuthError {
    guard let json = try? JSONValue.parse(body), let error = json["error"]?.string else {
      return .malformed("HTTP \(status) without an OAuth error body")
    }
    let d = String((json["error_description"]?.string ?? "").prefix(200))
    switch error {
    case "authorization_pending": return .authorizationPending
    case "slow_down": return .slowDown
    case "access_denied": return .accessDenied
    case "expired_token": return .expiredToken
    case "invalid_grant": return .invalidGrant(d)
    case "invalid_client", "unauthorized_client": return .invalidClient(d)
    default: return .other(error: String(error.prefix(64)), description: d)
    }
  }
}

/// The device endpoint's answer.
public struct DeviceAuthorization: Sendable, Equatable {
  public var deviceCode: String
  public var userCode: String
  public var verificationURL: String
  public var expiresIn: Int64
  public var interval: Int64

  /// Parses it; Google names the URL `verification_url`, RFC 8628
  /// `verification_uri`: both are accepted. `interval` defaults to 5 s.
  public static func parse(_ body: [UInt8]) throws(OAuthError) -> DeviceAuthorization {
    let json: JSONValue
    do { json = try JSONValue.parse(body) } catch { throw .malformed(error.description) }
    guard let device = json["device_code"]?.string, !device.isEmpty, device.utf8.count <= 4096,
      let user = json["user_code"]?.string, !user.isEmpty, user.utf8.count <= 64,
      let url = json["verification_url"]?.string ?? json["verification_uri"]?.string,
      url.hasPrefix("https://") || url.hasPrefix("http://")
    else { throw .malformed("device_code, user_code or verification_url missing") }
    guard let expires = json["expires_in"]?.int64, (1...86_400).contains(expires) else {
      throw .malformed("expires_in missing or outside 1 s...1 day")
    }
    let interval = json["interval"]?.int64 ?? 5
    guard (1...300).contains(interval) else { throw .malformed("interval outside 1...300 s") }
    return DeviceAuthorization(
      deviceCode: device, userCode: user, verificationURL: url, expiresIn: expires, interval: interval)
  }
}

/// The polling side of the device flow (RFC 8628 §3.4–3.5).
public struct DeviceFlowPoller: Sendable, Equatable {
  public enum Step: Sendable, Equatable {
    /// Poll again after this many seconds.
    case wait(seconds: Int64)
    /// Authorised: store the tokens.
    case done(OAuthTokenResponse)
    /// The flow is over without a token.
    case failed(OAuthError)
  }

  public private(set) var interval: Int64
  public let deadline: Double

  /// `now` is the time the device answer was received.
  public init(_ authorization: DeviceAuthorization, now: Double) {
    interval = authorization.interval
    deadline = now + Double(authorization.expiresIn)
  }

  /// The first step: wait one interval before the first poll.
  public var first: Step { .wait(seconds: interval) }

  /// What to do after a poll answered `result` at time `now`.
  public mutating func next(after result: Result<OAuthTokenResponse, OAuthError>, now: Double) -> Step {
    switch result {
    case .success(let token): return .done(token)
    case .failure(.authorizationPending): break
    case .failure(.slowDown): interval += 5  // RFC 8628 §3.5: for this and all later polls
    case .failure(let error): return .failed(error)
    }
    if now + Double(interval) >= deadline { return .failed(.expiredToken) }
    return .wait(seconds: interval)
  }
}

/// The tokens kept in the token file.
public struct OAuthTokens: Sendable, Equatable {
  public var accessToken: String
  /// Unix time at which the access token expires.
  public var expiresAt: Double
  public var refreshToken: String
  public var scope: String

  public init(accessToken: String, expiresAt: Double, refreshToken: String, scope: String) {
    self.accessToken = accessToken
    self.expiresAt = expiresAt
    self.refreshToken = refreshToken
    self.scope = scope
  }

  /// Refresh this long before expiry, so a request never leaves with a token
  /// about to die (and clock skew of a minute is tolerated).
  public static let refreshMargin: Double = 120

  /// Whether the access token must be refreshed before a request at `now`.
  public func needsRefresh(now: Double) -> Bool {
    accessToken.isEmpty || now >= expiresAt - Self.refreshMargin
  }

  /// The tokens after a token answer received at `now`; a refresh answer
  /// without a refresh token keeps the old one.
  public func updated(with response: OAuthTokenResponse, now: Double) -> OAuthTokens {
    OAuthTokens(
      accessToken: response.accessToken, expiresAt: now + Double(response.expiresIn),
      refreshToken: response.refreshToken ?? refreshToken, scope: response.scope.isEmpty ? scope : response.scope)
  }

  public static func from(_ response: OAuthTokenResponse, now: Double) throws(OAuthError) -> OAuthTokens {
    guard let refresh = response.refreshToken else { throw .malformed("the first token answer has no refresh_token") }
    return OAuthTokens(
      accessToken: response.accessToken, expiresAt: now + Double(response.expiresIn), refreshToken: refresh,
      scope: response.scope)
  }

  /// The token file's text (JSON).
  public var fileText: String {
    JSONValue.object([
      ("access_token", .string(accessToken)), ("expires_at", .int(Int64(expiresAt))),
      ("refresh_token", .string(refreshToken)), ("scope", .string(scope)),
    ]).serialized + "\n"
  }

  /// Parses a token file written by `fileText` (or by hand: only
  /// `refresh_token` is required).
  public static func parseFile(_ bytes: [UInt8]) throws(OAuthError) -> OAuthTokens {
    let json: JSONValue
    do { json = try JSONValue.parse(bytes) } catch { throw .malformed("token file: \(error.description)") }
    guard let refresh = json["refresh_token"]?.string, !refresh.isEmpty else {
      throw .malformed("token file has no refresh_token")
    }
    let expires = json["expires_at"]?.int64 ?? 0
    return OAuthTokens(
      accessToken: json["access_token"]?.string ?? "", expiresAt: Double(max(0, expires)), refreshToken: refresh,
      scope: json["scope"]?.string ?? "")
  }
}

/// `application/x-www-form-urlencoded` encoding of form fields.
public func formEncode(_ fields: [(String, String)]) -> String {
  fields.map { percentEncode($0.0) + "=" + percentEncode($0.1) }.joined(separator: "&")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
public func percentEncode(_ text: String) -> String {
  var out = ""
  for byte in text.utf8 {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
      UInt8(ascii: "~"):
      out.unicodeScalars.append(UnicodeScalar(byte))
    default:
      let hex = String(byte, radix: 16, uppercase: true)
      out += "%" + (hex.count == 1 ? "0" : "") + hex
    }
  }
  return out
}
