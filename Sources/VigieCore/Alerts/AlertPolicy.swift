/// How serious an alert is. Ordered: `info < warning < critical`.
public enum AlertSeverity: String, ConfigEnum, Comparable {
  case info, warning, critical

  public static func < (a: AlertSeverity, b: AlertSeverity) -> Bool { a.rank < b.rank }
  var rank: Int {
    switch self {
    case .info: 0
    case .warning: 1
    case .critical: 2
    }
  }
  /// Unknown words read as `warning` (a queued alert from a newer version).
  public init(word: String) { self = AlertSeverity(rawValue: word.lowercased()) ?? .warning }
}

/// One alert as the router sees it.
public struct RoutedAlert: Sendable, Hashable, Codable {
  /// `watchdog.nas.down`, `modem.sim.<id>`...
  public var key: String
  public var severity: String
  public var text: String
  /// When it was raised, seconds since 1970 (its original time, kept across queues).
  public var at: Int
  public init(key: String, severity: String, text: String, at: Int) {
    self.key = key
    self.severity = severity
    self.text = text
    self.at = at
  }
  public var level: AlertSeverity { AlertSeverity(word: severity) }
}

/// Where an alert goes. XMPP destinations are named for the router's rules
/// even though this build has no XMPP client yet.
public enum AlertDestination: Sendable, Hashable, Codable, CustomStringConvertible {
  case irc(String)
  case xmpp(String)
  case sms(String)

  public var description: String {
    switch self {
    case .irc(let target): "irc:\(target)"
    case .xmpp(let jid): "xmpp:\(jid)"
    case .sms(let number): "sms:\(number)"
    }
  }
  public var isChat: Bool {
    if case .sms = self { return false }
    return true
  }
}

/// `[[alerts.route]]`: which alerts go where.
public struct AlertRoute: ConfigSection {
  public var events: [String] = ["*"]
  public var minSeverity = AlertSeverity.info
  public var irc: [String] = []
  public var xmpp: [String] = []
  public var sms: [String] = []
  public init() {}
  public static let fields: [ConfigField<AlertRoute>] = [
    .init(
      "events", \.events,
      doc: "Alert keys this route takes, with `*` wildcards (`watchdog.*`, `modem.*`, `*.down`)."),
    .init("min_severity", \.minSeverity, doc: "Least severity taken: `info`, `warning` or `critical`."),
    .init("irc", \.irc, doc: "IRC channels or nicks that receive these alerts."),
    .init("xmpp", \.xmpp, doc: "XMPP JIDs or rooms (not delivered by this build: no XMPP client yet)."),
    .init("sms", \.sms, doc: "Phone numbers that receive these alerts by SMS (within `[sms] daily_budget`)."),
  ]

  public func matches(_ alert: RoutedAlert) -> Bool {
    alert.level >= minSeverity && events.contains { AlertRouting.globMatches($0, alert.key) }
  }
}

extension TimeWindow {
  /// Minutes from `minuteOfDay` to the end of the window (0 when outside).
  public func minutesLeft(at minuteOfDay: Int) -> Int {
    guard contains(minuteOfDay: minuteOfDay) else { return 0 }
    return (endMinute - minuteOfDay + 1440) % 1440
  }
}

/// The router's decisions, pure: destinations, silences, maintenance, quiet
/// hours, the age mark, and when SMS carries what chat cannot.
public enum AlertRouting {
  /// `*` matches any run of characters, everything else itself.
  public static func globMatches(_ pattern: String, _ text: String) -> Bool {
    let p = Array(pattern.unicodeScalars)
    let t = Array(text.unicodeScalars)
    var pi = 0
    var ti = 0
    var star = -1
    var mark = 0
    while ti < t.count {
      if pi < p.count && p[pi] == t[ti] && p[pi] != "*" {
        pi += 1
        ti += 1
      } else if pi < p.count && p[pi] == "*" {
        star = pi
        mark = ti
        pi += 1
      } else if star >= 0 {
        pi = star + 1
        mark += 1
        ti = mark
      } else {
        return false
      }
    }
    while pi < p.count && p[pi] == "*" { pi += 1 }
    return pi == p.count
  }

  /// Destinations of `alert`. Without routes: every IRC channel, XMPP room
  /// and notified JID gets everything, `sms_numbers` get critical alerts.
  public static func destinations(
    of alert: RoutedAlert, routes: [AlertRoute], defaultIRC: [String], defaultXMPP: [String], defaultSMS: [String]
  ) -> [AlertDestination] {
    var result: [AlertDestination] = []
    func add(_ destination: AlertDestination) { if !result.contains(destination) { result.append(destination) } }
    if routes.isEmpty {
      defaultIRC.forEach { add(.irc($0)) }
      defaultXMPP.forEach { add(.xmpp($0)) }
      if alert.level == .critical { defaultSMS.forEach { add(.sms($0)) } }
      return result
    }
    for route in routes where route.matches(alert) {
      route.irc.forEach { add(.irc($0)) }
      route.xmpp.forEach { add(.xmpp($0)) }
      route.sms.forEach { add(.sms($0)) }
    }
    return result
  }

  /// `[queued 12 min]` for an alert delivered `age` seconds after it was
  /// raised; nothing under a minute.
  public static func ageMark(age: Int) -> String? {
    guard age >= 60 else { return nil }
    return "[queued \(StatusReport.formatDuration(age))]"
  }

  /// The text of one chat message carrying `alerts` (one or a group),
  /// delivered at `now` (seconds since 1970).
  public static func chatText(_ alerts: [RoutedAlert], now: Int) -> String {
    func line(_ alert: RoutedAlert) -> String {
      var text = alert.text
      if alert.level == .critical && !text.contains("CRITICAL") { text = "[critical] " + text }
      if let mark = ageMark(age: now - alert.at) { text += " " + mark }
      return text
    }
    if alerts.count == 1 { return line(alerts[0]) }
    return "\(alerts.count) alerts:\n" + alerts.map { "- " + line($0) }.joined(separator: "\n")
  }

  /// Whether SMS carries a chat-bound alert: chat has been down longer than
  /// `threshold` (or was never up since the alert was raised that long ago).
  public static func needsSMSFallback(alertAt: Int, chatDownSince: Int?, now: Int, threshold: Int) -> Bool {
    guard let since = chatDownSince else { return false }
    return now - max(since, alertAt) >= threshold || now - since >= threshold
  }
}

/// Silences and maintenance, set by command; pure (times in seconds).
public struct AlertSilences: Sendable, Hashable, Codable {
  /// Pattern (a target name or an alert-key glob) → until.
  public var silences: [String: Int] = [:]
  /// Maintenance: every non-critical alert is held back; nil when off.
  public var maintenanceUntil: Int?

  public init() {}

  public mutating func prune(now: Int) {
    silences = silences.filter { $0.value > now }
    if let until = maintenanceUntil, until <= now { maintenanceUntil = nil }
  }

  public func inMaintenance(now: Int) -> Bool { (maintenanceUntil ?? Int.min) > now }

  /// Whether `alert` is silenced: a silence whose pattern is a glob on the
  /// key, or a name equal to one of the key's dot-separated words.
  public func isSilenced(_ alert: RoutedAlert, now: Int) -> Bool {
    if inMaintenance(now: now) && alert.level < .critical { return true }
    let words = alert.key.split(separator: ".").map(String.init)
    for (pattern, until) in silences where until > now {
      if pattern == "*" || words.contains(pattern) || AlertRouting.globMatches(pattern, alert.key) { return true }
    }
    return false
  }
}

/// Groups alerts per destination: the first one after a calm spell goes at
/// once, the ones that follow within `window` go together at its end.
public struct AlertBatcher<Item: Sendable, Instant: InstantProtocol>: Sendable
where Instant.Duration == Duration {
  public let window: Duration
  private var lastFlush: [String: Instant] = [:]
  private var open: [String: (due: Instant, items: [Item])] = [:]
  private var order: [String] = []

  public init(window: Duration) { self.window = window }

  public mutating func add(_ item: Item, destination: String, at now: Instant) {
    if var batch = open[destination] {
      batch.items.append(item)
      open[destination] = batch
      return
    }
    var due = now
    if let last = lastFlush[destination], now < last.advanced(by: window) { due = last.advanced(by: window) }
    open[destination] = (due, [item])
    order.append(destination)
  }

  /// Batches whose time has come, oldest destination first.
  public mutating func due(at now: Instant) -> [(destination: String, items: [Item])] {
    var result: [(String, [Item])] = []
    for destination in order {
      guard let batch = open[destination], batch.due <= now else { continue }
      result.append((destination, batch.items))
      open[destination] = nil
      lastFlush[destination] = now
    }
    order.removeAll { open[$0] == nil }
    return result
  }

  /// When the next batch is due; nil when nothing waits.
  public var nextDue: Instant? { open.values.map(\.due).min() }
  public var pendingCount: Int { open.values.reduce(0) { $0 + $1.items.count } }
}

/// Open problems, for repeats while they last and recoveries with their
/// outage duration. A problem is named by its alert key without the last
/// word (`watchdog.nas.down` → `watchdog.nas`); a key ending in `.up`,
/// `.ok`, `.stable` or `.uplink-up` closes it.
public struct ProblemBook: Sendable, Hashable, Codable {
  public struct Problem: Sendable, Hashable, Codable {
    public var alert: RoutedAlert
    public var since: Int
    public var lastSent: Int
    /// Acknowledged by someone (ACK): no more repeats.
    public var acknowledged = false
  }
  public private(set) var open: [String: Problem] = [:]
  public init() {}

  static let recoveryWords: Set<String> = ["up", "ok", "stable", "recovered"]

  public static func subject(of key: String) -> (subject: String, recovery: Bool) {
    var words = key.split(separator: ".").map(String.init)
    guard let last = words.popLast(), !words.isEmpty else { return (key, false) }
    if last == "uplink-up" { return ((words + ["uplink-down"]).joined(separator: "."), true) }
    return (words.joined(separator: "."), recoveryWords.contains(last))
  }

  /// Records `alert`; returns the outage length in seconds when it closes a problem.
  @discardableResult
  public mutating func record(_ alert: RoutedAlert) -> Int? {
    let (subject, recovery) = Self.subject(of: alert.key)
    if alert.key.hasSuffix(".uplink-down") {
      open[alert.key] = Problem(alert: alert, since: alert.at, lastSent: alert.at)
      return nil
    }
    if recovery {
      guard let problem = open.removeValue(forKey: subject) else { return nil }
      return max(0, alert.at - problem.since)
    }
    if alert.level >= .warning && open[subject] == nil {
      open[subject] = Problem(alert: alert, since: alert.at, lastSent: alert.at)
    }
    return nil
  }

  /// Acknowledges the open problems whose subject matches `name` (a glob,
  /// or one of the subject's dot-separated words); returns their subjects.
  public mutating func acknowledge(_ name: String) -> [String] {
    var done: [String] = []
    for (subject, var problem) in open {
      let words = subject.split(separator: ".").map(String.init)
      guard
        name == "*" || words.contains(name) || AlertRouting.globMatches(name, subject)
          || AlertRouting.globMatches(name, problem.alert.key)
      else { continue }
      problem.acknowledged = true
      open[subject] = problem
      done.append(subject)
    }
    return done.sorted()
  }

  /// Open problems, oldest first.
  public var list: [Problem] { open.values.sorted { $0.since < $1.since } }

  /// Problems to announce again at `now`; marks them as sent.
  public mutating func repeats(now: Int, interval: Int) -> [Problem] {
    guard interval > 0 else { return [] }
    var due: [Problem] = []
    for (subject, var problem) in open where !problem.acknowledged && now - problem.lastSent >= interval {
      problem.lastSent = now
      open[subject] = problem
      due.append(problem)
    }
    return due.sorted { $0.since < $1.since }
  }
}
