/// The state of a watched target.
public enum TargetState: Sendable, Hashable, CaseIterable, CustomStringConvertible {
  /// No verdict yet: the watchdog just started, or the target's verdict was
  /// reset when a parent came back.
  case unknown
  /// The target answers (the success threshold was met).
  case up
  /// The target does not answer (the failure threshold was met) while it can
  /// be reached.
  case down
  /// A parent the target is reached through is DOWN or UNREACHABLE.
  case unreachable
  /// Nothing can be said: our own uplink is down, or every recent probe
  /// failed on our side.
  case inconclusive

  public var description: String {
    switch self {
    case .unknown: "UNKNOWN"
    case .up: "UP"
    case .down: "DOWN"
    case .unreachable: "UNREACHABLE"
    case .inconclusive: "INCONCLUSIVE"
    }
  }
}

/// What the dependencies of a target allow, computed by ``OutageEvaluator``
/// and passed to ``TargetMonitor``.
///
/// A gate never blocks a recovery: only new alerts (DOWN, flapping started).
public enum DependencyGate: Sendable, Hashable {
  /// Nothing stands between us and the target: its own verdict counts.
  case clear
  /// New alerts wait: `parent` has not yet confirmed it is reachable since
  /// the target started failing, or `parent` is flapping. The target shows
  /// its own state.
  case hold(parent: String)
  /// `parent` is DOWN or UNREACHABLE: the target is UNREACHABLE, its DOWN is
  /// not announced.
  case unreachable(parent: String)
  /// Our uplink is down: the target is INCONCLUSIVE, its DOWN is not
  /// announced.
  case inconclusive

  /// Whether a new DOWN or flapping alert may be announced.
  public var allowsNewAlerts: Bool { self == .clear }

  /// Whether the target's own verdict is hidden by a dependency.
  public var masksState: Bool {
    switch self {
    case .clear, .hold: false
    case .unreachable, .inconclusive: true
    }
  }
}

/// Something the watchdog announces: to the event bus, and from there to
/// alerts, status, LEDs and metrics.
public struct WatchEvent: Sendable, Hashable, CustomStringConvertible {
  /// What happened.
  public enum Kind: Sendable, Hashable {
    /// The target is DOWN. `since` is the first failed probe of the evidence
    /// (the oldest failure still in the window when the threshold was met);
    /// `reason` the latest failure.
    case down(since: WatchTime, reason: ProbeFailure?)
    /// The target is UP again after an announced DOWN; `outage` runs from the
    /// DOWN's `since` to the first success of the recovering streak. Never
    /// sent without a DOWN before it.
    case up(after: Duration)
    /// The target cannot be reached because `parent` is DOWN or UNREACHABLE.
    /// A state notice, not an alert.
    case unreachable(parent: String)
    /// The target's results change too often; single UP and DOWN events are
    /// held back until it settles. `percent` is the weighted share of state
    /// changes.
    case flappingStarted(percent: Double)
    /// The target settled; `state` is its state now. If that differs from
    /// what was last announced, an ``up(after:)`` or ``down(since:reason:)``
    /// follows in the same tick.
    case flappingStopped(state: TargetState)
    /// Our own uplink is down: no internet anchor answers. Internet targets
    /// are INCONCLUSIVE instead of DOWN.
    case uplinkDown(since: WatchTime, reason: ProbeFailure?)
    /// Our uplink is back after an announced ``uplinkDown(since:reason:)``.
    case uplinkUp(after: Duration)
  }

  /// The target's name (``TargetGraph/uplinkName`` for the uplink).
  public var target: String
  /// When it happened (the probe result or the tick that decided it).
  public var time: WatchTime
  /// What happened.
  public var kind: Kind

  /// An event about `target` at `time`.
  public init(target: String, time: WatchTime, kind: Kind) {
    self.target = target
    self.time = time
    self.kind = kind
  }

  /// Whether this should reach people (SMS, chat); ``Kind/unreachable(parent:)``
  /// is only a state notice for status pages, LEDs and metrics.
  public var isAlert: Bool {
    if case .unreachable = kind { false } else { true }
  }

  public var description: String {
    switch kind {
    case .down(let since, let reason):
      "\(target) DOWN since \(since)" + (reason.map { " (\($0))" } ?? "")
    case .up(let outage): "\(target) UP after \(outage)"
    case .unreachable(let parent): "\(target) UNREACHABLE (\(parent) is down)"
    case .flappingStarted(let percent): "\(target) FLAPPING (\(Int(percent.rounded()))% changes)"
    case .flappingStopped(let state): "\(target) stopped flapping, \(state)"
    case .uplinkDown(let since, let reason):
      "uplink DOWN since \(since)" + (reason.map { " (\($0))" } ?? "")
    case .uplinkUp(let outage): "uplink UP after \(outage)"
    }
  }
}
