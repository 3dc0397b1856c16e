/// The state of one supervised service, as shown by STATUS, `vigie status`,
/// the status page and metrics.
public enum ServiceState: Sendable, Hashable {
  /// Switched off in the configuration.
  case disabled
  /// Enabled, but this build of Vigie does not have the service yet.
  case notImplemented
  case starting
  case running
  /// Failed `failures` times in a row; next attempt after `retryIn`.
  case backingOff(failures: Int, lastError: String)
  case stopping
  case stopped
  /// Running, but with a problem that needs a person (e.g. a damaged database).
  case degraded(String)

  /// A short word for tables: `running`, `disabled`, `restarting`...
  public var word: String {
    switch self {
    case .disabled: "disabled"
    case .notImplemented: "not-implemented"
    case .starting: "starting"
    case .running: "running"
    case .backingOff: "restarting"
    case .stopping: "stopping"
    case .stopped: "stopped"
    case .degraded: "degraded"
    }
  }

  /// Whether the service is doing its job (or intentionally off).
  public var isHealthy: Bool {
    switch self {
    case .disabled, .running, .starting: true
    default: false
    }
  }
}

/// One row of the services table.
public struct ServiceStatus: Sendable, Hashable {
  public var name: String
  public var state: ServiceState
  /// Restarts since the daemon started.
  public var restarts: Int
  /// Seconds in the current state.
  public var sinceSeconds: Int

  public init(name: String, state: ServiceState, restarts: Int, sinceSeconds: Int) {
    self.name = name
    self.state = state
    self.restarts = restarts
    self.sinceSeconds = sinceSeconds
  }
}

/// What STATUS reports, and how it is rendered for a terminal and an SMS.
public struct StatusReport: Sendable, Hashable {
  public var site: String
  public var version: String
  public var uptimeSeconds: Int
  public var services: [ServiceStatus]
  /// One line per subsystem with something to say (modem signal, WAN...).
  public var details: [String]

  public init(site: String, version: String, uptimeSeconds: Int, services: [ServiceStatus], details: [String] = []) {
    self.site = site
    self.version = version
    self.uptimeSeconds = uptimeSeconds
    self.services = services
    self.details = details
  }

  /// Compact text for SMS and chat: one line, problems first.
  public var compact: String {
    let problems = services.filter { !$0.state.isHealthy }
    let running = services.filter { $0.state == .running }.map(\.name)
    var parts = ["\(site) up \(Self.formatDuration(uptimeSeconds)), vigie \(version)"]
    parts += details
    if !running.isEmpty { parts.append("ok: " + running.joined(separator: " ")) }
    let missing = problems.filter { $0.state == .notImplemented }.map(\.name)
    if !missing.isEmpty { parts.append("not built yet: " + missing.joined(separator: " ")) }
    for p in problems where p.state != .notImplemented {
      switch p.state {
      case .backingOff(let failures, let error): parts.append("\(p.name): restarting (\(failures) failures: \(error))")
      case .degraded(let problem): parts.append("\(p.name): degraded (\(problem))")
      default: parts.append("\(p.name): \(p.state.word)")
      }
    }
    return parts.joined(separator: "; ")
  }

  /// A table for `vigie status`.
  public var table: String {
    var lines = [
      "\(site): vigie \(version), up \(Self.formatDuration(uptimeSeconds))", "",
      Self.pad("SERVICE", 10) + Self.pad("STATE", 17) + Self.pad("SINCE", 10) + "RESTARTS",
    ]
    for s in services {
      var line = Self.pad(s.name, 10) + Self.pad(s.state.word, 17) + Self.pad(Self.formatDuration(s.sinceSeconds), 10)
      line += String(s.restarts)
      if case .backingOff(let failures, let error) = s.state { line += "  (\(failures) failures, last: \(error))" }
      if case .degraded(let problem) = s.state { line += "  (\(problem))" }
      lines.append(line)
    }
    if !details.isEmpty { lines += [""] + details }
    return lines.joined(separator: "\n")
  }

  static func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
  }

  /// `3d4h`, `2h05m`, `4m10s`, `12s`.
  public static func formatDuration(_ seconds: Int) -> String {
    let s = max(0, seconds)
    let d = s / 86_400
    let h = (s % 86_400) / 3600
    let m = (s % 3600) / 60
    let sec = s % 60
    func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    if d > 0 { return "\(d)d\(h)h" }
    if h > 0 { return "\(h)h\(two(m))m" }
    if m > 0 { return "\(m)m\(two(sec))s" }
    return "\(sec)s"
  }
}
