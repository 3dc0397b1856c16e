/// Flood control: a token bucket. `burst` lines may go at once, then one
/// line every `interval`. Pure: the caller gives the time, so tests drive it
/// with a ManualClock.
public struct TokenBucket<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
  public let burst: Int
  public let interval: Duration
  private var tokens: Double
  private var updated: Instant

  public init(burst: Int, interval: Duration, now: Instant) {
    precondition(burst >= 1, "burst must be at least 1")
    precondition(interval > .zero, "interval must be positive")
    self.burst = burst
    self.interval = interval
    self.tokens = Double(burst)
    self.updated = now
  }

  private mutating func refill(_ now: Instant) {
    guard updated < now else { return }
    let gained = updated.duration(to: now).seconds / interval.seconds
    tokens = min(Double(burst), tokens + gained)
    updated = now
  }

  /// Takes a token when one is there and returns nil; otherwise returns how
  /// long to wait before one is (and takes nothing).
  public mutating func take(at now: Instant) -> Duration? {
    refill(now)
    if tokens >= 1 - 1e-9 {
      tokens -= 1
      return nil
    }
    return .seconds((1 - tokens) * interval.seconds)
  }

  /// How many tokens are there now, rounded down.
  public mutating func available(at now: Instant) -> Int {
    refill(now)
    return Int((tokens + 1e-9).rounded(.down))
  }
}

/// Text helpers for IRC: byte budgets, UTF-8-safe splitting, CTCP.
public enum IRCText {
  /// How many bytes of text fit in one `PRIVMSG`/`NOTICE` to `target` once
  /// the server prefixes it with our source when relaying it to others:
  /// `:nick!user@host PRIVMSG #chan :` plus CR LF must fit in 512 bytes.
  /// Unknown `user`/`host` count as their longest usual length (10 and 63).
  public static func budget(command: String = "PRIVMSG", target: String, nick: String, user: String?, host: String?)
    -> Int
  {
    let userBytes = user?.utf8.count ?? 10
    let hostBytes = host?.utf8.count ?? 63
    // ":" nick "!" user "@" host " " command " " target " :" ... "\r\n"
    let overhead =
      1 + nick.utf8.count + 1 + userBytes + 1 + hostBytes + 1 + command.utf8.count + 1 + target.utf8.count + 2 + 2
    return IRCMessage.maxLineBytes - overhead
  }

  /// Splits `text` into lines of at most `budget` bytes each: first on its
  /// own line breaks, then between words when a word boundary is close
  /// enough, never inside a UTF-8 sequence nor a grapheme cluster (a
  /// cluster longer than the budget is cut between scalars). NUL and other
  /// C0 controls except IRC formatting codes are replaced by spaces; empty
  /// lines are dropped.
  public static func split(_ text: String, budget: Int) -> [String] {
    precondition(budget >= 4, "budget too small for one UTF-8 character")
    var lines: [String] = []
    for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
      let line = sanitize(String(rawLine))
      if line.allSatisfy({ $0 == " " }) { continue }
      var current = ""
      var currentBytes = 0
      // Byte offset of the last space of `current`: a cut there moves the
      // space to the start of the next line (servers strip trailing spaces,
      // not leading ones), so the lines joined give the text back.
      var cut: Int?
      for character in line {
        let bytes = character.utf8.count
        if currentBytes + bytes > budget {
          if bytes > budget {
            // One cluster longer than a line: cut it between scalars.
            if !current.isEmpty { lines.append(current) }
            current = ""
            currentBytes = 0
            for scalar in character.unicodeScalars {
              let n = String(scalar).utf8.count
              if currentBytes + n > budget {
                lines.append(current)
                current = ""
                currentBytes = 0
              }
              current.unicodeScalars.append(scalar)
              currentBytes += n
            }
            cut = nil
            continue
          }
          if let cut, cut > 0, cut >= budget / 2, currentBytes - cut + bytes <= budget {
            let utf8 = Array(current.utf8)
            lines.append(String(decoding: utf8[..<cut], as: UTF8.self))
            current = String(decoding: utf8[cut...], as: UTF8.self)
            currentBytes = utf8.count - cut
          } else {
            lines.append(current)
            current = ""
            currentBytes = 0
          }
          cut = nil
        }
        if character == " " { cut = currentBytes }
        current.append(character)
        currentBytes += bytes
      }
      if !current.isEmpty { lines.append(current) }
    }
    return lines
  }

  /// Replaces C0 controls other than IRC formatting (bold 0x02, colour 0x03,
  /// reset 0x0F, reverse 0x16, italic 0x1D, underline 0x1F) by spaces.
  public static func sanitize(_ text: String) -> String {
    let keep: Set<UInt32> = [0x02, 0x03, 0x0F, 0x16, 0x1D, 0x1E, 0x1F]
    var out = ""
    for scalar in text.unicodeScalars {
      if (scalar.value < 0x20 && !keep.contains(scalar.value)) || scalar.value == 0x7F {
        out += " "
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
    return out
  }

  /// A CTCP request or reply: `\x01COMMAND args\x01`.
  public struct CTCP: Sendable, Hashable {
    public var command: String
    public var argument: String
    public init(command: String, argument: String) {
      self.command = command
      self.argument = argument
    }

    /// Reads a CTCP message from a PRIVMSG/NOTICE text; nil when it is not one.
    /// The closing `\x01` is optional, as many clients omit it.
    public static func parse(_ text: String) -> CTCP? {
      guard text.hasPrefix("\u{1}"), text.unicodeScalars.count > 1 else { return nil }
      var body = text.dropFirst()
      if body.hasSuffix("\u{1}") { body = body.dropLast() }
      guard !body.isEmpty else { return nil }
      let space = body.firstIndex(of: " ")
      let command = String(body[..<(space ?? body.endIndex)]).uppercased()
      let argument = space.map { String(body[body.index(after: $0)...]) } ?? ""
      guard !command.contains("\u{1}") else { return nil }
      return CTCP(command: command, argument: argument)
    }

    public var text: String { "\u{1}" + command + (argument.isEmpty ? "" : " " + argument) + "\u{1}" }
  }

  /// RFC 1459 case mapping (the ngircd and common default): ASCII letters
  /// and `[]\~` ↔ `{}|^`.
  public static func fold(_ name: String) -> String {
    var out = ""
    for scalar in name.unicodeScalars {
      switch scalar {
      case "A"..."Z": out.unicodeScalars.append(Unicode.Scalar(scalar.value + 32)!)
      case "[": out += "{"
      case "]": out += "}"
      case "\\": out += "|"
      case "~": out += "^"
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out
  }

  public static func isChannel(_ target: String) -> Bool {
    guard let first = target.first else { return false }
    return "#&+!".contains(first)
  }

  /// Glob match of an IRC mask (`*` any run, `?` one character), case-folded.
  public static func maskMatches(_ mask: String, _ text: String) -> Bool {
    let m = Array(fold(mask).unicodeScalars)
    let t = Array(fold(text).unicodeScalars)
    var mi = 0
    var ti = 0
    var star = -1
    var mark = 0
    while ti < t.count {
      if mi < m.count && (m[mi] == "?" || m[mi] == t[ti]) {
        mi += 1
        ti += 1
      } else if mi < m.count && m[mi] == "*" {
        star = mi
        mark = ti
        mi += 1
      } else if star >= 0 {
        mi = star + 1
        mark += 1
        ti = mark
      } else {
        return false
      }
    }
    while mi < m.count && m[mi] == "*" { mi += 1 }
    return mi == m.count
  }

  /// A nickname after `attempt` collisions: `vigie`, `vigie_`, `vigie__`,
  /// then `vigie` with digits, within `maxLength` bytes.
  public static func alternateNick(_ nick: String, attempt: Int, maxLength: Int = 30) -> String {
    switch attempt {
    case 0: return nick
    case 1, 2: return String((nick + String(repeating: "_", count: attempt)).prefix(maxLength))
    default:
      let digits = String(attempt * 7919 % 10000)
      return String(nick.prefix(max(1, maxLength - digits.count))) + digits
    }
  }
}
