import Foundation
import Testing
import VigieCore

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// Parses `text` as XML; returns the error, or nil when well-formed.
func xmlProblem(_ text: String) -> String? {
  final class Delegate: NSObject, XMLParserDelegate {
    var error: (any Error)?
    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) { error = parseError }
  }
  let parser = XMLParser(data: Data(text.utf8))
  let delegate = Delegate()
  parser.delegate = delegate
  return parser.parse() ? nil : "\(delegate.error.map { "\($0)" } ?? "parse failed") at line \(parser.lineNumber)"
}

@Suite("HTML escaping")
struct HTMLEscapeTests {
  @Test(arguments: [
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("a\"b'c&d", "a&quot;b&#39;c&amp;d"),
    ("bell\u{07}nul\u{0}", "bell\u{FFFD}nul\u{FFFD}"),
    ("café 😀", "café 😀"),
    ("\u{85}", "\u{FFFD}"),
  ])
  func escapes(input: String, expected: String) {
    #expect(HTML.escape(input) == expected)
  }
}

@Suite("SVG graphs")
struct SVGGraphTests {
  @Test func pointsAreScaledIntoThePlotAndBrokenAtLosses() {
    let points = [
      SVGGraph.Point(time: 0, value: 10), SVGGraph.Point(time: 60, value: 20), SVGGraph.Point(time: 120, value: nil),
      SVGGraph.Point(time: 180, value: 5), SVGGraph.Point(time: 240, value: 0),
    ]
    let graph = SVGGraph(title: "t", unit: "ms", points: points, start: 0, end: 240)
    #expect(graph.top == 20)
    let runs = graph.runs
    #expect(runs.count == 2, "the loss breaks the line")
    #expect(runs[0].map(\.x) == [48, 185])
    // y: top margin 18, plot height 160 - 20 - 18 = 122; value 20 is the top.
    #expect(runs[0].map(\.y) == [79, 18])
    #expect(runs[1].map(\.y) == [109.5, 140])
    let svg = graph.render()
    #expect(svg.contains("<polyline points=\"48.0,79.0 185.0,18.0\""))
    #expect(svg.contains("class=\"loss\""))
    #expect(xmlProblem(svg) == nil)
  }

  @Test func anEmptyGraphSaysSo() {
    let svg = SVGGraph(title: "nothing", unit: "%", points: [], start: 0, end: 3600).render()
    #expect(svg.contains("no data yet"))
    #expect(xmlProblem(svg) == nil)
  }

  @Test func pointsOutsideTheWindowAreDropped() {
    let graph = SVGGraph(
      title: "w", unit: "%",
      points: [.init(time: -5, value: 1), .init(time: 50, value: 2), .init(time: 500, value: 3)],
      start: 0, end: 100)
    #expect(graph.points.map(\.time) == [50])
  }

  @Test(arguments: [(0.3, 0.5), (1, 1), (1.2, 2), (3, 5), (7, 10), (42, 50), (100, 100), (101, 200), (0, 1)])
  func theAxisTopIsARoundNumber(value: Double, top: Double) {
    #expect(SVGGraph.niceCeiling(value) == top)
  }

  @Test func aHostileTitleStaysText() {
    let svg = SVGGraph(
      title: "</title><script>x</script>", unit: "<", points: [.init(time: 1, value: 1)], start: 0, end: 2
    )
    .render()
    #expect(!svg.contains("<script>"))
    #expect(xmlProblem(svg) == nil)
  }
}

@Suite("Status page")
struct StatusPageRenderTests {
  static func model(target: String = "gateway", alertText: String = "gateway DOWN since 10:00") -> StatusPageModel {
    var modem = ModemSnapshot()
    modem.phase = .ready
    modem.operatorName = "Orange <F>"
    modem.registration = "home"
    modem.signalPercent = 61
    modem.iccid = "8933150319000000001"
    modem.imsi = "208150000000001"
    return StatusPageModel(
      site: "maison", version: "0.1.0", uptimeSeconds: 3700, generatedAt: 100_000, historySeconds: 86_400,
      services: [
        .init(ServiceStatus(name: "modem", state: .running, restarts: 0, sinceSeconds: 3600)),
        .init(ServiceStatus(name: "leds", state: .degraded("alert LED: no GPIO chip"), restarts: 1, sinceSeconds: 5)),
      ],
      modem: .init(
        enabled: true, snapshot: modem,
        signalHistory: [.init(time: 99_000, value: 60), .init(time: 99_600, value: 61)]),
      wan: "up",
      targets: [
        .init(
          name: target, state: "DOWN", lastRTTMilliseconds: nil, lastOutcome: "timeout",
          history: [.init(time: 99_000, value: 1.5), .init(time: 99_060, value: nil)])
      ],
      alerts: [.init(time: 99_000, severity: "critical", text: alertText, delivery: "delivered")], smsSentToday: 3,
      smsDailyBudget: 20, drive: "disabled",
      disks: [.init(path: "/var/lib/vigie", totalBytes: 32_000_000_000, freeBytes: 12_500_000_000)])
  }

  @Test func thePageShowsWhatAPersonChecks() {
    let html = StatusPageHTML.render(Self.model())
    for text in [
      "<h1>maison</h1>", "up 1h01m", "WAN up", "Orange &lt;F&gt;", "61%", "3 of 20", "degraded",
      "alert LED: no GPIO chip",
      "gateway", "DOWN", "50%", "gateway DOWN since 10:00", "16m40s ago", "12.5 GB", "32 GB",
    ] {
      #expect(html.contains(text), "\(text)")
    }
    #expect(!html.contains("8933150319"), "no ICCID on the page")
    #expect(!html.contains("208150000"), "no IMSI on the page")
    #expect(!html.contains("<script"), "no script at all")
    #expect(html.components(separatedBy: "<svg").count == 3, "signal and one target graph")
    #expect(!html.contains("<form"), "no actions for readers")
  }

  @Test func hostileNamesAreEscapedEverywhere() {
    let html = StatusPageHTML.render(
      Self.model(target: "<img src=x onerror=alert(1)>", alertText: "<script>alert('x')</script>"))
    #expect(!html.contains("<img"))
    #expect(!html.contains("<script"))
    #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;"))
  }

  @Test func adminsGetRestartButtonsWithTheToken() {
    let html = StatusPageHTML.render(Self.model(), admin: .init(csrfToken: "t0k\"en", actionPath: "action"))
    #expect(html.contains("<input type=\"hidden\" name=\"command\" value=\"RESTART modem\">"))
    #expect(html.contains("value=\"t0k&quot;en\""))
  }

  @Test func theModelRoundTripsAsJSON() throws {
    let model = Self.model()
    let data = try JSONEncoder().encode(model)
    #expect(try JSONDecoder().decode(StatusPageModel.self, from: data) == model)
    #expect(model.targets[0].lossPercent == 50)
  }

  @Test(arguments: [(999, "999 B"), (1_000, "1 kB"), (1_500_000, "1.5 MB"), (32_000_000_000, "32 GB")])
  func bytes(count: Int64, text: String) {
    #expect(StatusPageHTML.bytes(count) == text)
  }
}

@Suite("Web forms and CSRF")
struct WebFormTests {
  @Test func formsDecode() throws {
    #expect(
      try FormURLEncoded.parse("csrf=ab12&command=RESTART+modem").get() == ["csrf": "ab12", "command": "RESTART modem"])
    #expect(try FormURLEncoded.parse("a=%C3%A9t%C3%A9&b=").get() == ["a": "été", "b": ""])
    #expect(try FormURLEncoded.parse("").get() == [:])
  }

  @Test(arguments: [
    ("a=%zz", "form field 1: a '%' is not followed by two hexadecimal digits"),
    ("a=%4", "form field 1: a '%' is not followed by two hexadecimal digits"),
    ("a=1&a=2", "form field 'a' is repeated"),
    ("a", "form field 1 has no '='"),
    ("=x", "form field 1 has an empty name"),
    ("a=%00", "form field 1: a NUL byte is not allowed"),
    ("a=%FF%FE", "form field 1: the text is not valid UTF-8"),
    (
      Array(repeating: "a=1", count: 33).enumerated().map { "f\($0.offset)=1" }.joined(separator: "&"),
      "more than 32 form fields"
    ),
  ])
  func hostileFormsAreRefused(body: String, message: String) {
    guard case .failure(let error) = FormURLEncoded.parse(body) else {
      Issue.record("\(body) parsed")
      return
    }
    #expect(error.description == message)
  }

  @Test func crossSiteRequestsAreRefused() {
    #expect(CrossSiteCheck.problem(origin: nil, fetchSite: nil, host: "pi:8080") == nil, "curl")
    #expect(CrossSiteCheck.problem(origin: "http://pi:8080", fetchSite: "same-origin", host: "pi:8080") == nil)
    #expect(CrossSiteCheck.problem(origin: "http://PI:8080", fetchSite: nil, host: "pi:8080") == nil)
    #expect(
      CrossSiteCheck.problem(origin: "http://evil.example", fetchSite: nil, host: "pi:8080")
        == "cross-origin request refused (Origin http://evil.example is not this page's pi:8080)")
    #expect(
      CrossSiteCheck.problem(origin: nil, fetchSite: "cross-site", host: "pi:8080")
        == "cross-site request refused (Sec-Fetch-Site: cross-site)")
    #expect(CrossSiteCheck.problem(origin: "null", fetchSite: nil, host: "pi") != nil)
    #expect(CrossSiteCheck.problem(origin: "http://pi:8080.evil", fetchSite: nil, host: "pi:8080") != nil)
  }

  @Test(arguments: [
    ("RESTART modem", "RESTART modem"), ("restart  watchdog", "RESTART watchdog"), ("ACK 12", "ACK 12"),
    ("SILENCE gateway 2h", "SILENCE gateway 2h"),
  ])
  func pageActions(text: String, command: String) {
    #expect(AdminAction.parse(text)?.commandLine == command)
  }

  @Test(arguments: [
    "REBOOT", "CONFIRM 1234", "RESTART", "RESTART a b", "RESTART mo;dem", "PING 1.1.1.1", "", "SILENCE x",
    "RESTART modém",
  ])
  func otherCommandsAreNotPageActions(text: String) {
    #expect(AdminAction.parse(text) == nil)
  }
}
