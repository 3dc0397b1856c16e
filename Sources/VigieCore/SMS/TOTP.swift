/// Why a TOTP generator could not be made.
public struct TOTPError: Error, Sendable, CustomStringConvertible {
  /// The kinds of error; more may be added.
  public struct Code: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
      case invalidSecret, secretTooShort, invalidDigits, invalidPeriod
    }
    private let kind: Kind
    private init(_ kind: Kind) { self.kind = kind }
    /// The secret is not valid base32 (``underlyingError`` says why).
    public static let invalidSecret = Code(.invalidSecret)
    /// Fewer than ``TOTP/minimumSecretLength`` bytes.
    public static let secretTooShort = Code(.secretTooShort)
    /// Digits outside `6...8`.
    public static let invalidDigits = Code(.invalidDigits)
    /// A period outside `1...3600` seconds.
    public static let invalidPeriod = Code(.invalidPeriod)
    /// The code's name, for logs.
    public var description: String { "\(kind)" }
  }

  /// What went wrong, for programs.
  public var code: Code
  /// What went wrong and what to do, for people.
  public var message: String
  /// The base32 error for ``Code/invalidSecret``.
  public var underlyingError: (any Error & Sendable)?

  /// An error with its code and message.
  public init(_ code: Code, _ message: String, underlyingError: (any Error & Sendable)? = nil) {
    self.code = code
    self.message = message
    self.underlyingError = underlyingError
  }

  /// The message.
  public var description: String { message }
}

/// Time-based one-time passwords (RFC 6238) over HMAC-SHA1 (HOTP, RFC 4226),
/// as authenticator apps make them.
///
/// The secret is never printed: `description` shows only the parameters.
public struct TOTP: Sendable, CustomStringConvertible {
  /// The shortest secret accepted, in bytes: 80 bits, what most authenticator
  /// apps generate (16 base32 characters). RFC 4226 asks for 128 bits and
  /// recommends 160.
  public static let minimumSecretLength = 10

  private let secret: [UInt8]
  /// Digits of a code, 6 to 8.
  public let digits: Int
  /// Seconds per time step, 1 to 3600.
  public let period: Int

  /// A generator for `secret` (raw bytes).
  public init(secret: [UInt8], digits: Int = 6, period: Int = 30) throws(TOTPError) {
    guard secret.count >= Self.minimumSecretLength else {
      throw TOTPError(
        .secretTooShort,
        "TOTP secret is too short (\(secret.count * 8) bits); use at least \(Self.minimumSecretLength * 8) bits (\(Self.minimumSecretLength * 8 / 5) base32 characters), 160 bits recommended."
      )
    }
    guard (6...8).contains(digits) else {
      throw TOTPError(.invalidDigits, "TOTP codes have 6 to 8 digits, not \(digits).")
    }
    guard (1...3600).contains(period) else {
      throw TOTPError(.invalidPeriod, "TOTP period must be 1 to 3600 seconds, not \(period).")
    }
    self.secret = secret
    self.digits = digits
    self.period = period
  }

  /// A generator for a base32 secret as authenticator apps show it
  /// (`JBSW Y3DP EHPK 3PXP`).
  public init(base32Secret: String, digits: Int = 6, period: Int = 30) throws(TOTPError) {
    switch Base32.decode(base32Secret) {
    case .success(let bytes): try self.init(secret: bytes, digits: digits, period: period)
    case .failure(let error):
      throw TOTPError(
        .invalidSecret, "TOTP secret is not valid base32: \(error.message)", underlyingError: error)
    }
  }

  /// The parameters, never the secret.
  public var description: String { "TOTP(\(digits) digits, \(period) s, HMAC-SHA1)" }

  /// The time step of `unixTime` (seconds since 1970 UTC); times before 1970
  /// are step 0.
  public func step(at unixTime: Int64) -> UInt64 {
    unixTime <= 0 ? 0 : UInt64(unixTime / Int64(period))
  }

  /// The code of time step (HOTP counter) `step`, zero-padded to ``digits``.
  public func code(step: UInt64) -> String {
    var counter: [UInt8] = []
    for shift in stride(from: 56, through: 0, by: -8) {
      counter.append(UInt8(truncatingIfNeeded: step >> UInt64(shift)))
    }
    let mac = HMACSHA1.authenticationCode(for: counter, key: secret)
    let offset = Int(mac[19] & 0x0F)
    let binary =
      UInt32(mac[offset] & 0x7F) << 24 | UInt32(mac[offset + 1]) << 16
      | UInt32(mac[offset + 2]) << 8 | UInt32(mac[offset + 3])
    var modulus: UInt32 = 1
    for _ in 0..<digits { modulus *= 10 }
    let value = String(binary % modulus)
    return String(repeating: "0", count: digits - value.count) + value
  }

  /// The code valid at `unixTime`.
  public func code(at unixTime: Int64) -> String { code(step: step(at: unixTime)) }

  /// The time step whose code is `code`, looking `window` steps either side
  /// of the step of `unixTime` (clamped to `0...10`), the newest first; `nil`
  /// if none matches or `code` is not exactly ``digits`` ASCII digits. Codes
  /// are compared in constant time.
  ///
  /// The caller must refuse a step it has already accepted (or an older
  /// one): see ``TOTPReplayGuard`` and ``verify(code:at:window:replayGuard:)``.
  public func verify(code: String, at unixTime: Int64, window: Int = 1) -> UInt64? {
    guard code.utf8.count == digits, code.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
      return nil
    }
    let window = UInt64(min(10, max(0, window)))
    let now = step(at: unixTime)
    let low = now >= window ? now - window : 0
    var matched: UInt64?
    // Look at every step of the window whatever matches, so that the time
    // taken does not say which step did.
    var candidate = now &+ window
    while candidate >= low {
      if ConstantTime.equal(Array(self.code(step: candidate).utf8), Array(code.utf8)),
        matched == nil
      {
        matched = candidate
      }
      if candidate == 0 { break }
      candidate -= 1
    }
    return matched
  }

  /// The outcome of ``verify(code:at:window:replayGuard:)``.
  public enum Verification: Sendable, Hashable {
    /// The code is valid for this step, newer than any accepted before; the
    /// guard now holds it.
    case accepted(step: UInt64)
    /// The code is valid for a step already accepted, or older: a replay.
    case replayed(step: UInt64)
    /// The code is wrong (or malformed).
    case rejected
  }

  /// Verifies `code` like ``verify(code:at:window:)`` and refuses replays:
  /// a step at or below the last one `replayGuard` accepted is ``Verification/replayed(step:)``.
  /// An accepted step is recorded in `replayGuard`, which the caller persists.
  public func verify(
    code: String, at unixTime: Int64, window: Int = 1, replayGuard: inout TOTPReplayGuard
  ) -> Verification {
    guard let step = verify(code: code, at: unixTime, window: window) else { return .rejected }
    guard replayGuard.accept(step: step) else { return .replayed(step: step) }
    return .accepted(step: step)
  }
}

/// The replay record of TOTP codes: the last time step accepted. A code is
/// accepted at most once, and never after a newer one, so a code seen by
/// someone else (an SMS read over a shoulder, a log) is worthless. Persist it
/// with the rest of the state so that a restart does not forget it.
public struct TOTPReplayGuard: Sendable, Hashable, Codable {
  /// The newest step accepted, if any.
  public private(set) var lastAcceptedStep: UInt64?

  /// A guard restored from storage, or a new one.
  public init(lastAcceptedStep: UInt64? = nil) { self.lastAcceptedStep = lastAcceptedStep }

  /// Whether `step` is newer than every step accepted before.
  public func allows(step: UInt64) -> Bool {
    guard let lastAcceptedStep else { return true }
    return step > lastAcceptedStep
  }

  /// Records `step` as used if ``allows(step:)``; returns whether it did.
  public mutating func accept(step: UInt64) -> Bool {
    guard allows(step: step) else { return false }
    lastAcceptedStep = step
    return true
  }
}
