/// The thresholds of one target's state machine.
///
/// Out-of-range values are clamped, never trapped on: `window` in `1...1000`,
/// `failures` in `1...window`, `successes` in `1...1000`.
public struct MonitorPolicy: Sendable, Hashable {
  /// A target is DOWN after this many failures...
  public var failures: Int
  /// ...among this many latest conclusive probes.
  public var window: Int
  /// Consecutive successes needed to be UP (again).
  public var successes: Int
  /// Flap detection.
  public var flap: FlapPolicy

  /// Thresholds, clamped to sensible ranges. The defaults are those of
  /// `[watchdog]`: 3 failures among 5 probes, 2 successes.
  public init(
    failures: Int = 3, window: Int = 5, successes: Int = 2, flap: FlapPolicy = FlapPolicy()
  ) {
    let window = min(max(window, 1), 1000)
    self.window = window
    self.failures = min(max(failures, 1), window)
    self.successes = min(max(successes, 1), 1000)
    self.flap = flap
  }

  /// The thresholds of `[watchdog]` (`failures`, `window`, `successes`).
  public init(_ config: WatchdogConfig, flap: FlapPolicy = FlapPolicy()) {
    self.init(
      failures: config.failures, window: config.window, successes: config.successes, flap: flap)
  }
}

/// Nagios-style flap detection with hysteresis.
///
/// The last ``window`` conclusive results are kept; the share of changes
/// between consecutive results is weighted from 0.8 (oldest) to 1.2 (newest),
/// so that recent changes count more, and given in percent of the changes a
/// full window can hold (``changePercent(_:)``). A target starts flapping when
/// the share reaches ``high`` and stops when it falls below ``low``. Nothing
/// is decided before ``minimumResults`` results.
///
/// A single lost probe in a steady series makes two changes: at most 12% with
/// the defaults, far from the 50% that starts flapping; strictly alternating
/// results reach it after 10 results.
public struct FlapPolicy: Sendable, Hashable {
  /// Whether flap detection runs.
  public var enabled: Bool
  /// Results looked at (Nagios: 21).
  public var window: Int
  /// Results needed before flapping can start.
  public var minimumResults: Int
  /// Flapping stops below this percentage.
  public var low: Double
  /// Flapping starts at this percentage.
  public var high: Double

  /// Flap detection, clamped: `window` in `3...1000`, `minimumResults` in
  /// `3...window`, `high` in `1...100`, `low` in `0...high`. Non-finite
  /// percentages take the defaults.
  public init(
    enabled: Bool = true, window: Int = 21, minimumResults: Int = 10, low: Double = 25,
    high: Double = 50
  ) {
    self.enabled = enabled
    self.window = min(max(window, 3), 1000)
    self.minimumResults = min(max(minimumResults, 3), self.window)
    let high = high.isFinite ? min(max(high, 1), 100) : 50
    self.high = high
    self.low = low.isFinite ? min(max(low, 0), high) : min(25, high)
  }

  /// No flap detection.
  public static let disabled = FlapPolicy(enabled: false)

  /// The weighted share of changes, in percent, of `results` (oldest first)
  /// within a window of ``window`` results: the pair of the newest two results
  /// weighs 1.2, the oldest pair of a full window 0.8. Pairs missing from a
  /// window not yet full count as no change, so that a short history is not
  /// judged more harshly than a full one.
  public func changePercent(_ results: [Bool]) -> Double {
    let fullPairs = window - 1
    let values = results.suffix(window)
    guard fullPairs >= 1, values.count >= 2 else { return 0 }
    var changed = 0.0
    var newer = values.last!
    // Walk from the newest pair (age 0) to the oldest.
    for (age, older) in values.dropLast().reversed().enumerated() {
      if older != newer {
        let weight = fullPairs == 1 ? 1 : 1.2 - 0.4 * Double(age) / Double(fullPairs - 1)
        changed += weight
      }
      newer = older
    }
    return 100 * changed / Double(fullPairs)
  }
}
