/// The LED engine: which pattern each LED shows, chosen by priority among the
/// requests of several sources, plus short activity flashes on top.
///
/// Pure and clock-free: every call takes `now`, the time since the engine's
/// epoch, so tests drive it with exact instants and the driver thread sleeps
/// until ``nextChange(after:)`` instead of polling.
public struct LEDEngine: Sendable {
  /// Who asks for a pattern, highest wins (ties: the most recent request).
  public enum Priority: Int, Sendable, Comparable {
    /// The state-to-pattern map.
    case state = 10
    /// `vigie leds test` and other deliberate overrides.
    case test = 100

    public static func < (a: Priority, b: Priority) -> Bool { a.rawValue < b.rawValue }
  }

  struct Request: Sendable, Equatable {
    var priority: Priority
    var pattern: LEDPattern
    /// When the pattern started: a repeated request for the same pattern
    /// keeps its phase, so a blink does not restart on every update.
    var since: Duration
    var sequence: Int
  }

  struct Channel: Sendable, Equatable {
    var requests: [String: Request] = [:]
    /// While `now < flashUntil` the LED shows the opposite of its pattern.
    var flashUntil: Duration?
  }

  private var channels: [String: Channel]
  private var sequence = 0

  /// The LEDs this engine drives, by role name.
  public let leds: [String]

  public init(leds: [String]) {
    self.leds = leds
    channels = Dictionary(uniqueKeysWithValues: leds.map { ($0, Channel()) })
  }

  /// `source` asks `led` to show `pattern` at `priority`; nil withdraws the
  /// request. Unknown LEDs are ignored.
  public mutating func request(
    _ led: String, source: String, priority: Priority = .state, pattern: LEDPattern?, at now: Duration
  ) {
    guard var channel = channels[led] else { return }
    if let pattern {
      if let old = channel.requests[source], old.pattern == pattern, old.priority == priority { return }
      sequence += 1
      channel.requests[source] = Request(priority: priority, pattern: pattern, since: now, sequence: sequence)
    } else {
      channel.requests[source] = nil
    }
    channels[led] = channel
  }

  /// A short blink on `led` (activity): the opposite of what it shows, for
  /// `length`, so it is visible whether the LED is lit or dark.
  public mutating func flash(_ led: String, at now: Duration, length: Duration = .milliseconds(80)) {
    guard channels[led] != nil else { return }
    channels[led]!.flashUntil = now + length
  }

  /// The pattern `led` shows (ignoring flashes); `.off` when nobody asks.
  public func pattern(of led: String) -> LEDPattern { winner(of: led)?.pattern ?? .off }

  private func winner(of led: String) -> Request? {
    channels[led]?.requests.values.max { ($0.priority, $0.sequence) < ($1.priority, $1.sequence) }
  }

  /// Whether `led` is lit at `now`.
  public func level(of led: String, at now: Duration) -> Bool {
    guard let channel = channels[led] else { return false }
    let base = winner(of: led).map { $0.pattern.level(after: now - $0.since) } ?? false
    if let until = channel.flashUntil, now < until { return !base }
    return base
  }

  /// Every LED's level at `now`.
  public func levels(at now: Duration) -> [String: Bool] {
    Dictionary(uniqueKeysWithValues: leds.map { ($0, level(of: $0, at: now)) })
  }

  /// The first instant after `now` when some LED's level may change; nil
  /// when every LED is steady and no flash is running.
  public func nextChange(after now: Duration) -> Duration? {
    var next: Duration?
    for led in leds {
      guard let channel = channels[led] else { continue }
      if let winner = winner(of: led), let delta = winner.pattern.nextChange(after: now - winner.since) {
        next = min(next ?? now + delta, now + delta)
      }
      if let until = channel.flashUntil, until > now { next = min(next ?? until, until) }
    }
    return next
  }
}

/// `vigie leds test`: every LED lit alone in turn, then all blinking fast,
/// so a person can check the wiring one LED at a time.
public enum LEDTestSequence {
  /// (when, LED, pattern) steps from the start of the test; the test
  /// priority's requests are withdrawn after ``length(forLEDs:)``.
  public static func steps(leds: [String], hold: Duration = .seconds(1)) -> [(
    at: Duration, led: String, pattern: LEDPattern
  )] {
    var steps: [(at: Duration, led: String, pattern: LEDPattern)] = leds.map { (.zero, $0, .off) }
    for (index, led) in leds.enumerated() {
      let start = hold * index + .milliseconds(250) * index
      steps.append((start, led, .on))
      steps.append((start + hold, led, .off))
    }
    let all = (hold + .milliseconds(250)) * leds.count
    steps += leds.map { (all, $0, .fastBlink) }
    return steps
  }

  /// How long the whole test takes.
  public static func length(forLEDs count: Int, hold: Duration = .seconds(1)) -> Duration {
    (hold + .milliseconds(250)) * count + .seconds(2)
  }
}
