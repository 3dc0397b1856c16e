import Testing
import VigieCore

/// A deterministic generator (SplitMix64) so jittered delays are repeatable.
private struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

@Suite struct OutboxPolicyTests {
  static let policy = OutboxPolicy(
    maxAttempts: 4, backoff: Backoff(base: .seconds(10), factor: 2, cap: .seconds(60), jitter: 0),
    lease: .seconds(30))

  @Test(
    "a retryable failure is retried with the backoff of its attempt until attempts run out",
    arguments: [
      (1, OutboxPolicy.FailureOutcome.retry(after: .seconds(10))),
      (2, .retry(after: .seconds(20))),
      (3, .retry(after: .seconds(40))),
      (4, .deadLetter(.attemptsExhausted(4))),
      (9, .deadLetter(.attemptsExhausted(9))),
    ])
  func retryableFailure(attempts: Int, expected: OutboxPolicy.FailureOutcome) {
    #expect(Self.policy.outcome(ofFailedAttempt: attempts, retryable: true) == expected)
  }

  @Test("a non-retryable failure is dead-lettered at once", arguments: [1, 2, 4, 100])
  func nonRetryableFailure(attempts: Int) {
    #expect(
      Self.policy.outcome(ofFailedAttempt: attempts, retryable: false) == .deadLetter(.notRetryable)
    )
  }

  @Test("the backoff is capped")
  func backoffCapped() {
    let policy = OutboxPolicy(
      maxAttempts: 100,
      backoff: Backoff(base: .seconds(10), factor: 2, cap: .seconds(60), jitter: 0))
    #expect(policy.outcome(ofFailedAttempt: 50, retryable: true) == .retry(after: .seconds(60)))
  }

  @Test("jittered retry delays stay within the jitter band")
  func jitter() {
    let policy = OutboxPolicy(
      maxAttempts: 10,
      backoff: Backoff(base: .seconds(8), factor: 2, cap: .seconds(600), jitter: 0.5))
    var generator = SplitMix(state: 42)
    for _ in 0..<200 {
      guard
        case .retry(let delay) = policy.outcome(
          ofFailedAttempt: 2, retryable: true, using: &generator)
      else {
        Issue.record("expected a retry")
        return
      }
      #expect(delay >= .seconds(8) && delay <= .seconds(16))
    }
  }

  @Test("a lapsed lease may be claimed again until the last attempt", arguments: [0, 1, 3, 4, 5])
  func reclaim(attempts: Int) {
    #expect(Self.policy.mayReclaim(afterAttempts: attempts) == (attempts < 4))
  }

  @Test(
    "a lease holds from its start to its end, and not when the clock went back before its start",
    arguments: [
      // (leasedAt, leaseUntil, now, holds)
      (100, 130, 100, true),
      (100, 130, 129, true),
      (100, 130, 130, false),
      (100, 130, 500, false),
      (100, 130, 99, false),  // clock went back 1 ms past the claim
      (100, 130, -86_400, false),  // clock went back a day (Pi booting without RTC)
    ])
  func leaseHolds(leasedAt: Int, leaseUntil: Int, now: Int, holds: Bool) {
    #expect(OutboxPolicy.leaseHolds(leasedAt: leasedAt, leaseUntil: leaseUntil, now: now) == holds)
  }

  @Test(
    "an item is due at its notBefore; a relative wait ends at once when the clock went back before its decision",
    arguments: [
      // (notBefore, scheduledAt, now, due)
      (100, 100, 100, true),
      (100, 50, 99, false),
      (100, 50, 200, true),
      (150, 50, 49, true),  // a backoff decided at 50; the clock went back to 49
      (150, nil, 49, false),  // an absolute notBefore is honoured whatever the clock did
      (1_000_000, nil, 60, false),  // a notBefore far in the future is fine
      (1_000_000, nil, 1_000_000, true),
    ] as [(Int, Int?, Int, Bool)])
  func isDue(notBefore: Int, scheduledAt: Int?, now: Int, due: Bool) {
    #expect(OutboxPolicy.isDue(notBefore: notBefore, scheduledAt: scheduledAt, now: now) == due)
  }

  @Test(
    "out-of-range settings are clamped, not trapped",
    arguments: [(0, Duration.zero, Duration.seconds(-5)), (-3, .seconds(-1), .zero)])
  func clamping(maxAttempts: Int, lease: Duration, retention: Duration) {
    let policy = OutboxPolicy(maxAttempts: maxAttempts, lease: lease, tombstoneRetention: retention)
    #expect(policy.maxAttempts == 1)
    #expect(policy.lease == .milliseconds(1))
    #expect(policy.tombstoneRetention == .zero)
  }

  @Test("defaults: ten attempts, one-minute lease, tombstones kept seven days")
  func defaults() {
    let policy = OutboxPolicy.default
    #expect(policy.maxAttempts == 10)
    #expect(policy.lease == .seconds(60))
    #expect(policy.tombstoneRetention == .seconds(7 * 24 * 3600))
    #expect(policy.backoff == OutboxPolicy.defaultBackoff)
  }
}
