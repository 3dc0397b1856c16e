/// The state machine of one target: thresholds, SOFT and HARD states, flap
/// detection, announcements, and the history kept for graphs.
///
/// A value type fed with probe outcomes and their times; it never reads a
/// clock. Used alone, ``record(_:at:gate:)`` gives the events of a target
/// without dependencies. ``OutageEvaluator`` uses the two steps,
/// ``observe(_:at:)`` then ``reconsider(at:gate:)``, to put a dependency gate
/// in between.
///
/// - A failure threshold: `failures` failures among the latest `window`
///   conclusive probes make the target DOWN (HARD). Fewer failures are a SOFT
///   state, shown by ``softState`` and never announced: one lost probe never
///   makes an alert (unless the policy asks for one failure).
/// - A success threshold: `successes` consecutive successes make it UP. The
///   failure window starts afresh then, so old failures do not count again.
/// - Inconclusive outcomes count for nothing: they neither fill the window
///   nor break a streak. After `failures` of them in a row the target shows
///   INCONCLUSIVE, keeping its verdict underneath.
/// - Announcements: ``WatchEvent/Kind/down(since:reason:)`` when the verdict
///   is DOWN and the gate allows new alerts; ``WatchEvent/Kind/up(after:)``
///   only after an announced DOWN, whatever the gate (recoveries are never
///   blocked). While flapping, neither is announced; when flapping stops, the
///   state at that time is, and then the DOWN or UP that differs from what
///   was last announced.
public struct TargetMonitor: Sendable {
  private enum Verdict: Sendable, Hashable {
    case unknown
    case up(recoveredAt: WatchTime)
    case down(since: WatchTime, reason: ProbeFailure?)
  }

  private struct Mark: Sendable, Hashable {
    var time: WatchTime
    var failed: Bool
  }

  /// The target's name, used in events.
  public let name: String
  /// The thresholds.
  public let policy: MonitorPolicy
  /// The latest results, for graphs.
  public private(set) var history: ProbeHistory

  private var verdict = Verdict.unknown
  /// The latest conclusive results, at most `policy.window`, oldest first.
  private var recent: [Mark] = []
  private var streakStart: WatchTime?
  private var flapResults: [Bool] = []
  private var flapAnnounced = false
  private var lastConclusiveFailed: Bool?

  /// Consecutive successes up to now.
  public private(set) var successStreak = 0
  /// Consecutive inconclusive outcomes up to now.
  public private(set) var inconclusiveStreak = 0
  /// Whether the target is flapping now (announced or not).
  public private(set) var isFlapping = false
  /// The latest weighted share of state changes, in percent.
  public private(set) var flapPercent = 0.0
  /// When the current verdict (UP, DOWN or UNKNOWN after a reset) was reached.
  public private(set) var stateSince: WatchTime?
  /// When the target last answered.
  public private(set) var lastSuccess: WatchTime?
  /// The latest failure.
  public private(set) var lastFailure: ProbeFailure?
  /// The `since` of the announced DOWN not yet followed by an UP; `nil` when
  /// no outage is open. Kept across resets: a recovery is always announced.
  public private(set) var outageSince: WatchTime?

  /// A monitor for `name` with `policy`, keeping `historyCapacity` samples.
  public init(name: String, policy: MonitorPolicy = MonitorPolicy(), historyCapacity: Int = 1440) {
    self.name = name
    self.policy = policy
    self.history = ProbeHistory(capacity: historyCapacity)
  }

  // MARK: State

  /// The target's own state, ignoring dependencies.
  public var ownState: TargetState {
    if inconclusiveStreak >= policy.failures { return .inconclusive }
    switch verdict {
    case .unknown: return .unknown
    case .up: return .up
    case .down: return .down
    }
  }

  /// The state shown under `gate`: UNREACHABLE or INCONCLUSIVE when a
  /// dependency hides the target, its own state otherwise.
  public func state(under gate: DependencyGate) -> TargetState {
    switch gate {
    case .unreachable: .unreachable
    case .inconclusive: .inconclusive
    case .clear, .hold: ownState
    }
  }

  /// The state the latest results lean to without having met its threshold
  /// yet (Nagios's SOFT state): DOWN after a failure while not DOWN, UP after
  /// a success while not UP; `nil` when the latest result agrees with the
  /// HARD state.
  public var softState: TargetState? {
    switch (lastConclusiveFailed, verdict) {
    case (true, .unknown), (true, .up): .down
    case (false, .unknown), (false, .down): .up
    default: nil
    }
  }

  /// Failures among the latest `policy.window` conclusive results counted
  /// for the verdict.
  public var failuresInWindow: Int { recent.count(where: \.failed) }

  /// The `since` of a DOWN verdict that has not been announced (held back by
  /// a dependency, or while flapping); `nil` otherwise.
  public var pendingDownSince: WatchTime? {
    if case .down(let since, _) = verdict, outageSince == nil { return since }
    return nil
  }

  // MARK: Feeding

  /// Records `outcome` made at `time` and returns what to announce under
  /// `gate` (``DependencyGate/clear`` for a target without dependencies).
  public mutating func record(
    _ outcome: ProbeOutcome, at time: WatchTime, gate: DependencyGate = .clear
  ) -> [WatchEvent] {
    observe(outcome, at: time)
    return reconsider(at: time, gate: gate)
  }

  /// Records `outcome` made at `time`: history, verdict, flap detection.
  /// Announces nothing; call ``reconsider(at:gate:)`` next.
  public mutating func observe(_ outcome: ProbeOutcome, at time: WatchTime) {
    history.append(ProbeSample(outcome, at: time))
    switch outcome {
    case .inconclusive:
      inconclusiveStreak += 1
      return
    case .success:
      inconclusiveStreak = 0
      push(Mark(time: time, failed: false))
      if successStreak == 0 { streakStart = time }
      successStreak += 1
      lastSuccess = time
      lastConclusiveFailed = false
    case .failure(let reason):
      inconclusiveStreak = 0
      push(Mark(time: time, failed: true))
      successStreak = 0
      streakStart = nil
      lastFailure = reason
      lastConclusiveFailed = true
    }
    switch verdict {
    case .unknown, .up:
      // Only a failure can make a target DOWN.
      if outcome.isFailure, failuresInWindow >= policy.failures {
        let since = recent.first(where: \.failed)?.time ?? time
        verdict = .down(since: since, reason: lastFailure)
        stateSince = time
      } else if case .unknown = verdict, successStreak >= policy.successes {
        becomeUp(at: time)
      }
    case .down:
      if successStreak >= policy.successes { becomeUp(at: time) }
    }
    updateFlapping(success: outcome.isSuccess)
  }

  /// What to announce now under `gate`, at `time`: a DOWN that a dependency
  /// held back and now allows, the start or end of flapping, a recovery.
  public mutating func reconsider(at time: WatchTime, gate: DependencyGate) -> [WatchEvent] {
    var events: [WatchEvent] = []
    if isFlapping {
      if !flapAnnounced, gate.allowsNewAlerts {
        flapAnnounced = true
        events.append(event(time, .flappingStarted(percent: flapPercent)))
      }
      return events
    }
    if flapAnnounced {
      flapAnnounced = false
      events.append(event(time, .flappingStopped(state: state(under: gate))))
    }
    switch verdict {
    case .down(let since, let reason):
      if outageSince == nil, gate.allowsNewAlerts {
        outageSince = since
        events.append(event(time, .down(since: since, reason: reason)))
      }
    case .up(let recoveredAt):
      if let since = outageSince {
        outageSince = nil
        events.append(event(time, .up(after: recoveredAt.elapsed(since: since))))
      }
    case .unknown:
      break
    }
    return events
  }

  /// Forgets the evidence of the verdict so that it is made again on fresh
  /// probes: called when a parent that hid the target comes back. A DOWN
  /// that was not announced becomes UNKNOWN; an open outage (announced DOWN)
  /// is kept, so that its recovery is announced. History and flap detection
  /// are kept.
  public mutating func restart(at time: WatchTime) {
    guard outageSince == nil else { return }
    recent.removeAll()
    successStreak = 0
    streakStart = nil
    lastConclusiveFailed = nil
    if case .down = verdict {
      verdict = .unknown
      stateSince = time
    }
  }

  // MARK: Private

  private mutating func push(_ mark: Mark) {
    recent.append(mark)
    if recent.count > policy.window { recent.removeFirst(recent.count - policy.window) }
  }

  private mutating func becomeUp(at time: WatchTime) {
    verdict = .up(recoveredAt: streakStart ?? time)
    stateSince = time
    // A fresh window: failures before the recovery do not count again.
    recent.removeAll()
  }

  private mutating func updateFlapping(success: Bool) {
    let flap = policy.flap
    guard flap.enabled else { return }
    flapResults.append(success)
    if flapResults.count > flap.window { flapResults.removeFirst(flapResults.count - flap.window) }
    guard flapResults.count >= flap.minimumResults else { return }
    flapPercent = flap.changePercent(flapResults)
    if !isFlapping, flapPercent >= flap.high {
      isFlapping = true
    } else if isFlapping, flapPercent < flap.low {
      isFlapping = false
    }
  }

  private func event(_ time: WatchTime, _ kind: WatchEvent.Kind) -> WatchEvent {
    WatchEvent(target: name, time: time, kind: kind)
  }
}
