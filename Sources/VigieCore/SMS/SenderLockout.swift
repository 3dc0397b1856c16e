/// Rate limit of failed secret attempts, per sender.
///
/// After ``Policy/maxFailures`` failures within ``Policy/window``, a sender is
/// locked out for ``Policy/lockout``; every further lockout doubles the
/// duration, up to ``Policy/maxLockout``. A success clears the sender's
/// record: the failure count and the doubling. While locked, attempts are
/// refused without being checked and do not count (the caller must not even
/// verify the secret then).
///
/// A pure value: time is passed in as Unix seconds, and the caller persists
/// the value (it is `Codable`) so that a restart does not forgive anyone.
/// A clock set back keeps a lockout on until it catches up again: locking out
/// is the safe side.
public struct SenderLockout: Sendable, Hashable, Codable {
  /// The limits.
  public struct Policy: Sendable, Hashable, Codable {
    /// Failures that lock a sender out; 3 unless set.
    public var maxFailures: Int
    /// How long a failure counts; 15 minutes unless set.
    public var window: Duration
    /// The first lockout; 15 minutes unless set.
    public var lockout: Duration
    /// The longest lockout; 24 hours unless set.
    public var maxLockout: Duration

    /// Out-of-range values are clamped: at least 1 failure, durations of at
    /// least one second, `maxLockout` at least `lockout`.
    public init(
      maxFailures: Int = 3, window: Duration = .seconds(15 * 60),
      lockout: Duration = .seconds(15 * 60), maxLockout: Duration = .seconds(24 * 3600)
    ) {
      self.maxFailures = max(1, maxFailures)
      self.window = max(.seconds(1), window)
      self.lockout = max(.seconds(1), lockout)
      self.maxLockout = max(self.lockout, maxLockout)
    }

    /// The duration of lockout number `count` (1 for the first):
    /// `min(maxLockout, lockout * 2^(count-1))`.
    public func lockoutDuration(count: Int) -> Duration {
      var duration = lockout
      var n = 1
      while n < count && duration < maxLockout {
        duration = duration * 2
        n += 1
      }
      return min(duration, maxLockout)
    }
  }

  /// What one sender has done.
  public struct Record: Sendable, Hashable, Codable {
    /// Times of the failures that still count.
    public var failures: [Int64] = []
    /// Lockouts since the last success.
    public var lockouts: Int = 0
    /// End of the current or last lockout.
    public var lockedUntil: Int64?

    /// A clean record.
    public init() {}
  }

  /// Whether a sender may try now.
  public enum Status: Sendable, Hashable {
    /// Allowed; `remainingAttempts` failures more lock the sender out.
    case allowed(remainingAttempts: Int)
    /// Locked out until this Unix time.
    case locked(until: Int64)

    /// Whether the sender is locked out.
    public var isLocked: Bool {
      if case .locked = self { true } else { false }
    }
  }

  /// The limits; set it from the configuration after restoring a
  /// persisted value, so that a changed configuration applies.
  public var policy: Policy
  /// Records by sender key (``PhoneNumber/key``).
  public private(set) var records: [String: Record] = [:]

  /// No records yet.
  public init(policy: Policy = Policy()) { self.policy = policy }

  /// Whether `sender` may try at `now`.
  public func status(of sender: String, at now: Int64) -> Status {
    guard let record = records[sender] else {
      return .allowed(remainingAttempts: policy.maxFailures)
    }
    if let until = record.lockedUntil, now < until { return .locked(until: until) }
    let counting = record.failures.filter { counts($0, at: now) }.count
    return .allowed(remainingAttempts: max(0, policy.maxFailures - counting))
  }

  /// Records a failed attempt of `sender` at `now` and returns the new
  /// status (``Status/locked(until:)`` when this failure locked it out). A
  /// failure while locked out changes nothing.
  @discardableResult
  public mutating func recordFailure(of sender: String, at now: Int64) -> Status {
    var record = records[sender] ?? Record()
    if let until = record.lockedUntil, now < until { return .locked(until: until) }
    record.failures.removeAll { !counts($0, at: now) }
    record.failures.append(now)
    if record.failures.count >= policy.maxFailures {
      record.lockouts += 1
      let seconds = policy.lockoutDuration(count: record.lockouts).components.seconds
      let (until, overflow) = now.addingReportingOverflow(seconds)
      record.lockedUntil = overflow ? Int64.max : until
      record.failures = []
    }
    records[sender] = record
    return status(of: sender, at: now)
  }

  /// Records a successful attempt: the sender's failures and lockout history
  /// are forgotten.
  public mutating func recordSuccess(of sender: String) {
    records[sender] = nil
  }

  /// Forgets records that no longer matter at `now`: no counting failure,
  /// not locked, and no lockout history. Keeps the value small.
  public mutating func prune(at now: Int64) {
    records = records.compactMapValues { record in
      var record = record
      record.failures.removeAll { !counts($0, at: now) }
      let locked = record.lockedUntil.map { now < $0 } ?? false
      if record.failures.isEmpty && !locked && record.lockouts == 0 { return nil }
      return record
    }
  }

  /// Whether a failure at `time` still counts at `now`. A failure stamped
  /// in the future (the clock was set back) counts.
  private func counts(_ time: Int64, at now: Int64) -> Bool {
    let (age, overflow) = now.subtractingReportingOverflow(time)
    if overflow { return time > now }
    return age < policy.window.components.seconds
  }
}
