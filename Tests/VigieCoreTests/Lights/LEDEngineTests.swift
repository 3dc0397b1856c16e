import Testing
import VigieCore

@Suite("LED patterns")
struct LEDPatternTests {
  /// The pattern's level sampled every `step` over `length`, as a string of
  /// `#` (lit) and `.` (dark).
  func trace(_ pattern: LEDPattern, every step: Duration, for length: Duration) -> String {
    var text = ""
    var t = Duration.zero
    while t < length {
      text += pattern.level(after: t) ? "#" : "."
      t += step
    }
    return text
  }

  @Test func constantPatternsNeverChange() {
    #expect(LEDPattern.on.level(after: .seconds(1000)))
    #expect(!LEDPattern.off.level(after: .seconds(1000)))
    #expect(LEDPattern.on.nextChange(after: .zero) == nil)
    #expect(LEDPattern.off.nextChange(after: .seconds(3)) == nil)
  }

  @Test func slowAndFastBlink() {
    #expect(trace(.slowBlink, every: .milliseconds(500), for: .seconds(4)) == "##..##..")
    #expect(trace(.fastBlink, every: .milliseconds(125), for: .seconds(1)) == "#.#.#.#.")
  }

  @Test func heartbeatIsTwoBeatsThenAPause() {
    #expect(LEDPattern.heartbeat.period == .seconds(1))
    #expect(trace(.heartbeat, every: .milliseconds(50), for: .seconds(1)) == "##...##.............")
  }

  @Test func aBlinkCodeFlashesNTimesThenPauses() {
    let code = LEDPattern.code(3)
    #expect(code.period == .milliseconds(250 * 5 + 1750))
    #expect(trace(code, every: .milliseconds(250), for: code.period) == "#.#.#" + String(repeating: ".", count: 7))
    // The second cycle repeats the first.
    #expect(code.level(after: code.period + .milliseconds(10)))
    #expect(!code.level(after: code.period + .milliseconds(260)))
  }

  @Test func codesAreCappedAtNine() {
    #expect(LEDPattern.code(40).steps.count == LEDPattern.code(9).steps.count)
    #expect(LEDPattern.code(0).steps.count == LEDPattern.code(1).steps.count)
  }

  @Test func nextChangeIsTheNextEdge() {
    #expect(LEDPattern.slowBlink.nextChange(after: .milliseconds(300)) == .milliseconds(700))
    #expect(LEDPattern.slowBlink.nextChange(after: .milliseconds(1000)) == .seconds(1))
    #expect(LEDPattern.heartbeat.nextChange(after: .milliseconds(120)) == .milliseconds(130))
    #expect(LEDPattern.code(2).nextChange(after: .milliseconds(800)) == .milliseconds(1700))
  }

  @Test(arguments: [
    ("off", LEDPatternSpec.fixed(.off)), ("on", .fixed(.on)), ("slow", .fixed(.slowBlink)),
    ("fast", .fixed(.fastBlink)), ("heartbeat", .fixed(.heartbeat)), ("code", .countCode), ("code:4", .fixed(.code(4))),
  ])
  func patternNamesParse(text: String, expected: LEDPatternSpec) throws {
    #expect(try LEDPatternSpec.parse(text).get() == expected)
    #expect(expected.description == text)
  }

  @Test(arguments: [
    ("slwo", "\"slwo\" is not a pattern: use off, on, slow, fast, heartbeat, code or code:N; did you mean \"slow\"?"),
    ("code:0", "\"code:0\": a blink code counts 1 to 9 flashes"),
    ("code:10", "\"code:10\": a blink code counts 1 to 9 flashes"),
    ("code:-1", "\"code:-1\": a blink code counts 1 to 9 flashes"),
    ("code:٣", "\"code:٣\": a blink code counts 1 to 9 flashes"),
    ("", "\"\" is not a pattern: use off, on, slow, fast, heartbeat, code or code:N"),
    ("ON", "\"ON\" is not a pattern: use off, on, slow, fast, heartbeat, code or code:N; did you mean \"on\"?"),
  ])
  func badPatternNamesAreRefusedClearly(text: String, message: String) {
    guard case .failure(let error) = LEDPatternSpec.parse(text) else {
      Issue.record("\(text) parsed")
      return
    }
    #expect(error.description == message)
  }

  @Test func aCountCodeFlashesOncePerThingAndIsDarkForNone() {
    #expect(LEDPatternSpec.countCode.pattern(count: 3) == .code(3))
    #expect(LEDPatternSpec.countCode.pattern(count: 0) == .off)
  }

  @Test(arguments: [
    ("sysfs:ACT", LEDDevice?.some(.sysfs(name: "ACT"))), ("gpio:17", .gpio(line: 17, activeLow: false)),
    ("gpio:4:active-low", .gpio(line: 4, activeLow: true)), ("", nil),
  ])
  func devicesParse(text: String, expected: LEDDevice?) throws {
    #expect(try LEDDevice.parse(text).get() == expected)
    #expect(expected.map(\.description) ?? "" == text)
  }

  @Test(arguments: [
    "sysfs:", "sysfs:../../etc", "sysfs:a/b", "sysfs:..", "sysfs:a b", "gpio:", "gpio:x", "gpio:-1", "gpio:1024",
    "gpio:17:activelow", "gpio:17:active-low:x", "led0", "usb:1", "gpio:１７",
  ])
  func badDevicesAreRefused(text: String) {
    guard case .failure(let error) = LEDDevice.parse(text) else {
      Issue.record("\(text) parsed")
      return
    }
    #expect(error.description.hasPrefix("\"\(text)\""))
  }
}

@Suite("LED engine")
struct LEDEngineTests {
  @Test func anLEDNobodyAsksForIsDark() {
    let engine = LEDEngine(leds: ["modem"])
    #expect(!engine.level(of: "modem", at: .seconds(5)))
    #expect(engine.nextChange(after: .zero) == nil)
  }

  @Test func theHighestPriorityWinsAndWithdrawingRestoresTheRest() {
    var engine = LEDEngine(leds: ["network"])
    engine.request("network", source: "state", pattern: .on, at: .zero)
    engine.request("network", source: "test", priority: .test, pattern: .off, at: .seconds(1))
    #expect(engine.pattern(of: "network") == .off)
    // A later state update does not beat the test.
    engine.request("network", source: "state", pattern: .slowBlink, at: .seconds(2))
    #expect(engine.pattern(of: "network") == .off)
    engine.request("network", source: "test", pattern: nil, at: .seconds(3))
    #expect(engine.pattern(of: "network") == .slowBlink)
  }

  @Test func repeatingTheSamePatternKeepsItsPhase() {
    var engine = LEDEngine(leds: ["modem"])
    engine.request("modem", source: "state", pattern: .slowBlink, at: .zero)
    // The state is re-posted every 250 ms; the blink must not restart.
    for tick in 1...5 {
      engine.request("modem", source: "state", pattern: .slowBlink, at: .milliseconds(250 * tick))
    }
    #expect(!engine.level(of: "modem", at: .milliseconds(1_300)), "still in the phase started at 0")
    // A new pattern starts from its beginning.
    engine.request("modem", source: "state", pattern: .code(2), at: .milliseconds(1_300))
    #expect(engine.level(of: "modem", at: .milliseconds(1_310)))
  }

  @Test func aFlashInvertsTheLEDBriefly() {
    var engine = LEDEngine(leds: ["activity", "alert"])
    engine.flash("activity", at: .seconds(1))
    #expect(engine.level(of: "activity", at: .milliseconds(1_050)))
    #expect(!engine.level(of: "activity", at: .milliseconds(1_080)))
    #expect(engine.nextChange(after: .seconds(1)) == .milliseconds(1_080))
    engine.request("alert", source: "state", pattern: .on, at: .zero)
    engine.flash("alert", at: .seconds(2))
    #expect(!engine.level(of: "alert", at: .milliseconds(2_010)), "a lit LED flashes dark")
    #expect(engine.level(of: "alert", at: .milliseconds(2_100)))
  }

  @Test func nextChangeIsTheEarliestEdgeOfAnyLED() {
    var engine = LEDEngine(leds: ["a", "b", "c"])
    engine.request("a", source: "s", pattern: .slowBlink, at: .zero)
    engine.request("b", source: "s", pattern: .fastBlink, at: .milliseconds(50))
    engine.request("c", source: "s", pattern: .on, at: .zero)
    #expect(engine.nextChange(after: .milliseconds(100)) == .milliseconds(175))
    #expect(engine.levels(at: .milliseconds(100)) == ["a": true, "b": true, "c": true])
  }

  @Test func unknownLEDsAreIgnored() {
    var engine = LEDEngine(leds: ["a"])
    engine.request("zz", source: "s", pattern: .on, at: .zero)
    engine.flash("zz", at: .zero)
    #expect(engine.levels(at: .zero) == ["a": false])
  }

  @Test func theWiringTestLightsEachLEDAloneThenAll() {
    let steps = LEDTestSequence.steps(leds: ["modem", "network"], hold: .seconds(1))
    var engine = LEDEngine(leds: ["modem", "network"])
    engine.request("modem", source: "state", pattern: .on, at: .zero)
    engine.request("network", source: "state", pattern: .on, at: .zero)
    func levels(at t: Duration) -> [String: Bool] {
      var copy = engine
      for step in steps where step.at <= t {
        copy.request(step.led, source: "test", priority: .test, pattern: step.pattern, at: step.at)
      }
      return copy.levels(at: t)
    }
    #expect(levels(at: .milliseconds(500)) == ["modem": true, "network": false])
    #expect(levels(at: .milliseconds(1_100)) == ["modem": false, "network": false])
    #expect(levels(at: .milliseconds(1_500)) == ["modem": false, "network": true])
    #expect(levels(at: .milliseconds(2_560)) == ["modem": true, "network": true], "all blink together")
    #expect(LEDTestSequence.length(forLEDs: 2) == .milliseconds(4_500))
  }
}

@Suite("LED state map")
struct LEDStateMapTests {
  func snapshot(_ phase: ModemSnapshot.Phase, registration: String? = nil, signal: Int? = nil) -> ModemSnapshot {
    var snapshot = ModemSnapshot()
    snapshot.phase = phase
    snapshot.registration = registration
    snapshot.signalPercent = signal
    return snapshot
  }

  @Test func theModemStateFromItsSnapshot() {
    #expect(ModemLight(snapshot(.absent), weakBelow: 30) == .absent)
    #expect(ModemLight(snapshot(.disabled), weakBelow: 30) == .absent)
    #expect(ModemLight(snapshot(.connecting), weakBelow: 30) == .searching)
    #expect(ModemLight(snapshot(.recovering), weakBelow: 30) == .searching)
    #expect(ModemLight(snapshot(.locked), weakBelow: 30) == .pinProblem)
    #expect(ModemLight(snapshot(.ready, registration: "searching", signal: 80), weakBelow: 30) == .searching)
    #expect(ModemLight(snapshot(.ready, registration: "denied", signal: 80), weakBelow: 30) == .searching)
    #expect(ModemLight(snapshot(.ready, registration: "home", signal: 20), weakBelow: 30) == .weak)
    #expect(ModemLight(snapshot(.ready, registration: "roaming", signal: 30), weakBelow: 30) == .good)
    #expect(ModemLight(snapshot(.ready, registration: "home"), weakBelow: 30) == .good, "unknown signal: no alarm")
  }

  @Test func theDefaultMapMatchesTheDocumentedMeanings() {
    let map = LEDPatternsConfig().map
    func patterns(_ modem: ModemLight, down: Int, up: Int? = nil, watched: Int, alerts: Int) -> [LEDRole: LEDPattern] {
      map.patterns(
        for: LightsInput(
          modem: modem, targetsDown: down, targetsUp: up ?? (watched - down), targetsWatched: watched,
          openAlerts: alerts, activity: 0))
    }
    #expect(
      patterns(.good, down: 0, watched: 3, alerts: 0) == [
        .modem: .on, .network: .on, .alert: .off, .activity: .off,
      ])
    #expect(
      patterns(.weak, down: 2, watched: 3, alerts: 2) == [
        .modem: .slowBlink, .network: .code(2), .alert: .heartbeat, .activity: .off,
      ])
    #expect(patterns(.absent, down: 0, watched: 0, alerts: 0)[.modem] == .off)
    #expect(patterns(.searching, down: 0, watched: 0, alerts: 0)[.modem] == .fastBlink)
    #expect(patterns(.pinProblem, down: 0, watched: 0, alerts: 1)[.modem] == .fastBlink)
    #expect(patterns(.good, down: 0, watched: 0, alerts: 0)[.network] == .off, "no targets: nothing to show")
    #expect(patterns(.good, down: 0, up: 1, watched: 2, alerts: 0)[.network] == .slowBlink, "not all known yet")
  }

  @Test func theLEDConfigurationIsValidated() {
    var config = VigieConfig()
    config.leds.modem = "gpio:17"
    config.leds.network = "gpio:17"
    config.leds.alert = "gpio:x"
    config.leds.patterns.alertOpen = "hartbeat"
    config.leds.weakSignalBelow = 101
    let messages = config.validate().map(\.description)
    #expect(messages.contains("leds.network: gpio:17 is already the modem LED; one LED per role"))
    #expect(messages.contains("leds.alert: \"gpio:x\": write gpio:LINE or gpio:LINE:active-low, LINE from 0 to 1023"))
    #expect(
      messages.contains(
        "leds.patterns.alert_open: \"hartbeat\" is not a pattern: use off, on, slow, fast, heartbeat, code or code:N; did you mean \"heartbeat\"?"
      ))
    #expect(messages.contains("leds.weak_signal_below: must be between 0 and 100, found 101"))
    #expect(VigieConfig().validate().isEmpty)
    #expect(VigieConfig().leds.devices.map(\.role) == [.modem, .network, .alert, .activity])
  }
}

@Suite("LED service steps")
struct LightsTrackerTests {
  func input(_ modem: ModemLight = .good, down: Int = 0, activity: Int = 0) -> LightsInput {
    LightsInput(
      modem: modem, targetsDown: down, targetsUp: 2 - down, targetsWatched: 2, openAlerts: 0, activity: activity)
  }

  @Test func patternsArePostedWhenTheyChangeAndActivityFlashes() {
    var tracker = LightsTracker(map: LEDPatternsConfig().map)
    let first = tracker.step(input(activity: 5))
    #expect(first.patterns?[.modem] == .on, "the first reading posts every pattern")
    #expect(!first.flash, "no flash for what happened before")
    let same = tracker.step(input(activity: 5))
    #expect(same.patterns == nil && !same.flash, "nothing changed: nothing posted")
    let sms = tracker.step(input(activity: 6))
    #expect(sms.patterns == nil && sms.flash, "an SMS: one flash")
    let down = tracker.step(input(down: 1, activity: 6))
    #expect(down.patterns?[.network] == .code(1) && !down.flash)
    let restarted = tracker.step(input(down: 1, activity: 0))
    #expect(!restarted.flash, "the modem service restarted its counters: no flash")
    #expect(tracker.step(input(.absent, down: 1, activity: 0)).patterns?[.modem] == .off)
  }
}
