/// The secret that commands of level `operate` and `admin` carry by SMS, as
/// their last word: `REBOOT 492039`, `RESTART sms 492039`, or a passphrase
/// word instead of the TOTP code. `read` commands need none.
///
/// A phone number is easy to spoof; the secret is what proves the sender.
/// The order of checks in the gateway is: sender allowed, not locked out
/// (``SenderLockout``), ``split(_:grammar:)``, authorise the command text
/// (``CommandGrammar/parse(_:principal:)`` on ``Split/command``), then
/// ``Verifier/verify(_:at:replayGuard:)``. The secret is never logged nor
/// echoed: log ``redacted(_:grammar:)``.
public enum SMSSecret {
  /// What replaces a secret in logs and journals; always the same length,
  /// whatever the secret's.
  public static let mask = "******"

  /// A received text taken apart.
  public enum Split: Sendable, Hashable {
    /// No secret needed: a `read` command, or a text the grammar will refuse
    /// anyway (empty, unknown command). The text is unchanged.
    case notRequired(command: String)
    /// The command needs a secret and its last word is taken as the secret.
    case provided(command: String, secret: String)
    /// The command needs a secret and the text has none: the command name
    /// alone, or a text that is a complete command as it stands while
    /// dropping its last word leaves it incomplete (`RESTART sms`). This is
    /// not a failed attempt.
    case missing(command: String)

    /// The command text without its secret.
    public var command: String {
      switch self {
      case .notRequired(let command), .provided(let command, _), .missing(let command): command
      }
    }
  }

  /// Splits `text` into the command and the secret for the command's level
  /// in `grammar`.
  public static func split(_ text: String, grammar: CommandGrammar) -> Split {
    let words = rawWords(text)
    guard let first = words.first, let spec = grammar.spec(named: String(text[first])),
      spec.privilege > .read
    else { return .notRequired(command: text) }
    guard words.count > 1, let last = words.last else {
      return .missing(command: trimmed(text))
    }
    let command = trimmed(String(text[..<last.lowerBound]))
    let secret = String(text[last])
    if parses(text, grammar) && !parses(command, grammar) {
      return .missing(command: trimmed(text))
    }
    return .provided(command: command, secret: secret)
  }

  /// `text` as it may be logged or journalled: the last word replaced by
  /// ``mask`` whenever it could be a secret, that is for every text of two
  /// words or more except `read` commands. This errs on the safe side: a
  /// misspelt `REBOT 492039` does not leak the code, nor does `RESTART 492039`
  /// (the service forgotten, the code taken for it), at the price of logging
  /// `RESTART sms` as `RESTART ******`. A single word is logged as it is.
  public static func redacted(_ text: String, grammar: CommandGrammar) -> String {
    let words = rawWords(text)
    guard words.count > 1, let first = words.first, let last = words.last else { return text }
    if let spec = grammar.spec(named: String(text[first])), spec.privilege == .read { return text }
    return trimmed(String(text[..<last.lowerBound])) + " " + mask
  }

  /// Checks secrets: a TOTP code, a passphrase, or either when both are set.
  public struct Verifier: Sendable {
    /// The TOTP generator, if codes are accepted.
    public var totp: TOTP?
    /// Steps either side of now that a TOTP code may be from (SMS are slow:
    /// 1 or 2).
    public var window: Int
    private var passphraseDigest: [UInt8]?

    /// A verifier accepting TOTP codes of `totp` and/or `passphrase` (an
    /// empty passphrase is none). The passphrase is sent as one word, so one
    /// with spaces never matches: the configuration should refuse it. Only a
    /// digest of the passphrase is kept.
    public init(totp: TOTP?, passphrase: String?, window: Int = 1) {
      self.totp = totp
      self.window = window
      if let passphrase, !passphrase.isEmpty { passphraseDigest = SHA1.hash(passphrase) }
    }

    /// Whether any secret is configured. Without one, `operate` and `admin`
    /// commands cannot be run by SMS.
    public var isConfigured: Bool { totp != nil || passphraseDigest != nil }

    /// The outcome of a check.
    public enum Verdict: Sendable, Hashable {
      /// A TOTP code for this step, which is now recorded in the guard.
      case totp(step: UInt64)
      /// The passphrase.
      case passphrase
      /// A TOTP code already used (or older than one used): count it as a
      /// failure.
      case replayed
      /// Wrong: count it as a failure.
      case wrong
      /// No secret is configured: the command cannot be run by SMS.
      case notConfigured

      /// Whether the command may run.
      public var isAccepted: Bool {
        switch self {
        case .totp, .passphrase: true
        case .replayed, .wrong, .notConfigured: false
        }
      }
    }

    /// Checks `secret` at `now` (Unix seconds). A secret of the TOTP's digit
    /// count in ASCII digits is tried as a code (with `replayGuard`, which the
    /// caller persists); the passphrase is compared in constant time.
    public func verify(_ secret: String, at now: Int64, replayGuard: inout TOTPReplayGuard)
      -> Verdict
    {
      guard isConfigured else { return .notConfigured }
      var replayed = false
      if let totp {
        switch totp.verify(code: secret, at: now, window: window, replayGuard: &replayGuard) {
        case .accepted(let step): return .totp(step: step)
        case .replayed: replayed = true
        case .rejected: break
        }
      }
      if let passphraseDigest, ConstantTime.equal(SHA1.hash(secret), passphraseDigest) {
        return .passphrase
      }
      return replayed ? .replayed : .wrong
    }
  }

  // MARK: - Helpers

  /// Ranges of the whitespace-separated words of `text` (quotes are not
  /// interpreted: a secret is one plain word).
  private static func rawWords(_ text: String) -> [Range<String.Index>] {
    var words: [Range<String.Index>] = []
    var start: String.Index?
    var index = text.startIndex
    while index < text.endIndex {
      if text[index].isWhitespace {
        if let s = start { words.append(s..<index) }
        start = nil
      } else if start == nil {
        start = index
      }
      index = text.index(after: index)
    }
    if let s = start { words.append(s..<text.endIndex) }
    return words
  }

  private static func trimmed(_ text: String) -> String {
    var text = Substring(text)
    while let first = text.first, first.isWhitespace { text.removeFirst() }
    while let last = text.last, last.isWhitespace { text.removeLast() }
    return String(text)
  }

  /// Whether `text` is a well-formed command (privilege aside).
  private static func parses(_ text: String, _ grammar: CommandGrammar) -> Bool {
    let principal = Principal(transport: .sms, identity: "", level: .admin)
    if case .success = grammar.parse(text, principal: principal) { return true }
    return false
  }
}
