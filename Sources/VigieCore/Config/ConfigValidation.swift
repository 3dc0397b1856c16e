/// Semantic checks that decoding cannot do: ranges, formats, cross-references.
/// `validate()` collects every problem instead of stopping at the first.
extension VigieConfig {
  /// All problems of this configuration. `lineOf` maps a key path to its line
  /// in the source (from `ConfigLocator`).
  public func validate(lineOf: @escaping (String) -> Int? = { _ in nil }) -> [ConfigIssue] {
    var v = Validator(lineOf: lineOf)
    daemon.validate(&v)
    if modem.enabled { modem.validate(&v) }
    sms.validate(&v)
    filedrop.validate(&v)
    drive.validate(&v)
    watchdog.validate(&v)
    irc.validate(&v)
    xmpp.validate(&v)
    alerts.validate(&v)
    status.validate(&v)
    leds.validate(&v)
    return v.issues
  }
}

struct Validator {
  var issues: [ConfigIssue] = []
  let lineOf: (String) -> Int?

  mutating func fail(_ path: String, _ message: String) {
    issues.append(ConfigIssue(path: path, line: lineOf(path), message: message))
  }
  mutating func warn(_ path: String, _ message: String) {
    issues.append(ConfigIssue(path: path, line: lineOf(path), message: message, severity: .warning))
  }
  mutating func absolutePath(_ path: String, _ value: String, allowEmpty: Bool = false) {
    if value.isEmpty {
      if !allowEmpty { fail(path, "must not be empty") }
    } else if !value.hasPrefix("/") {
      fail(path, "must be an absolute path, found \"\(ConfigNode.abbreviate(value))\"")
    }
  }
  mutating func positive(_ path: String, _ value: Duration) {
    if value <= .zero { fail(path, "must be longer than 0s") }
  }
  mutating func range(_ path: String, _ value: Int, _ range: ClosedRange<Int>) {
    if !range.contains(value) {
      fail(path, "must be between \(range.lowerBound) and \(range.upperBound), found \(value)")
    }
  }
  mutating func secret(_ path: String, inline: String, file: String, required: Bool, what: String) {
    if !inline.isEmpty, !file.isEmpty {
      fail(
        path,
        "give either '\(path.split(separator: ".").last!)' or '\(path.split(separator: ".").last!)_file', not both")
    }
    absolutePath(path + "_file", file, allowEmpty: true)
    if required, inline.isEmpty, file.isEmpty { fail(path + "_file", "\(what) is required: set '\(path)_file'") }
  }
  mutating func listen(_ path: String, _ value: String) {
    if case .failure(let message) = ListenAddress.parse(value) { fail(path, message) }
  }
  mutating func phone(_ path: String, _ value: String) {
    if !PhoneNumberSyntax.isPlausible(value) {
      fail(path, "\"\(ConfigNode.abbreviate(value))\" is not a phone number; write it like +33612345678")
    }
  }
  mutating func timeWindow(_ path: String, _ value: String) {
    if !value.isEmpty, TimeWindow(text: value) == nil {
      fail(path, "\"\(ConfigNode.abbreviate(value))\" is not a time window; write HH:MM-HH:MM, e.g. \"22:00-07:00\"")
    }
  }
}

extension DaemonConfig {
  func validate(_ v: inout Validator) {
    if name.isEmpty { v.fail("daemon.name", "must not be empty") }
    v.absolutePath("daemon.state_dir", stateDir)
    v.absolutePath("daemon.runtime_dir", runtimeDir)
    v.absolutePath("daemon.control_socket", controlSocket, allowEmpty: true)
    if controlSocketPath.utf8.count > 107 {
      v.fail("daemon.control_socket", "the socket path is longer than 107 bytes, the limit of Unix sockets")
    }
    v.positive("daemon.shutdown_timeout", shutdownTimeout)
    if shutdownTimeout > .seconds(60) { v.fail("daemon.shutdown_timeout", "must be at most 60s") }
    v.positive("daemon.healthy_after", healthyAfter)
    if restartBackoffMax < .seconds(1) { v.fail("daemon.restart_backoff_max", "must be at least 1s") }
    if rebootCommand.trimmingSpaces.isEmpty { v.fail("daemon.reboot_command", "must not be empty") }
  }
}

extension ModemConfig {
  func validate(_ v: inout Validator) {
    if device != "auto", connection == .at { v.absolutePath("modem.device", device) }
    if connection == .proxyat, device == "auto" {
      v.fail("modem.device", "with connection = \"proxyat\", device is the command to run")
    }
    v.positive("modem.sms_poll_interval", smsPollInterval)
    v.absolutePath("modem.gammu_log", gammuLog, allowEmpty: true)
    v.secret("modem.pin", inline: pin, file: pinFile, required: false, what: "the PIN")
    if !pin.isEmpty, !(4...8).contains(pin.count) || !pin.allSatisfy({ $0.isASCII && $0.isNumber }) {
      v.fail("modem.pin", "a SIM PIN is 4 to 8 digits")
    }
    v.positive("modem.poll_interval", pollInterval)
    v.positive("modem.command_timeout", commandTimeout)
  }
}

extension SMSConfig {
  func validate(_ v: inout Validator) {
    var seen: Set<String> = []
    for (index, sender) in allow.enumerated() {
      let path = "sms.allow[\(index + 1)]"
      v.phone(path + ".number", sender.number)
      if !seen.insert(PhoneNumberSyntax.digits(sender.number)).inserted {
        v.fail(path + ".number", "\(sender.number) is listed twice")
      }
    }
    if !defaultCountryCode.isEmpty, PhoneRegion(countryCode: defaultCountryCode) == nil {
      v.fail(
        "sms.default_country_code",
        "\"\(ConfigNode.abbreviate(defaultCountryCode))\" is not a country calling code (1 to 3 digits, e.g. \"33\")")
    }
    v.absolutePath("sms.totp_secret_file", totpSecretFile, allowEmpty: true)
    v.absolutePath("sms.passphrase_file", passphraseFile, allowEmpty: true)
    v.positive("sms.multipart_timeout", multipartTimeout)
    v.range("sms.lockout_failures", lockoutFailures, 1...100)
    v.positive("sms.lockout_window", lockoutWindow)
    v.positive("sms.lockout_duration", lockoutDuration)
    if enabled, totpSecretFile.isEmpty, passphraseFile.isEmpty, allow.contains(where: { $0.level > .read }) {
      v.warn(
        "sms.totp_secret_file",
        "numbers with the operate or admin level cannot use those commands until a TOTP secret or passphrase file is set"
      )
    }
    v.range("sms.max_reply_parts", maxReplyParts, 1...10)
    v.range("sms.daily_budget", dailyBudget, 0...10_000)
    v.positive("sms.max_command_age", maxCommandAge)
  }
}

extension FileDropConfig {
  func validate(_ v: inout Validator) {
    v.listen("filedrop.listen", listen)
    v.absolutePath("filedrop.root", root)
    if maxUploadSize.bytes <= 0 { v.fail("filedrop.max_upload_size", "must be larger than 0") }
    if !(1...1024).contains(maxTransfers) { v.fail("filedrop.max_transfers", "must be between 1 and 1024") }
    var seen: Set<String> = []
    for (index, user) in user.enumerated() {
      let path = "filedrop.user[\(index + 1)]"
      if user.name.isEmpty || user.name.contains(":") {
        v.fail(path + ".name", "every user needs a name without ':'")
      } else if !seen.insert(user.name).inserted {
        v.fail(path + ".name", "'\(user.name)' is listed twice")
      }
      if case .failure(let why) = PasswordHash.parse(user.passwordHash) { v.fail(path + ".password_hash", why) }
    }
  }
}

extension DriveConfig {
  func validate(_ v: inout Validator) {
    v.absolutePath("drive.mount", mount)
    v.absolutePath("drive.token_file", tokenFile)
    v.absolutePath("drive.cache_dir", cacheDir)
    v.secret("drive.client_secret", inline: clientSecret, file: clientSecretFile, required: false, what: "")
    if enabled, clientID.isEmpty { v.fail("drive.client_id", "is required when [drive] is enabled") }
    v.timeWindow("drive.upload_window", uploadWindow)
    v.positive("drive.poll_interval", pollInterval)
    v.positive("drive.request_timeout", requestTimeout)
    if chunkSize.bytes < 256 * 1024 { v.fail("drive.chunk_size", "must be at least 256K (Google's chunk granularity)") }
    if dailyBudget.bytes < 0 { v.fail("drive.daily_budget", "must not be negative") }
    if monthlyBudget.bytes < 0 { v.fail("drive.monthly_budget", "must not be negative") }
    for (key, url) in [
      ("api_base", apiBase), ("upload_base", uploadBase), ("token_url", tokenURL), ("device_url", deviceURL),
    ]
    where !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
      v.fail("drive.\(key)", "must be an http:// or https:// URL")
    }
  }
}

extension WatchdogConfig {
  func validate(_ v: inout Validator) {
    v.positive("watchdog.interval", interval)
    v.positive("watchdog.timeout", timeout)
    if timeout >= interval { v.fail("watchdog.timeout", "must be shorter than the interval (\(interval.configText))") }
    v.range("watchdog.window", window, 1...100)
    v.range("watchdog.failures", failures, 1...max(1, window))
    v.range("watchdog.successes", successes, 1...100)
    v.range("watchdog.max_packets_per_second", maxPacketsPerSecond, 1...100_000)
    for (key, value) in [("gateway", gateway), ("resolver", resolver)]
    where value != "auto" && value != "none" && IPAddressText.parse(value) == nil {
      v.fail("watchdog.\(key)", "\"\(ConfigNode.abbreviate(value))\" is neither auto, none nor an IP address")
    }
    for (index, anchor) in internetAnchors.enumerated() where IPAddressText.parse(anchor) == nil {
      v.fail(
        "watchdog.internet_anchors[\(index + 1)]", "\"\(ConfigNode.abbreviate(anchor))\" is not an IP address")
    }
    if internetAnchors.count > 8 {
      v.fail(
        "watchdog.internet_anchors", "at most 8 anchors (each is pinged every round), found \(internetAnchors.count)")
    }
    var names: [String: Int] = [:]
    for (index, t) in target.enumerated() {
      let path = "watchdog.target[\(index + 1)]"
      if t.name.isEmpty {
        v.fail(path + ".name", "every target needs a name")
      } else if let first = names[t.name] {
        v.fail(path + ".name", "'\(t.name)' is already the name of target \(first)")
      } else {
        names[t.name] = index + 1
      }
      let probe = ProbeSpec.parse(t.probe)
      if case .success(.http) = probe {
        // The URL names the host.
      } else if t.host.isEmpty {
        v.fail(path + ".host", "every target needs a host")
      }
      if case .failure(let message) = probe { v.fail(path + ".probe", message) }
      if case .failure(let error) = HTTPCheck.parseStatuses(t.expectStatus) {
        v.fail(path + ".expect_status", error.message)
      }
      if t.tlsMinDays < 0 { v.fail(path + ".tls_min_days", "must not be negative") }
      if t.interval < .zero { v.fail(path + ".interval", "must not be negative") }
      let effectiveInterval = t.interval == .zero ? interval : t.interval
      let effectiveTimeout = t.timeout == .zero ? timeout : t.timeout
      // A target using both defaults shares the problem reported on [watchdog].
      if t.interval != .zero || t.timeout != .zero, effectiveTimeout >= effectiveInterval {
        v.fail(path + ".timeout", "must be shorter than the target's interval (\(effectiveInterval.configText))")
      }
    }
    for (index, t) in target.enumerated() {
      for parent in t.dependsOn {
        let path = "watchdog.target[\(index + 1)].depends_on"
        if parent == t.name {
          v.fail(path, "'\(t.name)' cannot depend on itself")
        } else if names[parent] == nil && !implicitTargetNames.contains(parent) {
          var message = "no target is named '\(parent)'"
          if let hint = Suggest.closest(to: parent, in: names.keys) { message += "; did you mean '\(hint)'?" }
          v.fail(path, message)
        }
      }
    }
    // Cycles make "parent down" undecidable.
    // Self-dependencies are reported above.
    let graph = Dictionary(
      target.map { t in (t.name, t.dependsOn.filter { $0 != t.name }) }, uniquingKeysWith: { a, _ in a })
    var reported: Set<String> = []
    for (index, t) in target.enumerated() where !reported.contains(t.name) {
      // A target that only leads into a cycle finds the same cycle again.
      if let cycle = Self.cycle(from: t.name, graph: graph), !cycle.contains(where: reported.contains) {
        cycle.forEach { reported.insert($0) }
        // Reported on the target the cycle starts from, which is in it.
        let first = names[cycle[0]] ?? index + 1
        v.fail("watchdog.target[\(first)].depends_on", "dependency cycle: " + cycle.joined(separator: " -> "))
      }
    }
  }

  /// The implicit targets that are on, by the names `depends_on` may use
  /// (a configured target of the same name takes the name instead).
  public var implicitTargetNames: Set<String> {
    var names: Set<String> = []
    if gateway != "none" { names.insert("gateway") }
    if resolver != "none" { names.insert("resolver") }
    if !internetAnchors.isEmpty { names.insert(TargetGraph.uplinkName) }
    return names.subtracting(target.map(\.name))
  }

  static func cycle(from start: String, graph: [String: [String]]) -> [String]? {
    var path: [String] = []
    var visiting: Set<String> = []
    var done: Set<String> = []
    func visit(_ node: String) -> [String]? {
      if visiting.contains(node) {
        let from = path.firstIndex(of: node)!
        return Array(path[from...]) + [node]
      }
      if done.contains(node) { return nil }
      visiting.insert(node)
      path.append(node)
      for next in graph[node] ?? [] where graph[next] != nil {
        if let cycle = visit(next) { return cycle }
      }
      path.removeLast()
      visiting.remove(node)
      done.insert(node)
      return nil
    }
    return visit(start)
  }
}

extension IRCConfig {
  func validate(_ v: inout Validator) {
    v.range("irc.port", port, 1...65535)
    v.secret("irc.password", inline: password, file: passwordFile, required: false, what: "")
    if enabled, server.isEmpty { v.fail("irc.server", "is required when [irc] is enabled") }
    let nickCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_[]\\`^{}|")
    if nick.isEmpty || nick.count > 30 || !nick.allSatisfy(nickCharacters.contains) || nick.first!.isNumber
      || nick.first == "-"
    {
      v.fail("irc.nick", "\"\(ConfigNode.abbreviate(nick))\" is not a valid IRC nickname")
    }
    for (index, entry) in channels.enumerated() {
      let words = entry.split(separator: " ", omittingEmptySubsequences: true)
      let channel = words.first.map(String.init) ?? ""
      guard
        !(channel.hasPrefix("#") || channel.hasPrefix("&")) || channel.contains(where: { ",\u{7}".contains($0) })
          || words.count > 2
      else { continue }
      v.fail("irc.channels[\(index + 1)]", "\"\(ConfigNode.abbreviate(entry))\" is not a channel name (#name)")
    }
    if floodBurst < 1 { v.fail("irc.flood_burst", "must be at least 1") }
    for (index, pin) in pinSHA256.enumerated() where CertificatePin.parse(pin) == nil {
      v.fail("irc.pin_sha256[\(index + 1)]", "\"\(ConfigNode.abbreviate(pin))\" is not a SHA-256 in hex (64 digits)")
    }
    if !pinSHA256.isEmpty && !tls { v.fail("irc.pin_sha256", "pins need tls = true") }
    if clientCert.isEmpty != clientKey.isEmpty { v.fail("irc.client_cert", "give both client_cert and client_key") }
    if !clientCert.isEmpty && !tls { v.fail("irc.client_cert", "a client certificate needs tls = true") }
    v.positive("irc.flood_interval", floodInterval)
    v.positive("irc.ping_interval", pingInterval)
    v.positive("irc.ping_timeout", pingTimeout)
    if reconnectMax < .seconds(1) { v.fail("irc.reconnect_max", "must be at least 1s") }
    for (index, who) in allow.enumerated() {
      let path = "irc.allow[\(index + 1)]"
      if who.account.isEmpty == who.hostmask.isEmpty { v.fail(path, "give exactly one of 'account' or 'hostmask'") }
      if !who.jid.isEmpty { v.fail(path + ".jid", "'jid' belongs in [[xmpp.allow]]") }
    }
  }
}

extension XMPPConfig {
  func validate(_ v: inout Validator) {
    v.range("xmpp.port", port, 1...65535)
    v.secret("xmpp.password", inline: password, file: passwordFile, required: enabled, what: "a password")
    if enabled, jid.isEmpty { v.fail("xmpp.jid", "is required when [xmpp] is enabled") }
    if !jid.isEmpty, !JIDSyntax.isBareJID(jid) {
      v.fail("xmpp.jid", "\"\(ConfigNode.abbreviate(jid))\" is not a JID (user@domain)")
    }
    for (index, room) in rooms.enumerated() where !JIDSyntax.isBareJID(room) {
      v.fail(
        "xmpp.rooms[\(index + 1)]", "\"\(ConfigNode.abbreviate(room))\" is not a room JID (room@conference.domain)")
    }
    for (index, target) in notify.enumerated() where !JIDSyntax.isBareJID(target) {
      v.fail("xmpp.notify[\(index + 1)]", "\"\(ConfigNode.abbreviate(target))\" is not a JID (user@domain)")
    }
    for (index, who) in allow.enumerated() {
      let path = "xmpp.allow[\(index + 1)]"
      if !JIDSyntax.isBareJID(who.jid) { v.fail(path + ".jid", "give the bare JID (user@domain) of who may command") }
      if !who.account.isEmpty || !who.hostmask.isEmpty {
        v.fail(path, "'account' and 'hostmask' belong in [[irc.allow]]")
      }
    }
  }
}

extension AlertsConfig {
  func validate(_ v: inout Validator) {
    for (index, number) in smsNumbers.enumerated() { v.phone("alerts.sms_numbers[\(index + 1)]", number) }
    v.timeWindow("alerts.quiet_hours", quietHours)
    v.positive("alerts.repeat_interval", repeatInterval)
    for (index, route) in route.enumerated() {
      let path = "alerts.route[\(index + 1)]"
      if route.events.isEmpty { v.fail(path + ".events", "must name at least one alert pattern (\"*\" for all)") }
      for (n, number) in route.sms.enumerated() { v.phone(path + ".sms[\(n + 1)]", number) }
      if route.irc.isEmpty && route.xmpp.isEmpty && route.sms.isEmpty {
        v.fail(path, "sends nowhere: give irc, xmpp or sms destinations")
      }
    }
  }
}

extension LEDsConfig {
  func validate(_ v: inout Validator) {
    var used: [LEDDevice: String] = [:]
    for (key, text) in [("modem", modem), ("network", network), ("alert", alert), ("activity", activity)] {
      switch LEDDevice.parse(text) {
      case .failure(let error): v.fail("leds.\(key)", error.description)
      case .success(let device?):
        if let other = used[device] {
          v.fail("leds.\(key)", "\(device) is already the \(other) LED; one LED per role")
        }
        used[device] = key
      case .success(nil): break
      }
    }
    v.range("leds.weak_signal_below", weakSignalBelow, 0...100)
    if sysfsRoot.isEmpty || !sysfsRoot.hasPrefix("/") { v.absolutePath("leds.sysfs_root", sysfsRoot) }
    for (key, text) in patterns.entries {
      if case .failure(let error) = LEDPatternSpec.parse(text) { v.fail("leds.patterns.\(key)", error.description) }
    }
  }
}

extension StatusConfig {
  func validate(_ v: inout Validator) {
    if !listen.isEmpty { v.listen("status.listen", listen) }
    v.positive("status.history", history)
    v.absolutePath("status.admin_password_file", adminPasswordFile, allowEmpty: true)
  }
}

// MARK: - Small syntaxes shared with the services

/// `host:port` for listening sockets.
public struct ListenAddress: Sendable, Hashable {
  public var host: String
  public var port: Int

  public enum ParseResult: Sendable, Equatable {
    case success(ListenAddress)
    case failure(String)
  }

  public static func parse(_ text: String) -> ParseResult {
    let host: Substring
    let portText: Substring
    if text.hasPrefix("[") {
      guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
        return .failure("\"\(ConfigNode.abbreviate(text))\" is not host:port; IPv6 is written [::1]:8080")
      }
      host = text[text.index(after: text.startIndex)..<close]
      portText = text[text.index(close, offsetBy: 2)...]
    } else {
      guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
        return .failure("\"\(ConfigNode.abbreviate(text))\" is not host:port, e.g. 0.0.0.0:8080 or [::]:8080")
      }
      host = text[..<colon]
      portText = text[text.index(after: colon)...]
    }
    guard !host.isEmpty else { return .failure("the host is missing in \"\(ConfigNode.abbreviate(text))\"") }
    guard let port = Int(portText), (1...65535).contains(port) else {
      return .failure("\"\(ConfigNode.abbreviate(String(portText)))\" is not a port number (1-65535)")
    }
    return .success(ListenAddress(host: String(host), port: port))
  }
}

/// Loose phone-number syntax for configuration checks; full E.164
/// normalisation belongs to the SMS gateway.
public enum PhoneNumberSyntax {
  public static func digits(_ text: String) -> String { String(text.filter { $0.isASCII && $0.isNumber }) }
  public static func isPlausible(_ text: String) -> Bool {
    let allowed = Set("+0123456789 -.()")
    guard !text.isEmpty, text.allSatisfy(allowed.contains) else { return false }
    if text.dropFirst().contains("+") { return false }
    return (3...15).contains(digits(text).count)
  }
}

public enum JIDSyntax {
  /// `local@domain` with no resource, no spaces.
  public static func isBareJID(_ text: String) -> Bool {
    let parts = text.split(separator: "@", omittingEmptySubsequences: false)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, text.utf8.count <= 3071 else { return false }
    return !text.contains("/") && !text.contains(where: { $0.isWhitespace })
  }
}

/// `HH:MM-HH:MM`, possibly crossing midnight.
public struct TimeWindow: Sendable, Hashable {
  public var startMinute: Int
  public var endMinute: Int

  public init?(text: String) {
    let parts = text.split(separator: "-")
    guard parts.count == 2, let start = Self.minutes(parts[0]), let end = Self.minutes(parts[1]), start != end else {
      return nil
    }
    startMinute = start
    endMinute = end
  }

  /// Whether the minute of day `minute` (0..<1440) falls in the window.
  public func contains(minuteOfDay minute: Int) -> Bool {
    startMinute < endMinute
      ? (startMinute..<endMinute).contains(minute) : minute >= startMinute || minute < endMinute
  }

  static func minutes(_ text: Substring) -> Int? {
    let hm = text.trimmingSpaces.split(separator: ":")
    guard hm.count == 2, hm[0].count <= 2, hm[1].count == 2, let h = Int(hm[0]), let m = Int(hm[1]),
      (0...23).contains(h), (0...59).contains(m)
    else { return nil }
    return h * 60 + m
  }
}

/// The probe syntax of `[[watchdog.target]] probe`.
public enum ProbeSpec: Sendable, Hashable {
  case icmp
  case tcpSYN(port: Int)
  case tcpConnect(port: Int)
  case udpOpenVPN(port: Int)
  case tcpOpenVPN(port: Int)
  /// `dns`: the root's NS records; any NOERROR or NXDOMAIN answer shows a
  /// working server.
  case dns
  /// `dns:NAME`: NAME's A records; only a NOERROR answer with records counts.
  case dnsQuery(name: String)
  case ntp
  case http(url: String)

  /// Whether this is an OpenVPN probe (whose silence proves nothing).
  public var isOpenVPN: Bool {
    switch self {
    case .udpOpenVPN, .tcpOpenVPN: true
    default: false
    }
  }

  public enum ParseResult: Sendable, Equatable {
    case success(ProbeSpec)
    case failure(String)
  }

  public static func parse(_ text: String) -> ParseResult {
    let lowered = text.lowercased()
    switch lowered {
    case "icmp", "ping": return .success(.icmp)
    case "dns": return .success(.dns)
    case "ntp": return .success(.ntp)
    default: break
    }
    if lowered.hasPrefix("http:") || lowered.hasPrefix("https:") {
      let url = lowered.hasPrefix("http:http") ? String(text.dropFirst(5)) : text
      let scheme = url.lowercased().hasPrefix("http://") ? 7 : url.lowercased().hasPrefix("https://") ? 8 : 0
      guard scheme > 0, let host = url.dropFirst(scheme).first, host != "/" else {
        return .failure("write an HTTP probe as http:https://host/path")
      }
      return .success(.http(url: url))
    }
    if lowered.hasPrefix("dns:") {
      let name = String(text.dropFirst(4))
      let valid =
        !name.isEmpty && name.utf8.count <= 253
        && name.split(separator: ".", omittingEmptySubsequences: false).enumerated().allSatisfy { index, label in
          (1...63).contains(label.utf8.count)
            && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
            || (label.isEmpty && index > 0 && name.hasSuffix("."))
        }
      guard valid else { return .failure("\"\(ConfigNode.abbreviate(name))\" is not a DNS name in probe \"\(text)\"") }
      return .success(.dnsQuery(name: name))
    }
    let parts = lowered.split(separator: ":", maxSplits: 1)
    let kinds = ["tcp", "tcp-connect", "udp-openvpn", "tcp-openvpn"]
    guard parts.count == 2, let kind = kinds.first(where: { $0 == parts[0] }) else {
      var message =
        "\"\(ConfigNode.abbreviate(text))\" is not a probe; use icmp, tcp:PORT, tcp-connect:PORT, udp-openvpn:PORT, tcp-openvpn:PORT, dns, dns:NAME, ntp or http:URL"
      if let hint = Suggest.closest(to: String(parts.first ?? ""), in: kinds + ["icmp", "dns", "ntp", "http"]) {
        message += " (did you mean '\(hint)'?)"
      }
      return .failure(message)
    }
    guard let port = Int(parts[1]), (1...65535).contains(port) else {
      return .failure("\"\(parts[1])\" is not a port number (1-65535) in probe \"\(text)\"")
    }
    switch kind {
    case "tcp": return .success(.tcpSYN(port: port))
    case "tcp-connect": return .success(.tcpConnect(port: port))
    case "tcp-openvpn": return .success(.tcpOpenVPN(port: port))
    default: return .success(.udpOpenVPN(port: port))
    }
  }
}
