/// Everything the status page shows; also the JSON of `/api/status`.
public struct StatusPageModel: Sendable, Hashable, Codable {
  public struct Service: Sendable, Hashable, Codable {
    public var name: String
    public var state: String
    public var detail: String?
    public var restarts: Int
    public var sinceSeconds: Int
    public var healthy: Bool

    public init(_ status: ServiceStatus) {
      name = status.name
      state = status.state.word
      switch status.state {
      case .backingOff(let failures, let error): detail = "\(failures) failures, last: \(error)"
      case .degraded(let problem): detail = problem
      default: detail = nil
      }
      restarts = status.restarts
      sinceSeconds = status.sinceSeconds
      healthy = status.state.isHealthy
    }
  }

  public struct Modem: Sendable, Hashable, Codable {
    public var enabled: Bool
    public var phase: String
    public var model: String?
    public var operatorName: String?
    public var registration: String?
    public var signalDBm: Int?
    public var signalPercent: Int?
    public var simState: String?
    public var simProblem: String?
    public var pinAttemptsLeft: Int?
    public var smsReceived: Int
    public var smsSent: Int
    /// Signal percentage over the history window (nil: no reading).
    public var signalHistory: [SVGGraph.Point]

    /// From the modem service's snapshot. ICCID and IMSI stay off the page.
    public init(enabled: Bool, snapshot: ModemSnapshot, signalHistory: [SVGGraph.Point]) {
      self.enabled = enabled
      phase = snapshot.phase.rawValue
      model = [snapshot.manufacturer, snapshot.model].compactMap { $0 }.joined(separator: " ")
      if model?.isEmpty == true { model = nil }
      operatorName = snapshot.operatorName
      registration = snapshot.registration
      signalDBm = snapshot.signalDBm
      signalPercent = snapshot.signalPercent
      simState = snapshot.simState
      simProblem = snapshot.simProblem
      pinAttemptsLeft = snapshot.pinAttemptsLeft
      smsReceived = snapshot.smsReceived
      smsSent = snapshot.smsSent
      self.signalHistory = signalHistory
    }
  }

  public struct Target: Sendable, Hashable, Codable {
    public var name: String
    public var state: String
    public var lastRTTMilliseconds: Double?
    public var lastOutcome: String
    /// Latency in ms over the history window (nil: no answer).
    public var history: [SVGGraph.Point]

    public init(
      name: String, state: String, lastRTTMilliseconds: Double?, lastOutcome: String, history: [SVGGraph.Point]
    ) {
      self.name = name
      self.state = state
      self.lastRTTMilliseconds = lastRTTMilliseconds
      self.lastOutcome = lastOutcome
      self.history = history
    }

    /// Lost probes in the history, in percent.
    public var lossPercent: Double? {
      history.isEmpty ? nil : Double(history.count { $0.value == nil }) * 100 / Double(history.count)
    }
  }

  public struct Alert: Sendable, Hashable, Codable {
    /// Seconds since the epoch when the event happened.
    public var time: Int
    public var severity: String
    public var text: String
    /// Delivered, waiting, or given up.
    public var delivery: String

    public init(time: Int, severity: String, text: String, delivery: String) {
      self.time = time
      self.severity = severity
      self.text = text
      self.delivery = delivery
    }
  }

  public struct Disk: Sendable, Hashable, Codable {
    public var path: String
    public var totalBytes: Int64
    public var freeBytes: Int64
    public init(path: String, totalBytes: Int64, freeBytes: Int64) {
      self.path = path
      self.totalBytes = totalBytes
      self.freeBytes = freeBytes
    }
  }

  public var site: String
  public var version: String
  public var uptimeSeconds: Int
  /// Seconds since the epoch when the page was made.
  public var generatedAt: Int
  public var historySeconds: Int
  public var services: [Service]
  public var modem: Modem
  /// `up`, `down since 14:05`, or `unknown (why)`: STATUS's WAN line.
  public var wan: String
  public var targets: [Target]
  public var alerts: [Alert]
  public var smsSentToday: Int
  public var smsDailyBudget: Int
  /// Drive sync: what the Drive service reports, or why there is nothing.
  public var drive: String
  public var disks: [Disk]

  public init(
    site: String, version: String, uptimeSeconds: Int, generatedAt: Int, historySeconds: Int, services: [Service],
    modem: Modem, wan: String, targets: [Target], alerts: [Alert], smsSentToday: Int, smsDailyBudget: Int,
    drive: String, disks: [Disk]
  ) {
    self.site = site
    self.version = version
    self.uptimeSeconds = uptimeSeconds
    self.generatedAt = generatedAt
    self.historySeconds = historySeconds
    self.services = services
    self.modem = modem
    self.wan = wan
    self.targets = targets
    self.alerts = alerts
    self.smsSentToday = smsSentToday
    self.smsDailyBudget = smsDailyBudget
    self.drive = drive
    self.disks = disks
  }
}

/// The status page: one HTML document, styles inline, graphs as inline SVG,
/// no script. Every value from the outside is escaped.
public enum StatusPageHTML {
  /// What an admin viewer may do: restart buttons carrying the CSRF token.
  public struct Admin: Sendable {
    public var csrfToken: String
    public var actionPath: String
    public init(csrfToken: String, actionPath: String) {
      self.csrfToken = csrfToken
      self.actionPath = actionPath
    }
  }

  public static func render(_ model: StatusPageModel, admin: Admin? = nil, notice: String? = nil) -> String {
    let e = HTML.escape
    let start = model.generatedAt - model.historySeconds
    var html = """
      <!doctype html>
      <html lang="en"><head><meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <meta http-equiv="refresh" content="60">
      <title>\(e(model.site)) · Vigie</title>
      <style>\(style)</style></head>
      <body><header><h1>\(e(model.site))</h1>
      <p>vigie \(e(model.version)) · up \(StatusReport.formatDuration(model.uptimeSeconds)) · WAN \(e(model.wan))</p>
      </header><main>

      """
    if let notice { html += "<p class=\"notice\">\(e(notice))</p>\n" }

    // Services
    html += "<section><h2>Services</h2><table><tr><th>service</th><th>state</th><th>since</th><th>restarts</th>"
    html += admin == nil ? "</tr>\n" : "<th></th></tr>\n"
    for service in model.services {
      let cls = service.healthy ? "ok" : "bad"
      html += "<tr><td>\(e(service.name))</td><td class=\"\(cls)\">\(e(service.state))"
      if let detail = service.detail { html += "<br><small>\(e(detail))</small>" }
      html += "</td><td>\(StatusReport.formatDuration(service.sinceSeconds))</td><td>\(service.restarts)</td>"
      if let admin {
        html += "<td>\(button(admin, command: "RESTART \(service.name)", label: "restart"))</td>"
      }
      html += "</tr>\n"
    }
    html += "</table></section>\n"

    // Modem
    let modem = model.modem
    html += "<section><h2>Modem</h2>"
    if !modem.enabled {
      html += "<p>disabled in the configuration</p>"
    } else {
      html += "<dl>"
      func row(_ label: String, _ value: String?) {
        if let value, !value.isEmpty { html += "<dt>\(label)</dt><dd>\(e(value))</dd>" }
      }
      row("state", modem.phase)
      row("model", modem.model)
      row("operator", modem.operatorName)
      row("registration", modem.registration)
      row(
        "signal",
        [modem.signalPercent.map { "\($0)%" }, modem.signalDBm.map { "\($0) dBm" }].compactMap { $0 }.joined(
          separator: ", "))
      row("SIM", modem.simState)
      row("SIM problem", modem.simProblem)
      row("PIN attempts left", modem.pinAttemptsLeft.map(String.init))
      row("SMS in / out", "\(modem.smsReceived) / \(modem.smsSent)")
      row("SMS sent today", "\(model.smsSentToday) of \(model.smsDailyBudget)")
      html += "</dl>"
      var graph = SVGGraph(
        title: "Signal, last \(StatusReport.formatDuration(model.historySeconds))", unit: "%",
        points: modem.signalHistory, start: start, end: model.generatedAt)
      graph.minimumTop = 100
      html += "<figure>\(graph.render())<figcaption>signal (%)</figcaption></figure>"
    }
    html += "</section>\n"

    // Targets
    html += "<section><h2>Network</h2>"
    if model.targets.isEmpty {
      html += "<p>no targets are watched</p>"
    } else {
      html += "<table><tr><th>target</th><th>state</th><th>last</th><th>loss</th></tr>\n"
      for target in model.targets {
        let cls = target.state == "UP" ? "ok" : target.state == "DOWN" ? "bad" : "warn"
        let rtt =
          target.lastRTTMilliseconds.map { "\(SVGGraph.format(SVGGraph.round($0))) ms" } ?? e(target.lastOutcome)
        let loss = target.lossPercent.map { "\(SVGGraph.format(SVGGraph.round($0)))%" } ?? "–"
        html += "<tr><td>\(e(target.name))</td><td class=\"\(cls)\">\(e(target.state))</td><td>\(rtt)</td>"
        html += "<td>\(loss)</td></tr>\n"
      }
      html += "</table>"
      for target in model.targets {
        let graph = SVGGraph(
          title: "\(target.name): latency, last \(StatusReport.formatDuration(model.historySeconds))", unit: "ms",
          points: target.history, start: start, end: model.generatedAt)
        html +=
          "<figure>\(graph.render())<figcaption>\(e(target.name)): latency (ms), losses in red</figcaption></figure>"
      }
    }
    html += "</section>\n"

    // Alerts
    html += "<section><h2>Alerts</h2>"
    if model.alerts.isEmpty {
      html += "<p>none</p>"
    } else {
      html += "<table><tr><th>when</th><th>severity</th><th>alert</th><th>delivery</th></tr>\n"
      for alert in model.alerts {
        let ago = StatusReport.formatDuration(max(0, model.generatedAt - alert.time))
        html += "<tr><td>\(ago) ago</td><td>\(e(alert.severity))</td><td>\(e(alert.text))</td>"
        html += "<td>\(e(alert.delivery))</td></tr>\n"
      }
      html += "</table>"
    }
    html += "</section>\n"

    // Drive and disks
    html += "<section><h2>Drive sync</h2><p>\(e(model.drive))</p></section>\n"
    html += "<section><h2>Disk</h2><table><tr><th>path</th><th>free</th><th>size</th></tr>\n"
    for disk in model.disks {
      html += "<tr><td>\(e(disk.path))</td><td>\(bytes(disk.freeBytes))</td><td>\(bytes(disk.totalBytes))</td></tr>\n"
    }
    html += "</table></section>\n"
    html += "</main><footer>JSON: <a href=\"api/status\">api/status</a> · metrics: <a href=\"metrics\">metrics</a>"
    html += "</footer></body></html>\n"
    return html
  }

  static func button(_ admin: Admin, command: String, label: String) -> String {
    """
    <form method="post" action="\(HTML.escape(admin.actionPath))">\
    <input type="hidden" name="csrf" value="\(HTML.escape(admin.csrfToken))">\
    <input type="hidden" name="command" value="\(HTML.escape(command))">\
    <button type="submit">\(HTML.escape(label))</button></form>
    """
  }

  /// 1.5 GB, 320 MB, 12 kB (powers of 1000, like `df -H`).
  public static func bytes(_ count: Int64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(count)
    var unit = 0
    while value >= 1000 && unit < units.count - 1 {
      value /= 1000
      unit += 1
    }
    return unit == 0 ? "\(count) B" : "\(SVGGraph.format((value * 10).rounded() / 10)) \(units[unit])"
  }

  static let style = """
    body{font-family:system-ui,sans-serif;margin:0;background:#fafafa;color:#222}\
    header{background:#234;color:#fff;padding:.6em 1em}h1{margin:0;font-size:1.4em}header p{margin:.2em 0 0}\
    main{padding:.5em 1em;max-width:960px}section{margin:1em 0}h2{font-size:1.1em;border-bottom:1px solid #ccc}\
    table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25em .5em;border-bottom:1px solid #eee;\
    vertical-align:top}.ok{color:#176f2c}.bad{color:#b00020;font-weight:bold}.warn{color:#9a6700}\
    dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{color:#555}dd{margin:0}\
    figure{margin:.5em 0}figcaption{font-size:.8em;color:#555}\
    svg.graph{width:100%;height:auto;max-width:600px;font-size:10px;fill:#444}\
    .plot{fill:#fff;stroke:#bbb}.grid{stroke:#e4e4e4}.line{fill:none;stroke:#1565c0;stroke-width:1.5}\
    .dot{fill:#1565c0}.loss{fill:#e53935;opacity:.35}\
    .notice{background:#fff3cd;padding:.5em}form{display:inline}button{font-size:.9em}\
    footer{padding:1em;color:#666;font-size:.85em}
    """
}
