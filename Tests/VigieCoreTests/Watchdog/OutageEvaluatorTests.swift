import Testing
import VigieCore

/// An evaluator driven tick by tick, every `step` seconds, keeping every
/// event with its tick.
struct Scenario {
  var evaluator: OutageEvaluator
  var step: Int64 = 10
  private(set) var tickCount = 0
  private(set) var log: [(tick: Int, event: WatchEvent)] = []

  init(_ graph: TargetGraph, policy: MonitorPolicy = MonitorPolicy(), step: Int64 = 10) {
    evaluator = OutageEvaluator(graph: graph, policy: policy)
    self.step = step
  }

  var now: WatchTime { at(Int64(tickCount) * step) }

  /// One tick: every named target's outcome at the tick's time.
  @discardableResult
  mutating func tick(_ outcomes: [String: ProbeOutcome], uplink: [ProbeOutcome] = [])
    -> [WatchEvent]
  {
    tickCount += 1
    let time = now
    let results = outcomes.sorted { $0.key < $1.key }.map {
      ProbeResult(target: $0.key, outcome: $0.value, time: time)
    }
    let events = evaluator.evaluate(results, uplink: uplink, at: time)
    log += events.map { (tickCount, $0) }
    return events
  }

  /// `count` ticks with the same outcomes.
  mutating func ticks(_ count: Int, _ outcomes: [String: ProbeOutcome], uplink: [ProbeOutcome] = []) {
    for _ in 0..<count { tick(outcomes, uplink: uplink) }
  }

  func events(of target: String) -> [WatchEvent] { log.map(\.event).filter { $0.target == target } }
  var alerts: [WatchEvent] { log.map(\.event).filter(\.isAlert) }
}

@Suite("watchdog: dependency-aware outages")
struct OutageEvaluatorTests {
  static let children = ["nas", "printer", "camera", "switch-2", "tv"]

  /// A gateway with five children behind it.
  static var lan: TargetGraph { lan(gatewayInterval: .seconds(10)) }

  static func lan(gatewayInterval: Duration) -> TargetGraph {
    TargetGraph(
      nodes: [TargetGraph.Node(name: "gateway", interval: gatewayInterval)]
        + children.map {
          TargetGraph.Node(name: $0, dependsOn: ["gateway"], interval: .seconds(10))
        })
  }

  static func all(_ outcome: ProbeOutcome, gateway: ProbeOutcome? = nil) -> [String: ProbeOutcome] {
    var outcomes = Dictionary(uniqueKeysWithValues: children.map { ($0, outcome) })
    outcomes["gateway"] = gateway ?? outcome
    return outcomes
  }

  @Test("gateway down with five children: one DOWN alert, five UNREACHABLE, no child alert")
  func gatewayDown() {
    var scenario = Scenario(Self.lan)
    scenario.ticks(3, Self.all(Probe.ok))
    #expect(scenario.log.isEmpty)
    scenario.ticks(10, Self.all(Probe.lost))
    #expect(scenario.alerts.map(\.tag) == ["down"])
    #expect(scenario.alerts.first?.target == "gateway")
    #expect(scenario.log.filter(\.event.isUnreachable).count == 5)
    for child in Self.children {
      #expect(scenario.evaluator.state(of: child) == .unreachable)
      #expect(scenario.events(of: child).allSatisfy { !$0.isAlert })
    }
    #expect(scenario.evaluator.state(of: "gateway") == .down)
    // The gateway comes back with its children: one UP, nothing else.
    scenario.ticks(5, Self.all(Probe.ok))
    #expect(scenario.alerts.map(\.tag) == ["down", "up"])
    #expect(Self.children.allSatisfy { scenario.evaluator.state(of: $0) == .up })
  }

  @Test(
    "children probed more often than the gateway wait for its verdict",
    arguments: [
      // child probes per gateway probe, offset of the gateway's probe within its period
      (1, 0), (3, 0), (3, 2), (6, 5),
    ])
  func staggered(childPerGateway: Int, gatewayOffset: Int) {
    var scenario = Scenario(
      Self.lan(gatewayInterval: .seconds(10 * Int64(childPerGateway))), step: 10)
    var cut = false
    for tick in 0..<120 {
      if tick == 30 { cut = true }
      let outcome = cut ? Probe.lost : Probe.ok
      var outcomes = Dictionary(uniqueKeysWithValues: Self.children.map { ($0, outcome) })
      if tick % childPerGateway == gatewayOffset % childPerGateway { outcomes["gateway"] = outcome }
      scenario.tick(outcomes)
      if cut, scenario.evaluator.state(of: "gateway") != .down {
        // Held DOWNs ask for the gateway to be probed now.
        let held = Self.children.contains {
          scenario.evaluator.monitor(of: $0)?.pendingDownSince != nil
        }
        #expect(!held || scenario.evaluator.parentsToCheck == ["gateway"])
      }
    }
    #expect(scenario.alerts.map(\.target) == ["gateway"])
    #expect(Self.children.allSatisfy { scenario.evaluator.state(of: $0) == .unreachable })
    #expect(scenario.evaluator.parentsToCheck.isEmpty)
  }

  @Test("a child that was DOWN before the gateway fell: its recovery is announced")
  func downBeforeParent() {
    var scenario = Scenario(Self.lan)
    scenario.ticks(3, Self.all(Probe.ok))
    scenario.ticks(3, Self.all(Probe.ok).merging(["nas": Probe.lost]) { $1 })
    #expect(
      scenario.alerts.map(\.description) == [
        "nas DOWN since t+40.0 seconds (timeout: no echo reply)"
      ])
    scenario.ticks(4, Self.all(Probe.lost))
    #expect(scenario.alerts.map(\.target) == ["nas", "gateway"])
    #expect(scenario.evaluator.state(of: "nas") == .unreachable)
    #expect(scenario.evaluator.monitor(of: "nas")?.outageSince == at(40))
    scenario.ticks(2, Self.all(Probe.ok))
    let tags = scenario.alerts.map { "\($0.target) \($0.tag)" }
    #expect(tags == ["nas down", "gateway down", "gateway up", "nas up"])
    #expect(scenario.events(of: "nas").last?.kind == .up(after: .seconds(70)))
  }

  @Test("recoveries are never blocked, even while the parent is still down")
  func recoveryWhileParentDown() {
    var scenario = Scenario(Self.lan)
    scenario.ticks(3, Self.all(Probe.ok).merging(["nas": Probe.lost]) { $1 })
    scenario.ticks(3, Self.all(Probe.lost))
    scenario.ticks(2, Self.all(Probe.lost).merging(["nas": Probe.ok]) { $1 })
    #expect(
      scenario.alerts.map { "\($0.target) \($0.tag)" } == ["nas down", "gateway down", "nas up"])
  }

  @Test(
    "the parent comes back while the child still fails: DOWN after the child's own thresholds on new probes"
  )
  func parentBackChildStillDown() {
    var scenario = Scenario(Self.lan)
    scenario.ticks(3, Self.all(Probe.ok))
    scenario.ticks(5, Self.all(Probe.lost))
    #expect(scenario.evaluator.state(of: "camera") == .unreachable)
    // The gateway answers again; the camera does not. The gateway is UP at
    // its second success (tick 10): the camera starts afresh there.
    let back = Self.all(Probe.lost, gateway: Probe.ok)
    scenario.ticks(1, back)
    #expect(scenario.evaluator.state(of: "camera") == .unreachable)
    scenario.ticks(1, back)
    #expect(scenario.evaluator.state(of: "gateway") == .up)
    #expect(scenario.evaluator.state(of: "camera") == .unknown)
    scenario.ticks(1, back)
    #expect(scenario.events(of: "camera").filter(\.isAlert).isEmpty)
    scenario.ticks(1, back)
    let downs = scenario.log.filter { $0.event.isDown && $0.event.target == "camera" }
    #expect(downs.map(\.tick) == [12])
    #expect(downs.first?.event.kind == .down(since: at(100), reason: Probe.lost.failure))
    #expect(scenario.alerts.filter(\.isDown).count == 6)
  }

  @Test(
    "a child's DOWN waits for a parent that was not probed since, and goes out when the parent answers"
  )
  func heldUntilParentAnswers() {
    var scenario = Scenario(Self.lan)
    scenario.ticks(2, Self.all(Probe.ok))
    // Only the NAS fails; the gateway is not probed for a while.
    scenario.ticks(4, ["nas": Probe.lost])
    #expect(scenario.alerts.isEmpty)
    #expect(scenario.evaluator.state(of: "nas") == .down)
    #expect(scenario.evaluator.gate(of: "nas") == .hold(parent: "gateway"))
    #expect(scenario.evaluator.parentsToCheck == ["gateway"])
    scenario.tick(["gateway": Probe.ok, "nas": Probe.lost])
    #expect(scenario.alerts.map { "\($0.target) \($0.tag)" } == ["nas down"])
    #expect(scenario.alerts.first?.kind == .down(since: at(30), reason: Probe.lost.failure))
    #expect(scenario.evaluator.parentsToCheck.isEmpty)
  }

  @Test("a parent never probed holds a child's DOWN only for its interval times (failures + 1)")
  func holdLimit() {
    var scenario = Scenario(Self.lan)
    scenario.ticks(2, Self.all(Probe.ok))
    // NAS fails from t=30; the gateway is never heard of again. The limit is
    // 10 s * (3 + 1) = 40 s after the first failure: t=70.
    for _ in 0..<8 { scenario.tick(["nas": Probe.lost]) }
    let downs = scenario.log.filter(\.event.isDown)
    #expect(downs.map(\.tick) == [7])
    #expect(downs.first?.event.time == at(70))
  }

  @Test("a flapping gateway: no alert from its children")
  func flappingParent() {
    for policy in [MonitorPolicy(), MonitorPolicy(failures: 1, window: 1, successes: 1)] {
      var scenario = Scenario(Self.lan, policy: policy)
      scenario.ticks(3, Self.all(Probe.ok))
      for tick in 0..<120 { scenario.tick(Self.all(tick % 2 == 0 ? Probe.lost : Probe.ok)) }
      #expect(scenario.alerts.allSatisfy { $0.target == "gateway" })
      #expect(scenario.events(of: "gateway").filter(\.isFlappingStarted).count == 1)
      #expect(announcementProblems(scenario.log.map(\.event)).isEmpty)
    }
  }

  // MARK: Uplink

  /// A LAN target, two internet targets and the uplink, itself reached through
  /// the gateway when `behindGateway`.
  static func withUplink(behindGateway: Bool) -> TargetGraph {
    TargetGraph(
      nodes: [
        .init(name: "gateway", interval: .seconds(10)),
        .init(name: "nas", dependsOn: ["gateway"], interval: .seconds(10)),
        .init(name: "vpn", internet: true, interval: .seconds(10)),
        .init(name: "website", dependsOn: ["internet"], interval: .seconds(10)),
      ],
      uplink: .init(dependsOn: behindGateway ? ["gateway"] : [], interval: .seconds(10)))
  }

  static let anchorsOK = [Probe.ok, Probe.lost, Probe.ok]
  static let anchorsLost = [
    Probe.lost, Probe.lost, ProbeOutcome.inconclusive(InconclusiveReason(.noRoute)),
  ]

  @Test("uplink lost: internet targets INCONCLUSIVE, one uplink event, no DOWN")
  func uplinkLost() {
    var scenario = Scenario(Self.withUplink(behindGateway: false))
    let lan = ["gateway": Probe.ok, "nas": Probe.ok]
    scenario.ticks(
      3, lan.merging(["vpn": Probe.ok, "website": Probe.ok]) { $1 }, uplink: Self.anchorsOK)
    #expect(scenario.evaluator.uplinkState == .up)
    scenario.ticks(
      10, lan.merging(["vpn": Probe.lost, "website": Probe.lost]) { $1 }, uplink: Self.anchorsLost)
    #expect(scenario.alerts.map(\.tag) == ["uplink-down"])
    #expect(scenario.alerts.first?.target == TargetGraph.uplinkName)
    #expect(scenario.evaluator.state(of: "vpn") == .inconclusive)
    #expect(scenario.evaluator.state(of: "website") == .inconclusive)
    #expect(scenario.evaluator.state(of: "nas") == .up)
    #expect(scenario.evaluator.uplinkState == .down)
    // Back: one uplink UP; the website still fails and is DOWN after three
    // fresh failures, the VPN answers and nothing is said about it.
    scenario.ticks(
      5, lan.merging(["vpn": Probe.ok, "website": Probe.lost]) { $1 }, uplink: Self.anchorsOK)
    #expect(
      scenario.alerts.map { "\($0.target) \($0.tag)" } == [
        "internet uplink-down", "internet uplink-up", "website down",
      ])
    let websiteDown = scenario.log.first { $0.event.target == "website" && $0.event.isDown }
    // The uplink is UP at its second good round, tick 15: three fresh
    // failures from there.
    #expect(websiteDown?.tick == 17)
    #expect(scenario.evaluator.state(of: "vpn") == .up)
  }

  @Test("uplink behind a DOWN gateway: only the gateway alerts")
  func uplinkBehindGateway() {
    var scenario = Scenario(Self.withUplink(behindGateway: true))
    let everything = ["gateway", "nas", "vpn", "website"]
    scenario.ticks(
      3, Dictionary(uniqueKeysWithValues: everything.map { ($0, Probe.ok) }), uplink: Self.anchorsOK
    )
    scenario.ticks(
      8, Dictionary(uniqueKeysWithValues: everything.map { ($0, Probe.lost) }),
      uplink: Self.anchorsLost)
    #expect(scenario.alerts.map { "\($0.target) \($0.tag)" } == ["gateway down"])
    #expect(scenario.evaluator.uplinkState == .unreachable)
    #expect(scenario.evaluator.state(of: "nas") == .unreachable)
    #expect(scenario.evaluator.state(of: "vpn") == .inconclusive)
    #expect(scenario.evaluator.state(of: "website") == .inconclusive)
  }

  @Test("an uplink round is up if any anchor answers")
  func uplinkRound() {
    let noRoute = ProbeOutcome.inconclusive(InconclusiveReason(.noRoute, "ENETUNREACH"))
    let notSent = ProbeOutcome.inconclusive(InconclusiveReason(.sendFailed))
    #expect(ProbeOutcome.uplinkRound([]) == nil)
    #expect(
      ProbeOutcome.uplinkRound([
        Probe.lost, .success(rtt: .milliseconds(30)), .success(rtt: .milliseconds(12)),
      ])
        == .success(rtt: .milliseconds(12)))
    #expect(ProbeOutcome.uplinkRound([Probe.lost, notSent])?.isFailure == true)
    #expect(ProbeOutcome.uplinkRound([noRoute, noRoute])?.isFailure == true)
    #expect(ProbeOutcome.uplinkRound([notSent, notSent]) == notSent)
  }

  // MARK: Events and robustness

  @Test("results for unknown targets are counted and ignored; events of a tick are unique")
  func unknownAndDuplicates() {
    var evaluator = OutageEvaluator(graph: Self.lan)
    var all: [WatchEvent] = []
    for second in 1...5 {
      let time = at(Int64(second * 10))
      // The same failure reported twice in one tick, and a stranger.
      let results = [
        ProbeResult(target: "gateway", outcome: Probe.lost, time: time),
        ProbeResult(target: "gateway", outcome: Probe.lost, time: time),
        ProbeResult(target: "stranger", outcome: Probe.lost, time: time),
      ]
      let events = evaluator.evaluate(results, at: time)
      #expect(Set(events).count == events.count)
      all += events
    }
    #expect(all.filter(\.isAlert).map(\.tag) == ["down"])
    #expect(evaluator.ignoredResults == 5)
    #expect(evaluator.state(of: "stranger") == nil)
  }

  @Test(
    "long seeded random runs: never a recovery without an outage, never a trap",
    arguments: [11, 12, 13, 14])
  func random(seed: UInt64) {
    var generator = SplitMix64(seed: seed)
    let graph = TargetGraph(
      nodes: [
        .init(name: "gateway", interval: .seconds(10)),
        .init(name: "switch", dependsOn: ["gateway"], interval: .seconds(10)),
        .init(name: "ap", dependsOn: ["switch"], interval: .seconds(10)),
        .init(name: "nas", dependsOn: ["switch", "gateway"], interval: .seconds(10)),
        .init(name: "printer", dependsOn: ["ap"], interval: .seconds(10)),
        .init(name: "vpn", dependsOn: ["internet"], interval: .seconds(10)),
        .init(name: "website", dependsOn: ["vpn"], internet: true, interval: .seconds(10)),
      ],
      uplink: .init(dependsOn: ["gateway"], interval: .seconds(10)))
    let policy = MonitorPolicy(
      failures: Int.random(in: 1...4, using: &generator),
      window: Int.random(in: 1...6, using: &generator),
      successes: Int.random(in: 1...3, using: &generator))
    var evaluator = OutageEvaluator(graph: graph, policy: policy, historyCapacity: 16)
    var broken: Set<String> = []
    var events: [WatchEvent] = []
    let names = graph.evaluationOrder + [TargetGraph.uplinkName]
    for tick in 0..<5_000 {
      // Components break and heal; a broken parent takes its children down.
      if Int.random(in: 0..<20, using: &generator) == 0,
        let name = names.randomElement(using: &generator)
      {
        if !broken.insert(name).inserted { broken.remove(name) }
      }
      func isBroken(_ name: String) -> Bool {
        broken.contains(name) || graph.parents(of: name).contains(where: isBroken)
          || (graph.isInternet(name)
            && (broken.contains(TargetGraph.uplinkName) || broken.contains("gateway")))
      }
      let time = at(Int64(tick) * 10)
      var results: [ProbeResult] = []
      for name in graph.evaluationOrder where Int.random(in: 0..<4, using: &generator) != 0 {
        let roll = Int.random(in: 0..<100, using: &generator)
        let outcome = roll < 5 ? Probe.ours : (roll < 15) != isBroken(name) ? Probe.lost : Probe.ok
        // Results may come a little late, or from a clock set back.
        results.append(
          ProbeResult(
            target: name, outcome: outcome,
            time: time - .seconds(Int.random(in: -5...20, using: &generator))))
      }
      let uplinkDown = broken.contains(TargetGraph.uplinkName) || broken.contains("gateway")
      let anchors = (0..<3).map { _ in
        Int.random(in: 0..<10, using: &generator) == 0 || uplinkDown ? Probe.lost : Probe.ok
      }
      let tickEvents = evaluator.evaluate(results, uplink: tick % 3 == 0 ? anchors : [], at: time)
      #expect(Set(tickEvents).count == tickEvents.count)
      events += tickEvents
    }
    let problems = announcementProblems(events)
    #expect(problems.isEmpty, "\(problems.prefix(5))")
    #expect(events.contains { $0.isDown })
    for event in events {
      if case .up(let outage) = event.kind { #expect(outage >= .zero) }
    }
  }
}

@Suite("watchdog: target graph")
struct TargetGraphTests {
  @Test("parents come before their children in the evaluation order")
  func order() {
    let graph = TargetGraph(nodes: [
      .init(name: "printer", dependsOn: ["ap"]), .init(name: "ap", dependsOn: ["switch"]),
      .init(name: "switch", dependsOn: ["gateway"]), .init(name: "gateway"),
    ])
    #expect(graph.evaluationOrder == ["gateway", "switch", "ap", "printer"])
    #expect(graph.issues.isEmpty)
  }

  @Test("what cannot be used is dropped and reported, never trapped on")
  func defensive() {
    let graph = TargetGraph(
      nodes: [
        .init(name: "a", dependsOn: ["b"]), .init(name: "b", dependsOn: ["c"]),
        .init(name: "c", dependsOn: ["a"]),
        .init(name: "d", dependsOn: ["d", "nowhere"]), .init(name: "d"), .init(name: ""),
        .init(name: "vpn", internet: true), .init(name: "e", dependsOn: ["a", "a"]),
      ],
      uplink: .init(dependsOn: ["vpn"]))
    #expect(
      graph.issues.map(\.code) == [
        .duplicateName, .emptyName, .selfDependency, .unknownParent, .cycle, .cycle,
      ])
    #expect(graph.nodes.map(\.name) == ["a", "b", "c", "d", "vpn", "e"])
    #expect(graph.parents(of: "c").isEmpty)
    #expect(graph.parents(of: "e") == ["a"])
    #expect(graph.issues.last?.target == "internet")
    let order = graph.evaluationOrder
    for node in graph.nodes {
      for parent in graph.parents(of: node.name) {
        #expect(order.firstIndex(of: parent)! < order.firstIndex(of: node.name)!)
      }
    }
    // Still evaluates: c -> a was dropped, so c is the root of a <- b <- c.
    #expect(graph.parents(of: "b") == ["c"] && graph.parents(of: "a") == ["b"])
    var evaluator = OutageEvaluator(graph: graph)
    for tick in 1...6 {
      _ = evaluator.evaluate(
        graph.nodes.map {
          ProbeResult(target: $0.name, outcome: Probe.lost, time: at(Int64(tick)))
        },
        uplink: [Probe.lost], at: at(Int64(tick)))
    }
    #expect(evaluator.state(of: "c") == .down)
    #expect(evaluator.state(of: "b") == .unreachable && evaluator.state(of: "a") == .unreachable)
  }

  @Test("a long chain is ordered without deep recursion")
  func longChain() {
    let nodes = (0..<20_000).map {
      TargetGraph.Node(name: "n\($0)", dependsOn: $0 == 0 ? [] : ["n\($0 - 1)"])
    }
    let graph = TargetGraph(nodes: nodes.reversed())
    #expect(graph.evaluationOrder.first == "n0" && graph.evaluationOrder.last == "n19999")
  }

  @Test("from the configuration: default intervals, the internet marker")
  func fromConfig() {
    var config = WatchdogConfig()
    config.interval = .seconds(30)
    var gateway = WatchTarget()
    gateway.name = "gateway"
    var vpn = WatchTarget()
    vpn.name = "vpn"
    vpn.interval = .seconds(5)
    vpn.dependsOn = ["gateway", "internet"]
    var web = WatchTarget()
    web.name = "web"
    config.target = [gateway, vpn, web]
    let graph = TargetGraph(
      watchdog: config, internet: ["web"], uplink: .init(dependsOn: ["gateway"]))
    #expect(graph.nodes.map(\.interval) == [.seconds(30), .seconds(5), .seconds(30)])
    #expect(graph.parents(of: "vpn") == ["gateway"])
    #expect(graph.isInternet("vpn") && graph.isInternet("web") && !graph.isInternet("gateway"))
    #expect(graph.issues.isEmpty)
    // Without a watched uplink, the marker changes nothing.
    #expect(!TargetGraph(watchdog: config).isInternet("vpn"))
  }
}

@Suite("watchdog: documented timeline")
struct DocumentedTimelineTests {
  @Test("the example of docs/watchdog.md")
  func timeline() {
    let graph = TargetGraph(nodes: [
      .init(name: "gateway", interval: .seconds(10)),
      .init(name: "nas", dependsOn: ["gateway"], interval: .seconds(10)),
      .init(name: "camera", dependsOn: ["gateway"], interval: .seconds(10)),
    ])
    var evaluator = OutageEvaluator(graph: graph)
    let plan: [(Int64, gateway: ProbeOutcome, nas: ProbeOutcome, camera: ProbeOutcome)] = [
      (0, Probe.ok, Probe.ok, Probe.ok), (10, Probe.ok, Probe.ok, Probe.ok),
      (20, Probe.ok, Probe.ok, Probe.ok),
      (30, Probe.lost, Probe.lost, Probe.lost), (40, Probe.lost, Probe.lost, Probe.lost),
      (50, Probe.lost, Probe.lost, Probe.lost), (60, Probe.lost, Probe.lost, Probe.lost),
      (90, Probe.ok, Probe.ok, Probe.lost), (100, Probe.ok, Probe.ok, Probe.lost),
      (110, Probe.ok, Probe.ok, Probe.lost), (120, Probe.ok, Probe.ok, Probe.lost),
    ]
    var lines: [String] = []
    var states: [Int64: String] = [:]
    for (second, gateway, nas, camera) in plan {
      let time = at(second)
      let results = [
        ProbeResult(target: "gateway", outcome: gateway, time: time),
        ProbeResult(target: "nas", outcome: nas, time: time),
        ProbeResult(target: "camera", outcome: camera, time: time),
      ]
      lines += evaluator.evaluate(results, at: time).map {
        "t=\(second) \($0)" + ($0.isAlert ? "" : " [notice]")
      }
      states[second] = ["gateway", "nas", "camera"].map { "\(evaluator.state(of: $0)!)" }.joined(
        separator: " ")
    }
    #expect(
      lines == [
        "t=50 gateway DOWN since t+30.0 seconds (timeout: no echo reply)",
        "t=50 nas UNREACHABLE (gateway is down) [notice]",
        "t=50 camera UNREACHABLE (gateway is down) [notice]",
        "t=100 gateway UP after 60.0 seconds",
        "t=120 camera DOWN since t+100.0 seconds (timeout: no echo reply)",
      ])
    #expect(states[10] == "UP UP UP")
    #expect(states[40] == "UP UP UP")
    #expect(states[90] == "DOWN UNREACHABLE UNREACHABLE")
    #expect(states[100] == "UP UNKNOWN UNKNOWN")
    #expect(states[110] == "UP UP UNKNOWN")
    #expect(states[120] == "UP UP DOWN")
  }
}
