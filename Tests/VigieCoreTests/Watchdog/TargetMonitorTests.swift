import Testing
import VigieCore

@Suite("watchdog: target monitor")
struct TargetMonitorTests {
  @Test(
    "no alert from a lost probe, a few scattered ones, or inconclusive ones",
    arguments: [
      "F", "SSFSS", "SSSSF", "SSFSSFSS", "FSFS", "SSFF", "IIIIIIII", "SSIIIIIIFF", "SSFSSFSSFSSF",
    ])
  func noAlert(pattern: String) {
    var monitor = TargetMonitor(name: "nas")
    #expect(feed(&monitor, pattern).isEmpty)
  }

  @Test(
    "N failures among the last M probes: exactly at the boundary",
    arguments: [
      // failures, window, pattern, index of the result that makes it DOWN
      (3, 5, "FFF", 3), (3, 5, "FSFSF", 5), (3, 5, "FFSSF", 5), (3, 5, "FFSSSF", nil),
      (3, 5, "FSSFSF", nil), (3, 5, "FSSFSFF", 7), (2, 2, "FSF", nil), (2, 2, "SFF", 3),
      (1, 1, "SSF", 3), (5, 5, "FFFFSFFFF", nil), (5, 5, "FFFFF", 5), (4, 10, "FSFSFSSSSF", 10),
      (4, 10, "FSFSFSSSSSF", nil),
    ] as [(Int, Int, String, Int?)])
  func threshold(failures: Int, window: Int, pattern: String, downAt: Int?) {
    // A success threshold out of reach keeps the window from being cleared.
    var monitor = TargetMonitor(
      name: "nas",
      policy: MonitorPolicy(failures: failures, window: window, successes: 50, flap: .disabled))
    let events = feed(&monitor, pattern)
    #expect(events.map(\.index) == (downAt.map { [$0] } ?? []))
    #expect(events.allSatisfy { $0.event.isDown })
    #expect(monitor.ownState == (downAt == nil ? .unknown : .down))
  }

  @Test(
    "UP again only after the consecutive successes",
    arguments: [
      // successes, pattern after DOWN, index (in the pattern after "FFF") of the UP
      (2, "S", nil), (2, "SS", 2), (2, "SFS", nil), (2, "SFSS", 4), (3, "SSFSSS", 6), (2, "SIS", 3),
      (1, "S", 1), (2, "IIIIS", nil),
    ] as [(Int, String, Int?)])
  func recovery(successes: Int, pattern: String, upAt: Int?) {
    var monitor = TargetMonitor(
      name: "nas", policy: MonitorPolicy(successes: successes, flap: .disabled))
    #expect(feed(&monitor, "FFF").map(\.event.tag) == ["down"])
    let events = feed(&monitor, pattern, start: 30)
    #expect(events.map(\.index) == (upAt.map { [$0] } ?? []))
    #expect(events.allSatisfy { $0.event.isUp })
  }

  @Test("no UP is ever announced without a DOWN before it")
  func noRecoveryWithoutOutage() {
    var monitor = TargetMonitor(name: "nas")
    #expect(feed(&monitor, "SSSS").isEmpty)
    #expect(monitor.ownState == .up)
    #expect(feed(&monitor, "FFSSSFSS", start: 40).isEmpty)
    var fresh = TargetMonitor(name: "nas")
    #expect(feed(&fresh, "FFSS").isEmpty)
    #expect(fresh.ownState == .up)
  }

  @Test("DOWN since the first failure of the evidence, UP after the outage until the first success")
  func outageDuration() {
    var monitor = TargetMonitor(name: "nas")
    let events = feed(&monitor, "SSFFFFSS")  // results every 10 s from 0
    #expect(
      events.map(\.event.kind) == [
        .down(since: at(20), reason: Probe.lost.failure), .up(after: .seconds(40)),
      ])
    #expect(events.map(\.event.time) == [at(40), at(70)])
    #expect(monitor.outageSince == nil)
  }

  @Test("the window starts afresh after a recovery: one loss later is no alert")
  func freshWindowAfterRecovery() {
    var monitor = TargetMonitor(
      name: "nas", policy: MonitorPolicy(failures: 2, window: 5, successes: 2))
    #expect(feed(&monitor, "FFSS").map(\.event.tag) == ["down", "up"])
    #expect(feed(&monitor, "F", start: 40).isEmpty)
    #expect(monitor.failuresInWindow == 1)
  }

  @Test("SOFT states lean, HARD states count")
  func softAndHard() {
    var monitor = TargetMonitor(name: "nas")
    _ = feed(&monitor, "SS")
    #expect(monitor.ownState == .up && monitor.softState == nil)
    _ = feed(&monitor, "FF", start: 20)
    #expect(monitor.ownState == .up && monitor.softState == .down)
    _ = feed(&monitor, "F", start: 40)
    #expect(monitor.ownState == .down && monitor.softState == nil)
    _ = feed(&monitor, "S", start: 50)
    #expect(monitor.ownState == .down && monitor.softState == .up)
  }

  @Test("inconclusive outcomes neither count as failures nor as successes")
  func inconclusive() {
    var monitor = TargetMonitor(name: "vpn")
    #expect(feed(&monitor, "SSIIIIIIII").isEmpty)
    #expect(monitor.ownState == .inconclusive)
    #expect(monitor.failuresInWindow == 0)
    // Failures around inconclusive ones still add up.
    var other = TargetMonitor(name: "vpn")
    #expect(feed(&other, "SSFIFIIF").map(\.index) == [8])
    // A DOWN target stays in its outage while nothing can be said.
    #expect(feed(&other, "IIII", start: 80).isEmpty)
    #expect(other.ownState == .inconclusive && other.outageSince != nil)
    #expect(feed(&other, "SS", start: 120).map(\.event.tag) == ["up"])
  }

  @Test("flapping with the default thresholds: one DOWN, one start, one stop, one UP")
  func flappingDefault() {
    var monitor = TargetMonitor(name: "wifi-ap")
    let alternating = String(repeating: "SF", count: 40)
    let during = feed(&monitor, alternating)
    #expect(during.map(\.event.tag) == ["down", "flap+"])
    #expect(monitor.isFlapping)
    let after = feed(&monitor, String(repeating: "S", count: 40), start: 800)
    #expect(after.map(\.event.tag) == ["flap-(UP)", "up"])
    #expect(!monitor.isFlapping)
    // Alternation again: a new flapping period, announced once.
    let again = feed(&monitor, alternating, start: 1200)
    #expect(again.filter(\.event.isFlappingStarted).count == 1)
    #expect(announcementProblems((during + after + again).map(\.event)).isEmpty)
  }

  @Test("flapping stops the storm of a hair-trigger policy and ends once")
  func flappingSensitive() {
    var monitor = TargetMonitor(
      name: "wifi-ap", policy: MonitorPolicy(failures: 1, window: 1, successes: 1))
    let during = feed(&monitor, String(repeating: "SF", count: 100))
    let started = during.filter(\.event.isFlappingStarted)
    #expect(started.count == 1)
    let startIndex = started.first?.index ?? 0
    // At most the ten results before flap detection can decide.
    #expect(startIndex <= 10)
    #expect(during.filter { $0.index > startIndex }.isEmpty)
    let after = feed(&monitor, String(repeating: "F", count: 30), start: 2000)
    #expect(after.filter(\.event.isFlappingStopped).count == 1)
    #expect(after.first?.event.tag == "flap-(DOWN)")
    // It ended DOWN: announced after the stop only if UP was the last word.
    let lastBefore = during.last(where: { $0.event.isDown || $0.event.isUp })?.event
    #expect(
      after.map(\.event.tag)
        == (lastBefore?.isUp == true ? ["flap-(DOWN)", "down"] : ["flap-(DOWN)"]))
    #expect(announcementProblems((during + after).map(\.event)).isEmpty)
  }

  @Test("weighted change share: none, alternating, a single loss")
  func changePercent() {
    let flap = FlapPolicy()
    #expect(flap.changePercent(Array(repeating: true, count: 21)) == 0)
    let alternating = (0..<21).map { $0 % 2 == 0 }
    #expect(abs(flap.changePercent(alternating) - 100) < 1e-9)
    var single = Array(repeating: true, count: 21)
    single[19] = false
    #expect(flap.changePercent(single) < 12)
    #expect(flap.changePercent((0..<10).map { $0 % 2 == 0 }) >= flap.high)
    #expect(flap.changePercent((0..<9).map { $0 % 2 == 0 }) < flap.high)
  }

  @Test("policies clamp instead of trapping")
  func clamping() {
    let policy = MonitorPolicy(failures: 0, window: -3, successes: -1)
    #expect(policy.window == 1 && policy.failures == 1 && policy.successes == 1)
    #expect(MonitorPolicy(failures: 9, window: 4).failures == 4)
    let flap = FlapPolicy(window: 1, minimumResults: 99, low: 80, high: .nan)
    #expect(flap.window == 3 && flap.minimumResults == 3 && flap.high == 50 && flap.low == 50)
    var config = WatchdogConfig()
    config.failures = 2
    config.window = 4
    config.successes = 3
    #expect(MonitorPolicy(config) == MonitorPolicy(failures: 2, window: 4, successes: 3))
  }

  @Test(
    "long seeded random series: never a recovery without an outage, never a trap",
    arguments: [1, 2, 3, 4, 5])
  func random(seed: UInt64) {
    var generator = SplitMix64(seed: seed)
    let policy = MonitorPolicy(
      failures: Int.random(in: 1...5, using: &generator),
      window: Int.random(in: 1...8, using: &generator),
      successes: Int.random(in: 1...4, using: &generator))
    var monitor = TargetMonitor(name: "random", policy: policy, historyCapacity: 64)
    var events: [WatchEvent] = []
    var failing = false
    for step in 0..<20_000 {
      // Runs of good and bad periods with noise, and some inconclusive ones.
      if Int.random(in: 0..<50, using: &generator) == 0 { failing.toggle() }
      let roll = Int.random(in: 0..<100, using: &generator)
      let outcome: ProbeOutcome =
        roll < 5 ? Probe.ours : (roll < 20) != failing ? Probe.lost : Probe.ok
      // Now and then the clock goes backwards.
      let jitter = Int64.random(in: -30...10, using: &generator)
      events += monitor.record(outcome, at: at(Int64(step) * 10 + jitter))
    }
    #expect(announcementProblems(events).isEmpty)
    #expect(events.contains { $0.isDown })
    #expect(monitor.history.count == 64)
    for event in events {
      if case .up(let outage) = event.kind { #expect(outage >= .zero) }
    }
  }
}

extension ProbeOutcome {
  /// The failure reason, if this is a failure.
  var failure: ProbeFailure? {
    if case .failure(let reason) = self { reason } else { nil }
  }
}
