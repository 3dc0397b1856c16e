/// Exponential backoff with "full jitter" and a cap.
///
/// The delay before retry `attempt` (1-based) is drawn uniformly from
/// `[base * factor^(attempt-1) * (1 - jitter), base * factor^(attempt-1)]`,
/// never above `cap`. With `jitter == 0` the delay is deterministic, which is
/// what tests use.
public struct Backoff: Sendable, Hashable {
  public var base: Duration
  public var factor: Double
  public var cap: Duration
  /// Fraction of the delay that is randomised, in `0...1`.
  public var jitter: Double

  public init(base: Duration, factor: Double = 2, cap: Duration, jitter: Double = 0.5) {
    precondition(factor >= 1, "backoff factor must be >= 1")
    precondition((0...1).contains(jitter), "jitter must be within 0...1")
    self.base = base
    self.factor = factor
    self.cap = cap
    self.jitter = jitter
  }

  /// Restart policy used by the supervisor unless a service asks otherwise.
  public static let supervisorDefault = Backoff(base: .seconds(1), factor: 2, cap: .seconds(300), jitter: 0.3)

  /// The delay before retry number `attempt` (1 for the first retry), drawing
  /// jitter from `generator`.
  public func delay(attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
    let ceiling = undithered(attempt: attempt)
    guard jitter > 0 else { return ceiling }
    let seconds = ceiling.seconds
    let low = seconds * (1 - jitter)
    return .seconds(Double.random(in: low...seconds, using: &generator))
  }

  /// The delay before retry `attempt` with the system random generator.
  public func delay(attempt: Int) -> Duration {
    var generator = SystemRandomNumberGenerator()
    return delay(attempt: attempt, using: &generator)
  }

  /// The delay without jitter: `min(cap, base * factor^(attempt-1))`.
  public func undithered(attempt: Int) -> Duration {
    let exponent = Double(max(0, attempt - 1))
    let raw = base.seconds * pow(factor, exponent)
    return .seconds(min(cap.seconds, raw.isFinite ? raw : cap.seconds))
  }
}

extension Duration {
  /// The duration in seconds as a `Double`.
  public var seconds: Double {
    let (s, attoseconds) = components
    return Double(s) + Double(attoseconds) / 1e18
  }
}

/// `pow` without Foundation, so that VigieCore stays free of platform imports.
@inline(__always)
func pow(_ base: Double, _ exponent: Double) -> Double {
  // exp(log(x) * y) loses precision for big numbers; repeated squaring on the
  // integral part keeps delays exact for the integral exponents we use.
  var result = 1.0
  var b = base
  var e = Int(exponent)
  while e > 0 {
    if e & 1 == 1 { result *= b }
    b *= b
    e >>= 1
    if !result.isFinite { return .infinity }
  }
  return result
}
