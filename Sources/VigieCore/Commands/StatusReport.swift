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

/// Free and total bytes of the file system holding the state directory.
public struct DiskSpace: Sendable, Hashable {
  public var free: Int64
  public var total: Int64

  public init(free: Int64, total: Int64) {
    self.free = free
    self.total = total
  }

  /// Percent used, rounded.
  public var percentUsed: Int {
    total > 0 ? Int((Double(total - free) / Double(total) * 100).rounded()) : 0
  }

  /// `12.3G`, `850M`.
  public static func size(_ bytes: Int64) -> String {
    let gib = Double(bytes) / Double(1 << 30)
    if gib >= 1 {
      let tenths = Int((gib * 10).rounded())
      return "\(tenths / 10).\(tenths % 10)G"
    }
    return "\(Int((Double(bytes) / Double(1 << 20)).rounded()))M"
  }

  /// `disk 12.3G free of 29.1G (42% used)`.
  public var line: String {
    "disk \(Self.size(free)) free of \(Self.size(total)) (\(percentUsed)% used)"
  }
}

/// What STATUS reports, and how it is rendered for a terminal (``table``),
/// a chat line (``compact``) and one SMS (``sms``).
public struct StatusReport: Sendable, Hashable {
  public var site: String
  public var version: String
  public var uptimeSeconds: Int
  public var services: [ServiceStatus]
  /// The modem's state; nil when the modem is disabled.
  public var modem: ModemSnapshot?
  /// Whether the internet answers, from the watchdog; nil when the watchdog
  /// is disabled (shown as unknown).
  public var wan: WANState?
  /// `eth0 192.168.1.20`, IPv4 first.
  public var addresses: [String]
  /// The state directory's file system; nil when unknown.
  public var disk: DiskSpace?
  /// More lines for the long forms (watchdog targets...).
  public var details: [String]
  /// Local time minus UTC in seconds, for the times shown.
  public var utcOffset: Int

  public init(
    site: String, version: String, uptimeSeconds: Int, services: [ServiceStatus], modem: ModemSnapshot? = nil,
    wan: WANState? = nil, addresses: [String] = [], disk: DiskSpace? = nil, details: [String] = [],
    utcOffset: Int = 0
  ) {
    self.site = site
    self.version = version
    self.uptimeSeconds = uptimeSeconds
    self.services = services
    self.modem = modem
    self.wan = wan
    self.addresses = addresses
    self.disk = disk
    self.details = details
    self.utcOffset = utcOffset
  }

  /// The WAN line of the long forms.
  public var wanLine: String { (wan ?? .unknown("watchdog disabled")).line(utcOffset: utcOffset) }

  /// Every fact line of the long forms, in order: modem, WAN, details, IP, disk.
  public var factLines: [String] {
    var lines: [String] = []
    if let modem { lines.append(modem.summary) }
    lines.append(wanLine)
    lines += details
    lines.append("IP " + (addresses.isEmpty ? "no address" : addresses.joined(separator: ", ")))
    lines.append(disk?.line ?? "disk unknown")
    return lines
  }

  /// One line for chat: problems first.
  public var compact: String {
    let problems = services.filter { !$0.state.isHealthy }
    let running = services.filter { $0.state == .running }.map(\.name)
    var parts = ["\(site) up \(Self.formatDuration(uptimeSeconds)), vigie \(version)"]
    parts += factLines
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

  /// Most septets of a one-part GSM-7 SMS.
  public static let smsLimit = 160

  /// The STATUS reply by SMS: one part (160 GSM-7 characters) for a box in
  /// any usual state, the most important facts first, abbreviated:
  ///
  ///     pi-maison: GSM Orange F home -71dBm; WAN up; svc ok; up 3d4h; disk 42% 12.3G free; IP eth0 192.168.1.20
  ///
  /// Lower facts are dropped, whole, while the text is too long: the
  /// addresses after the first, the not-built services, the address, the
  /// site name. What remains too long (many failing services) is cut with
  /// `..` (the outbox would otherwise split it in parts).
  public var sms: String {
    var head: [String] = []
    if let modem { head.append(Self.compactModem(modem)) }
    head.append((wan ?? .unknown("watchdog disabled")).compact(utcOffset: utcOffset))
    let failing = services.filter { !$0.state.isHealthy && $0.state != .notImplemented }
    if failing.isEmpty {
      head.append("svc ok")
    } else {
      let words = failing.map { s -> String in
        switch s.state {
        case .backingOff(let failures, _): return "\(s.name) restarting(\(failures))"
        case .degraded: return "\(s.name) degraded"
        default: return "\(s.name) \(s.state.word)"
        }
      }
      head.append("svc " + words.joined(separator: ", "))
    }
    head.append("up " + Self.formatDuration(uptimeSeconds))
    if let disk {
      head.append("disk \(disk.percentUsed)% \(DiskSpace.size(disk.free)) free")
    } else {
      head.append("disk ?")
    }
    let missing = services.filter { $0.state == .notImplemented }.map(\.name)
    let ip4 = addresses
    // Variants from the most complete to the least.
    var variants: [(site: Bool, ips: Int, missing: Bool)] = []
    for site in [true, false] {
      for (ips, missingShown) in [(ip4.count, true), (min(1, ip4.count), true), (min(1, ip4.count), false), (0, false)]
      {
        variants.append((site, ips, missingShown))
      }
    }
    var text = ""
    for variant in variants {
      var parts = head
      if variant.ips > 0 { parts.append("IP " + ip4.prefix(variant.ips).joined(separator: " ")) }
      if variant.missing && !missing.isEmpty { parts.append("not built: " + missing.joined(separator: " ")) }
      text = (variant.site ? "\(site): " : "") + parts.joined(separator: "; ")
      if Self.smsLength(text) <= Self.smsLimit { return text }
    }
    // Still too long: cut.
    while Self.smsLength(text + "..") > Self.smsLimit, !text.isEmpty { text.removeLast() }
    return text + ".."
  }

  /// GSM-7 septets of `text`, or UCS-2 units scaled to the same 160 limit
  /// (a non-GSM character makes the SMS a 70-character UCS-2 one).
  public static func smsLength(_ text: String) -> Int {
    if let septets = GSMAlphabet.septets(for: text) { return septets }
    return (text.utf16.count * smsLimit + 69) / 70
  }

  /// `GSM Orange F home -71dBm`, `GSM absent`, `GSM SIM locked`...
  public static func compactModem(_ modem: ModemSnapshot) -> String {
    switch modem.phase {
    case .disabled: return "GSM off"
    case .absent: return "GSM absent"
    case .connecting: return "GSM connecting"
    case .recovering: return "GSM not answering"
    case .locked: return "GSM SIM locked"
    case .ready:
      var parts = ["GSM"]
      if let name = modem.operatorName, !name.isEmpty {
        parts.append(name)
      } else if let code = modem.operatorCode, !code.isEmpty {
        parts.append(code)
      }
      if let registration = modem.registration {
        let short =
          switch registration {
          case "roaming": "roam"
          case "searching": "search"
          case "notRegistered": "noreg"
          default: registration
          }
        parts.append(short)
      }
      if let dBm = modem.signalDBm {
        parts.append("\(dBm)dBm")
      } else if let percent = modem.signalPercent {
        parts.append("\(percent)%")
      }
      return parts.joined(separator: " ")
    }
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
    lines += [""] + factLines
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
