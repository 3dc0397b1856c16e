/// One probe result for ``OutageEvaluator``.
public struct ProbeResult: Sendable, Hashable {
  /// The target's name.
  public var target: String
  /// What the probe said.
  public var outcome: ProbeOutcome
  /// When the probe was made.
  public var time: WatchTime

  /// The result `outcome` of probing `target` at `time`.
  public init(target: String, outcome: ProbeOutcome, time: WatchTime) {
    self.target = target
    self.outcome = outcome
    self.time = time
  }
}

/// Dependency-aware evaluation: every target's own ``TargetMonitor``, the
/// uplink's, and the gates between them. The dynamic part of
/// ``TargetGraph``.
///
/// Each tick (``evaluate(_:uplink:at:)``) takes the results that came in and
/// returns the events to announce, deduplicated, parents first:
///
/// - A target whose parents are all DOWN or UNREACHABLE is UNREACHABLE: its
///   own DOWN is not announced. A gateway outage is one DOWN alert plus
///   UNREACHABLE notices (``WatchEvent/isAlert`` is false for them).
/// - A child's DOWN also waits while a parent has not answered since the
///   child started failing (the parent may be going down too), at most the
///   parent's `interval * (failures + 1)`; ``parentsToCheck`` names the
///   parents worth probing now (Nagios's on-demand parent checks). It waits
///   while a parent flaps, as does a child's flapping alert.
/// - Recoveries are never blocked: a child that was DOWN (announced) before
///   its parent fell keeps its open outage, and its recovery is announced.
/// - When a parent comes back, the children it hid start their verdict
///   afresh: a child still failing is DOWN only after its own thresholds on
///   new probes.
/// - Our uplink is up if any internet anchor answers. When it is DOWN, internet
///   targets are INCONCLUSIVE, not DOWN, and one
///   ``WatchEvent/Kind/uplinkDown(since:reason:)`` is announced. When the
///   uplink is itself behind a DOWN gateway, there is no uplink alert either.
public struct OutageEvaluator: Sendable {
  /// The targets and their dependencies.
  public let graph: TargetGraph
  private var monitors: [TargetMonitor]
  private var gates: [DependencyGate]
  private var shown: [TargetState]
  private let holdLimits: [Duration]

  /// Parents whose verdict a child's DOWN waits for, in evaluation order:
  /// probing them now shortens the wait.
  public private(set) var parentsToCheck: [String] = []
  /// Results for names that are no target, ignored.
  public private(set) var ignoredResults = 0

  /// An evaluator for `graph`; targets without their own thresholds use
  /// `policy`; each keeps `historyCapacity` samples.
  public init(
    graph: TargetGraph, policy: MonitorPolicy = MonitorPolicy(), historyCapacity: Int = 1440
  ) {
    self.graph = graph
    var monitors = graph.nodes.map {
      TargetMonitor(name: $0.name, policy: $0.policy ?? policy, historyCapacity: historyCapacity)
    }
    var limits = graph.nodes.map { ($0.interval, ($0.policy ?? policy).failures) }
    if let uplink = graph.uplink {
      let uplinkPolicy = uplink.policy ?? policy
      monitors.append(
        TargetMonitor(
          name: TargetGraph.uplinkName, policy: uplinkPolicy, historyCapacity: historyCapacity))
      limits.append((uplink.interval, uplinkPolicy.failures))
    }
    self.monitors = monitors
    self.holdLimits = limits.map { interval, failures in max(.zero, interval) * (failures + 1) }
    self.gates = Array(repeating: .clear, count: monitors.count)
    self.shown = Array(repeating: .unknown, count: monitors.count)
  }

  // MARK: Reading

  /// The state of `name` as announced on status pages; `nil` for an unknown
  /// name.
  public func state(of name: String) -> TargetState? {
    graph.index[name].map { shown[$0] }
  }

  /// The state of every target.
  public var states: [String: TargetState] {
    Dictionary(uniqueKeysWithValues: graph.nodes.indices.map { (graph.nodes[$0].name, shown[$0]) })
  }

  /// The uplink's state; `nil` when the uplink is not watched.
  public var uplinkState: TargetState? {
    uplinkVertex.map { shown[$0] }
  }

  /// The gate of `name` after the last tick.
  public func gate(of name: String) -> DependencyGate? {
    graph.index[name].map { gates[$0] }
  }

  /// The monitor of `name`: thresholds, flapping, history.
  public func monitor(of name: String) -> TargetMonitor? {
    graph.index[name].map { monitors[$0] }
  }

  /// The uplink's monitor; `nil` when the uplink is not watched.
  public var uplinkMonitor: TargetMonitor? {
    uplinkVertex.map { monitors[$0] }
  }

  // MARK: Evaluating

  /// Takes the `results` that came in and, if a round of probes to the
  /// internet anchors was made, its `uplink` outcomes; returns what to
  /// announce at `now`, deduplicated, parents before children.
  public mutating func evaluate(
    _ results: [ProbeResult], uplink: [ProbeOutcome] = [], at now: WatchTime
  ) -> [WatchEvent] {
    var incoming: [[ProbeResult]] = Array(repeating: [], count: monitors.count)
    for result in results {
      if let v = graph.index[result.target] {
        incoming[v].append(result)
      } else {
        ignoredResults += 1
      }
    }
    if let u = uplinkVertex, let round = ProbeOutcome.uplinkRound(uplink) {
      incoming[u].append(ProbeResult(target: TargetGraph.uplinkName, outcome: round, time: now))
    }

    var events: [WatchEvent] = []
    var checks: [Int] = []
    for v in graph.order {
      let before = gates[v]
      var gate = computeGate(v, now: now).gate
      if before.masksState, !gate.masksState {
        monitors[v].restart(at: now)
        gate = computeGate(v, now: now).gate
      }
      // Stable: results of the same time keep their order.
      let sorted = incoming[v].enumerated().sorted {
        ($0.element.time, $0.offset) < ($1.element.time, $1.offset)
      }
      for (_, result) in sorted {
        monitors[v].observe(result.outcome, at: result.time)
        gate = computeGate(v, now: now).gate
        events += announced(v, monitors[v].reconsider(at: result.time, gate: gate))
      }
      let final = computeGate(v, now: now)
      gate = final.gate
      checks += final.checks.filter { !checks.contains($0) }
      events += announced(v, monitors[v].reconsider(at: now, gate: gate))
      gates[v] = gate
      let state = monitors[v].state(under: gate)
      if state == .unreachable, shown[v] != .unreachable, case .unreachable(let parent) = gate {
        events.append(WatchEvent(target: name(v), time: now, kind: .unreachable(parent: parent)))
      }
      shown[v] = state
    }
    parentsToCheck = checks.map(name)

    var seen: Set<WatchEvent> = []
    return events.filter { seen.insert($0).inserted }
  }

  // MARK: Private

  private var uplinkVertex: Int? {
    graph.uplink == nil ? nil : graph.nodes.count
  }

  private func name(_ v: Int) -> String {
    v < graph.nodes.count ? graph.nodes[v].name : TargetGraph.uplinkName
  }

  /// The events of vertex `v`: the uplink's DOWN and UP are uplink events.
  private func announced(_ v: Int, _ events: [WatchEvent]) -> [WatchEvent] {
    guard v == uplinkVertex else { return events }
    return events.map { event in
      var event = event
      switch event.kind {
      case .down(let since, let reason): event.kind = .uplinkDown(since: since, reason: reason)
      case .up(let outage): event.kind = .uplinkUp(after: outage)
      default: break
      }
      return event
    }
  }

  private enum ParentStatus {
    /// Reachable, or nothing to say against it: the child's verdict counts.
    case vouches
    /// DOWN or UNREACHABLE.
    case blocked
    /// INCONCLUSIVE because our uplink is down.
    case uplinkLost
    /// Not confirmed since the child started failing (`check`), or flapping.
    case holds(check: Bool)
  }

  private func status(of p: Int, childFailingSince pending: WatchTime?, now: WatchTime)
    -> ParentStatus
  {
    switch monitors[p].state(under: gates[p]) {
    case .down, .unreachable:
      return .blocked
    case .inconclusive:
      return gates[p] == .inconclusive ? .uplinkLost : .vouches
    case .up, .unknown:
      if monitors[p].isFlapping { return .holds(check: false) }
      guard let pending else { return .vouches }
      if let answered = monitors[p].lastSuccess, answered >= pending { return .vouches }
      return now.elapsed(since: pending) < holdLimits[p] ? .holds(check: true) : .vouches
    }
  }

  /// The gate of vertex `v` now, and the parents a held DOWN waits for.
  ///
  /// Parents are alternative paths: one that vouches clears the way; all
  /// blocked make the target UNREACHABLE; blocked or lost with the uplink,
  /// INCONCLUSIVE; otherwise new alerts wait. The uplink is a path every
  /// internet target needs on top of its parents.
  private func computeGate(_ v: Int, now: WatchTime) -> (gate: DependencyGate, checks: [Int]) {
    let pending = monitors[v].pendingDownSince
    var checks: [Int] = []
    var viaParents = DependencyGate.clear
    let parents = graph.parents[v]
    if !parents.isEmpty {
      var vouched = false
      var allBlocked = true
      var allBlockedOrLost = true
      var firstBlocked: Int?
      var firstHolding: Int?
      for p in parents {
        switch status(of: p, childFailingSince: pending, now: now) {
        case .vouches:
          vouched = true
        case .blocked:
          firstBlocked = firstBlocked ?? p
        case .uplinkLost:
          allBlocked = false
        case .holds(let check):
          allBlocked = false
          allBlockedOrLost = false
          firstHolding = firstHolding ?? p
          if check { checks.append(p) }
        }
        if vouched { break }
      }
      if vouched {
        checks = []
      } else if allBlocked, let p = firstBlocked {
        viaParents = .unreachable(parent: name(p))
      } else if allBlockedOrLost {
        viaParents = .inconclusive
      } else if let p = firstHolding {
        viaParents = .hold(parent: name(p))
      }
    }
    var viaUplink = DependencyGate.clear
    if graph.viaUplink[v], let u = uplinkVertex {
      switch status(of: u, childFailingSince: pending, now: now) {
      case .vouches: break
      case .blocked, .uplinkLost: viaUplink = .inconclusive
      case .holds(let check):
        viaUplink = .hold(parent: TargetGraph.uplinkName)
        if check { checks.append(u) }
      }
    }
    switch (viaParents, viaUplink) {
    case (.unreachable, _): return (viaParents, [])
    case (.inconclusive, _), (_, .inconclusive): return (.inconclusive, [])
    case (.hold, _), (_, .hold): return (viaParents == .clear ? viaUplink : viaParents, checks)
    default: return (.clear, [])
    }
  }
}
