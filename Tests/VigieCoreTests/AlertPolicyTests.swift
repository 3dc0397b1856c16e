import Testing
import VigieCore

@Suite("alert routing policy")
struct AlertPolicyTests {
  func alert(_ key: String, _ severity: String = "warning", at: Int = 1000, _ text: String = "text") -> RoutedAlert {
    RoutedAlert(key: key, severity: severity, text: text, at: at)
  }

  @Test("without routes: chat gets everything, SMS only critical")
  func defaults() {
    let info = AlertRouting.destinations(
      of: alert("watchdog.nas.up", "info"), routes: [], defaultIRC: ["#ops"], defaultXMPP: ["ops@muc.example"],
      defaultSMS: ["+33612345678"])
    #expect(info == [.irc("#ops"), .xmpp("ops@muc.example")])
    let critical = AlertRouting.destinations(
      of: alert("watchdog.nas.down", "critical"), routes: [], defaultIRC: ["#ops"], defaultXMPP: [],
      defaultSMS: ["+33612345678"])
    #expect(critical == [.irc("#ops"), .sms("+33612345678")])
  }

  @Test("routes match key globs and a least severity; destinations are not repeated")
  func routes() {
    var watchdog = AlertRoute()
    watchdog.events = ["watchdog.*"]
    watchdog.irc = ["#ops"]
    var critical = AlertRoute()
    critical.minSeverity = .critical
    critical.irc = ["#ops", "alice"]
    critical.sms = ["+33612345678"]
    let routes = [watchdog, critical]
    func route(_ a: RoutedAlert) -> [AlertDestination] {
      AlertRouting.destinations(of: a, routes: routes, defaultIRC: ["#default"], defaultXMPP: [], defaultSMS: [])
    }
    #expect(route(alert("watchdog.nas.down", "critical")) == [.irc("#ops"), .irc("alice"), .sms("+33612345678")])
    #expect(route(alert("watchdog.nas.up", "info")) == [.irc("#ops")])
    #expect(route(alert("modem.sim.1", "warning")) == [])
    #expect(route(alert("modem.sim.1", "critical")) == [.irc("#ops"), .irc("alice"), .sms("+33612345678")])
    #expect(AlertRouting.globMatches("*.down", "watchdog.nas.down"))
    #expect(AlertRouting.globMatches("watchdog.*.down", "watchdog.nas.down"))
    #expect(!AlertRouting.globMatches("watchdog.*.down", "watchdog.nas.up"))
    #expect(AlertRouting.globMatches("*", ""))
    #expect(AlertSeverity(word: "CRITICAL") == .critical && AlertSeverity(word: "bogus") == .warning)
  }

  @Test("the age mark appears from one minute on")
  func ageMark() {
    #expect(AlertRouting.ageMark(age: 59) == nil)
    #expect(AlertRouting.ageMark(age: 12 * 60) == "[queued 12m00s]")
    #expect(AlertRouting.chatText([alert("a", at: 0, "nas DOWN")], now: 30) == "nas DOWN")
    #expect(
      AlertRouting.chatText([alert("a", "critical", at: 0, "nas DOWN")], now: 720)
        == "[critical] nas DOWN [queued 12m00s]")
    let grouped = AlertRouting.chatText([alert("a", at: 0, "one"), alert("b", at: 0, "two")], now: 10)
    #expect(grouped == "2 alerts:\n- one\n- two")
  }

  @Test("SMS fallback once chat has been down longer than the threshold")
  func fallback() {
    #expect(!AlertRouting.needsSMSFallback(alertAt: 100, chatDownSince: nil, now: 10_000, threshold: 900))
    #expect(!AlertRouting.needsSMSFallback(alertAt: 100, chatDownSince: 100, now: 999, threshold: 900))
    #expect(AlertRouting.needsSMSFallback(alertAt: 100, chatDownSince: 100, now: 1000, threshold: 900))
    // Chat down for long already: a new alert goes by SMS at once.
    #expect(AlertRouting.needsSMSFallback(alertAt: 5000, chatDownSince: 100, now: 5000, threshold: 900))
  }

  @Test("silences by target name or glob, maintenance holds all but critical, both expire")
  func silences() {
    var silences = AlertSilences()
    silences.silences["nas"] = 2000
    silences.silences["modem.*"] = 1500
    #expect(silences.isSilenced(alert("watchdog.nas.down", "critical"), now: 1000))
    #expect(!silences.isSilenced(alert("watchdog.nasx.down"), now: 1000))
    #expect(silences.isSilenced(alert("modem.sim.1"), now: 1000))
    #expect(!silences.isSilenced(alert("modem.sim.1"), now: 1500))
    silences.maintenanceUntil = 3000
    #expect(silences.isSilenced(alert("watchdog.router.down", "warning"), now: 2500))
    #expect(!silences.isSilenced(alert("watchdog.router.down", "critical"), now: 2500))
    #expect(!silences.isSilenced(alert("watchdog.router.down", "warning"), now: 3000))
    silences.prune(now: 3000)
    #expect(silences.silences.isEmpty && silences.maintenanceUntil == nil)
  }

  @Test("grouping: the first alert goes at once, the next ones together at the window's end")
  func batching() {
    let clock = ManualClock()
    var batcher = AlertBatcher<Int, ManualClock.Instant>(window: .seconds(30))
    batcher.add(1, destination: "#ops", at: clock.now)
    #expect(batcher.due(at: clock.now).map(\.items) == [[1]])
    clock.advance(by: .seconds(1))
    for n in 2...50 { batcher.add(n, destination: "#ops", at: clock.now) }
    batcher.add(99, destination: "#other", at: clock.now)
    let first = batcher.due(at: clock.now)
    #expect(first.map(\.destination) == ["#other"])
    #expect(batcher.nextDue == ManualClock.Instant(offset: .seconds(30)))
    clock.advance(by: .seconds(28))
    #expect(batcher.due(at: clock.now).isEmpty)
    clock.advance(by: .seconds(1))
    let grouped = batcher.due(at: clock.now)
    #expect(grouped.count == 1 && grouped[0].items == Array(2...50))
    #expect(batcher.pendingCount == 0 && batcher.nextDue == nil)
    // After a calm spell longer than the window, the next goes at once again.
    clock.advance(by: .seconds(31))
    batcher.add(51, destination: "#ops", at: clock.now)
    #expect(batcher.due(at: clock.now).map(\.items) == [[51]])
  }

  @Test("problems: repeats while open, recovery gives the outage duration")
  func problems() {
    var book = ProblemBook()
    #expect(book.record(alert("watchdog.nas.down", "critical", at: 0)) == nil)
    #expect(book.record(alert("watchdog.router.down", "critical", at: 100)) == nil)
    #expect(book.record(alert("watchdog.x.flapping", "info", at: 100)) == nil)
    #expect(book.open.count == 2)
    #expect(book.repeats(now: 3599, interval: 3600).isEmpty)
    #expect(book.repeats(now: 3600, interval: 3600).map(\.alert.key) == ["watchdog.nas.down"])
    #expect(book.repeats(now: 3700, interval: 3600).map(\.alert.key) == ["watchdog.router.down"])
    #expect(book.acknowledge("router") == ["watchdog.router"])
    #expect(book.repeats(now: 9000, interval: 3600).map(\.alert.key) == ["watchdog.nas.down"])
    #expect(book.list.map(\.alert.key) == ["watchdog.nas.down", "watchdog.router.down"])
    #expect(book.record(alert("watchdog.nas.up", "info", at: 4000)) == 4000)
    #expect(book.record(alert("watchdog.nas.up", "info", at: 4100)) == nil)
    #expect(book.open.count == 1)
    #expect(book.record(alert("watchdog.internet.uplink-down", "critical", at: 10)) == nil)
    #expect(book.record(alert("watchdog.internet.uplink-up", "info", at: 70)) == 60)
  }

  @Test("quiet hours: minutes left in the window")
  func quiet() {
    let window = TimeWindow(text: "22:00-07:00")!
    #expect(window.minutesLeft(at: 23 * 60) == 8 * 60)
    #expect(window.minutesLeft(at: 6 * 60 + 59) == 1)
    #expect(window.minutesLeft(at: 12 * 60) == 0)
  }
}
