/// How a durable outbox retries, leases and forgets its items.
///
/// A pure value: the outbox in VigieRuntime stores the items, this type makes
/// the decisions (retry or dead-letter after a failure, whether a lease still
/// holds, whether an item is due), so that they can be tested without a
/// database. The SQL of the outbox mirrors ``leaseHolds(leasedAt:leaseUntil:now:)``
/// and ``isDue(notBefore:scheduledAt:now:)``: keep them in step.
///
/// An attempt is counted when an item is claimed, not when it fails: a worker
/// that crashes on an item (its lease expires without an ack or a failure)
/// uses up attempts too, so a poison item cannot crash-loop the daemon forever.
public struct OutboxPolicy: Sendable, Hashable {
  /// Delivery attempts (claims) allowed before an item is dead-lettered;
  /// at least 1.
  public var maxAttempts: Int
  /// Delay before the next attempt after a retryable failure; attempt 1 is
  /// the retry after the first failed attempt.
  public var backoff: Backoff
  /// How long a claim keeps an item away from other claimers, unless the
  /// claim asks for another duration; more than zero.
  public var lease: Duration
  /// How long an acknowledged item is kept as a tombstone so that enqueuing
  /// the same idempotency key again is still recognised as a duplicate.
  public var tombstoneRetention: Duration

  /// The backoff used unless the policy says otherwise: 5 s, doubling, capped
  /// at one hour, 20 % jitter.
  public static let defaultBackoff = Backoff(
    base: .seconds(5), factor: 2, cap: .seconds(3600), jitter: 0.2)

  /// Ten attempts, ``defaultBackoff``, a one-minute lease, tombstones kept
  /// seven days.
  public static let `default` = OutboxPolicy()

  /// Creates a policy. Out-of-range values are clamped rather than trapped
  /// (they may come from a configuration file): `maxAttempts` to at least 1,
  /// `lease` to at least one millisecond, `tombstoneRetention` to at least zero.
  public init(
    maxAttempts: Int = 10,
    backoff: Backoff = OutboxPolicy.defaultBackoff,
    lease: Duration = .seconds(60),
    tombstoneRetention: Duration = .seconds(7 * 24 * 3600)
  ) {
    self.maxAttempts = max(1, maxAttempts)
    self.backoff = backoff
    self.lease = max(.milliseconds(1), lease)
    self.tombstoneRetention = max(.zero, tombstoneRetention)
  }

  /// Why an item ends up in the dead letters.
  public enum DeadLetterCause: Sendable, Hashable {
    /// The caller said the failure cannot be cured by retrying.
    case notRetryable
    /// The item used up ``OutboxPolicy/maxAttempts`` attempts (the count is
    /// carried).
    case attemptsExhausted(Int)
  }

  /// What happens to an item after a failed attempt.
  public enum FailureOutcome: Sendable, Hashable {
    /// Try again once the delay has passed.
    case retry(after: Duration)
    /// Stop trying; keep the item, with its reason, in the dead letters.
    case deadLetter(DeadLetterCause)
  }

  /// The fate of an item whose attempt number `attempts` (1 for the first)
  /// just failed, drawing the backoff jitter from `generator`.
  public func outcome(
    ofFailedAttempt attempts: Int,
    retryable: Bool,
    using generator: inout some RandomNumberGenerator
  ) -> FailureOutcome {
    if !retryable { return .deadLetter(.notRetryable) }
    if attempts >= maxAttempts { return .deadLetter(.attemptsExhausted(attempts)) }
    return .retry(after: backoff.delay(attempt: max(1, attempts), using: &generator))
  }

  /// ``outcome(ofFailedAttempt:retryable:using:)`` with the system random
  /// generator.
  public func outcome(ofFailedAttempt attempts: Int, retryable: Bool) -> FailureOutcome {
    var generator = SystemRandomNumberGenerator()
    return outcome(ofFailedAttempt: attempts, retryable: retryable, using: &generator)
  }

  /// Whether an item whose lease has lapsed after `attempts` attempts, with
  /// neither an ack nor a failure, may be claimed again; when this is false
  /// the claimer dead-letters it instead (the worker probably crashed on it).
  public func mayReclaim(afterAttempts attempts: Int) -> Bool {
    attempts < maxAttempts
  }

  /// Whether a lease taken at `leasedAt` and ending at `leaseUntil` still
  /// keeps the item away from other claimers at `now`.
  ///
  /// A lease taken "after" `now` means the clock went backwards since the
  /// claim (a Raspberry Pi has no RTC and steps its clock at boot): its end
  /// is no longer meaningful, so the lease is treated as expired rather than
  /// blocking the item for as long as the clock jumped.
  public static func leaseHolds<Instant: Comparable>(
    leasedAt: Instant, leaseUntil: Instant, now: Instant
  ) -> Bool {
    leasedAt <= now && now < leaseUntil
  }

  /// Whether an item that must wait until `notBefore` may be claimed at
  /// `now`. `scheduledAt` is when a *relative* wait was decided (enqueued
  /// "now", or a retry backoff after a failure); it is nil when the caller
  /// chose `notBefore` as an absolute time.
  ///
  /// An absolute `notBefore`, even far in the future, is honoured. A
  /// relative wait is over at once when `now` is before `scheduledAt`: the
  /// clock went backwards since the decision, and the wait must not be
  /// stretched by the jump.
  public static func isDue<Instant: Comparable>(
    notBefore: Instant, scheduledAt: Instant?, now: Instant
  ) -> Bool {
    if notBefore <= now { return true }
    guard let scheduledAt else { return false }
    return now < scheduledAt
  }
}
