/// What one LED does over time. Every pattern but the constant ones is a
/// cycle of on/off steps; ``LEDPattern/level(after:)`` and
/// ``LEDPattern/nextChange(after:)`` answer from the time since the pattern
/// started, so the engine can sleep until the next edge instead of polling.
public enum LEDPattern: Sendable, Hashable, CustomStringConvertible {
  case off
  case on
  /// 1 s on, 1 s off.
  case slowBlink
  /// 125 ms on, 125 ms off.
  case fastBlink
  /// Two short beats, then a pause (one cycle per second).
  case heartbeat
  /// `count` flashes (250 ms on, 250 ms off), then 1.5 s dark; 1 to 9.
  case code(Int)

  /// The most flashes a blink code shows; more read as this many.
  public static let maximumCode = 9

  /// The cycle: (lit, how long) steps, repeated. Empty for constant patterns.
  public var steps: [(lit: Bool, length: Duration)] {
    switch self {
    case .off, .on: return []
    case .slowBlink: return [(true, .seconds(1)), (false, .seconds(1))]
    case .fastBlink: return [(true, .milliseconds(125)), (false, .milliseconds(125))]
    case .heartbeat:
      return [
        (true, .milliseconds(100)), (false, .milliseconds(150)), (true, .milliseconds(100)),
        (false, .milliseconds(650)),
      ]
    case .code(let count):
      let flashes = min(max(count, 1), Self.maximumCode)
      var steps: [(lit: Bool, length: Duration)] = []
      for _ in 0..<flashes { steps += [(true, .milliseconds(250)), (false, .milliseconds(250))] }
      steps[steps.count - 1].length = .milliseconds(1750)
      return steps
    }
  }

  /// How long one cycle lasts; zero for constant patterns.
  public var period: Duration { steps.reduce(.zero) { $0 + $1.length } }

  /// Whether the LED is lit `elapsed` after the pattern started.
  public func level(after elapsed: Duration) -> Bool {
    switch self {
    case .off: return false
    case .on: return true
    default: return position(after: elapsed).lit
    }
  }

  /// How long after `elapsed` the level changes next; nil when it never does.
  public func nextChange(after elapsed: Duration) -> Duration? {
    switch self {
    case .off, .on: return nil
    default: return position(after: elapsed).remaining
    }
  }

  private func position(after elapsed: Duration) -> (lit: Bool, remaining: Duration) {
    let steps = self.steps
    let period = self.period
    var offset = elapsed < .zero ? .zero : elapsed
    let cycles = (offset / period).rounded(.down)
    offset -= period * cycles
    for step in steps {
      if offset < step.length { return (step.lit, step.length - offset) }
      offset -= step.length
    }
    return (steps[0].lit, steps[0].length)  // rounding at the very end of a cycle
  }

  /// The name used in `[leds.patterns]`: `off`, `on`, `slow`, `fast`,
  /// `heartbeat`, `code:N`.
  public var description: String {
    switch self {
    case .off: "off"
    case .on: "on"
    case .slowBlink: "slow"
    case .fastBlink: "fast"
    case .heartbeat: "heartbeat"
    case .code(let count): "code:\(count)"
    }
  }
}

/// A pattern as written in the configuration: a fixed pattern, or `code`,
/// a blink code whose count comes from the state (e.g. targets down).
public enum LEDPatternSpec: Sendable, Hashable, CustomStringConvertible {
  case fixed(LEDPattern)
  /// Flash as many times as the state counts (1 to 9).
  case countCode

  public static let names = ["off", "on", "slow", "fast", "heartbeat", "code", "code:N"]

  /// Parses `off`, `on`, `slow`, `fast`, `heartbeat`, `code` or `code:N`
  /// (N from 1 to 9); the message of a failure names what is accepted.
  public static func parse(_ text: String) -> Result<LEDPatternSpec, LEDSpecError> {
    switch text {
    case "off": return .success(.fixed(.off))
    case "on": return .success(.fixed(.on))
    case "slow": return .success(.fixed(.slowBlink))
    case "fast": return .success(.fixed(.fastBlink))
    case "heartbeat": return .success(.fixed(.heartbeat))
    case "code": return .success(.countCode)
    default:
      if text.hasPrefix("code:") {
        let digits = text.dropFirst(5)
        guard let count = Int(digits), (1...LEDPattern.maximumCode).contains(count), digits.allSatisfy(\.isASCII)
        else {
          return .failure(LEDSpecError("\"\(text)\": a blink code counts 1 to \(LEDPattern.maximumCode) flashes"))
        }
        return .success(.fixed(.code(count)))
      }
      let suggestion = Suggest.closest(to: text, in: ["off", "on", "slow", "fast", "heartbeat", "code"])
      return .failure(
        LEDSpecError(
          "\"\(text)\" is not a pattern: use off, on, slow, fast, heartbeat, code or code:N"
            + (suggestion.map { "; did you mean \"\($0)\"?" } ?? "")))
    }
  }

  /// The pattern for a state counting `count` things (used by `code`).
  public func pattern(count: Int) -> LEDPattern {
    switch self {
    case .fixed(let pattern): pattern
    case .countCode: count > 0 ? .code(count) : .off
    }
  }

  public var description: String {
    switch self {
    case .fixed(let pattern): pattern.description
    case .countCode: "code"
    }
  }
}

/// A configuration value that names an LED or a pattern wrongly.
public struct LEDSpecError: Error, Equatable, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Which physical LED a role uses: `sysfs:NAME` (kernel LED class, e.g. the
/// Pi's `ACT` and `PWR`), `gpio:LINE` or `gpio:LINE:active-low` (a line of
/// `[leds] gpio_chip` through libgpiod), or empty (not fitted).
public enum LEDDevice: Sendable, Hashable, CustomStringConvertible {
  case sysfs(name: String)
  case gpio(line: Int, activeLow: Bool)

  /// Parses a device; empty text is nil (no LED for the role).
  public static func parse(_ text: String) -> Result<LEDDevice?, LEDSpecError> {
    if text.isEmpty { return .success(nil) }
    let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    switch parts[0] {
    case "sysfs":
      guard parts.count == 2, !parts[1].isEmpty else {
        return .failure(LEDSpecError("\"\(text)\": write sysfs:NAME, e.g. sysfs:ACT"))
      }
      let name = parts[1]
      guard name != ".", name != "..", !name.contains("/"), name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
        return .failure(LEDSpecError("\"\(text)\": an LED name is one directory name of the LED class"))
      }
      return .success(.sysfs(name: name))
    case "gpio":
      guard parts.count == 2 || parts.count == 3, let line = Int(parts[1]), (0...1023).contains(line),
        parts[1].allSatisfy(\.isASCII)
      else {
        return .failure(LEDSpecError("\"\(text)\": write gpio:LINE or gpio:LINE:active-low, LINE from 0 to 1023"))
      }
      if parts.count == 3 {
        guard parts[2] == "active-low" else {
          return .failure(LEDSpecError("\"\(text)\": the only option after the line is \"active-low\""))
        }
        return .success(.gpio(line: line, activeLow: true))
      }
      return .success(.gpio(line: line, activeLow: false))
    default:
      return .failure(LEDSpecError("\"\(text)\": an LED is sysfs:NAME, gpio:LINE or gpio:LINE:active-low"))
    }
  }

  public var description: String {
    switch self {
    case .sysfs(let name): "sysfs:\(name)"
    case .gpio(let line, let activeLow): "gpio:\(line)" + (activeLow ? ":active-low" : "")
    }
  }
}
