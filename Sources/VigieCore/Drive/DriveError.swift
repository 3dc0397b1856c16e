/// What went wrong with a Drive API request, classified for the retry logic.
///
/// Google answers errors as `{"error": {"code", "message", "errors":
/// [{"domain", "reason", "message", ...}], "status"}}`; the `reason` decides
/// (Drive's "Resolve errors" guide): 401 → refresh the token, 403
/// `userRateLimitExceeded`/`rateLimitExceeded` and 429 → exponential backoff,
/// 403 `dailyLimitExceeded` → stop until tomorrow, 5xx → backoff, 404 →
/// not found (for an upload session: start a new one), other 4xx → a bug or
/// a refusal that retrying cannot fix.
public struct DriveError: Error, Sendable, Equatable, CustomStringConvertible {
  public enum Kind: String, Sendable, Equatable {
    /// The access token is missing, expired or revoked (401).
    case unauthorized
    /// Too many requests (429, 403 rate limits): back off and retry.
    case rateLimited
    /// The project's daily quota is spent: retry after midnight Pacific time.
    case dailyLimit
    /// The server failed (5xx): back off and retry.
    case server
    /// The file or upload session does not exist (404).
    case notFound
    /// The request was refused and retrying it unchanged cannot help.
    case rejected
    /// The transfer failed without an answer (connection cut, timeout): the
    /// request may or may not have taken effect.
    case transport
  }

  public var kind: Kind
  /// The HTTP status, 0 for transport failures.
  public var status: Int
  /// Google's first `errors[].reason`, or the OAuth `error`, or "".
  public var reason: String
  public var message: String

  public init(kind: Kind, status: Int, reason: String, message: String) {
    self.kind = kind
    self.status = status
    self.reason = reason
    self.message = message
  }

  public var description: String {
    status == 0 ? "transport: \(message)" : "HTTP \(status) \(reason.isEmpty ? "" : reason + ": ")\(message)"
  }

  /// Whether the same request may be retried after a delay.
  public var isRetryable: Bool { [.rateLimited, .server, .transport].contains(kind) }

  /// A transport failure (no HTTP answer).
  public static func transport(_ message: String) -> DriveError {
    DriveError(kind: .transport, status: 0, reason: "", message: message)
  }

  /// Classifies an HTTP error answer. `body` may be anything (HTML from a
  /// proxy, truncated JSON): the status alone then decides.
  public static func classify(status: Int, body: [UInt8]) -> DriveError {
    var reason = ""
    var message = "HTTP \(status)"
    if let json = try? JSONValue.parse(body) {
      if let err = json["error"], let first = err["errors"]?.array?.first {
        reason = first["reason"]?.string ?? ""
        message = err["message"]?.string ?? first["message"]?.string ?? message
      } else if let err = json["error"]?.string {  // OAuth shape
        reason = err
        message = json["error_description"]?.string ?? err
      } else if let err = json["error"], let m = err["message"]?.string {
        message = m
      }
    } else if !body.isEmpty {
      message = "HTTP \(status) with a non-JSON body of \(body.count) bytes"
    }
    message = String(message.prefix(300))
    let kind: Kind
    switch (status, reason) {
    case (401, _): kind = .unauthorized
    case (429, _): kind = .rateLimited
    case (403, "dailyLimitExceeded"), (403, "dailyLimitExceededUnreg"): kind = .dailyLimit
    case (403, "userRateLimitExceeded"), (403, "rateLimitExceeded"), (403, "sharingRateLimitExceeded"):
      kind = .rateLimited
    case (404, _): kind = .notFound
    case (408, _): kind = .server
    case (500...599, _): kind = .server
    default: kind = .rejected
    }
    return DriveError(kind: kind, status: status, reason: reason, message: message)
  }
}

/// What to do after a failed request.
public enum RetryDecision: Sendable, Equatable {
  /// Try again after this delay.
  case retry(after: Duration)
  /// Refresh the access token, then try again at once.
  case refreshToken
  /// Give up on this request (the error stands).
  case fail
  /// Stop all requests until the quota resets.
  case pauseUntilQuotaReset
}

/// The retry policy: truncated exponential backoff with jitter for rate
/// limits, server errors and transport failures, at most `maxAttempts`;
/// one token refresh for a 401.
public struct DriveRetryPolicy: Sendable {
  public var backoff: Backoff
  public var maxAttempts: Int

  public init(
    backoff: Backoff = Backoff(base: .seconds(1), factor: 2, cap: .seconds(64), jitter: 0.5), maxAttempts: Int = 8
  ) {
    self.backoff = backoff
    self.maxAttempts = maxAttempts
  }

  /// The decision after attempt number `attempt` (1-based) failed with
  /// `error`; `refreshedAlready` tells whether this request already caused
  /// a refresh (a second 401 is final: the grant is bad).
  public func decide(
    _ error: DriveError, attempt: Int, refreshedAlready: Bool,
    using generator: inout some RandomNumberGenerator
  ) -> RetryDecision {
    switch error.kind {
    case .unauthorized: return refreshedAlready ? .fail : .refreshToken
    case .dailyLimit: return .pauseUntilQuotaReset
    case .rateLimited, .server, .transport:
      return attempt >= maxAttempts ? .fail : .retry(after: backoff.delay(attempt: attempt, using: &generator))
    case .notFound, .rejected: return .fail
    }
  }
}
