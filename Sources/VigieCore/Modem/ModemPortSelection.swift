/// The `[modem] device` setting, with what the configured path points to now.
///
/// A `/dev/serial/by-id/...` link, or the `/dev/vigie-modem` link of Vigie's
/// udev rules, points to a different `ttyUSBn` after every replug: resolve it
/// (realpath) each time the port is chosen, never once at startup.
public enum ModemDeviceSetting: Hashable, Sendable {
  /// Find the modem through udev.
  case auto
  /// This path (a device node or a link to one); `resolved` is its real
  /// path at the time of the choice, nil when it does not exist.
  case path(String, resolved: String?)

  /// Reads the setting: `"auto"` (or empty) is ``auto``, anything else a
  /// path, which `resolve` (realpath) resolves now.
  public static func parse(_ setting: String, resolve: (String) -> String?) -> ModemDeviceSetting {
    if setting.isEmpty || setting == "auto" { return .auto }
    return .path(setting, resolved: resolve(setting))
  }
}

/// The port Vigie opens to talk AT to the modem, and why.
public struct ModemPortChoice: Hashable, Sendable {
  /// Which rule made the choice.
  public enum Rule: String, Hashable, Sendable {
    /// `[modem] device` names it.
    case configured
    /// ModemManager's udev rules flag it as the primary AT port.
    case udevHint
    /// ``KnownModems`` knows the modem's AT interface.
    case knownModem
    /// The lowest-interface serial port of an unknown multi-port modem.
    case fallback
  }

  /// The device node to open, e.g. `/dev/ttyUSB2` (a configured link is
  /// given resolved).
  public var devicePath: String
  /// What udev knows of the port; nil for a configured device that udev
  /// does not list (a pty, a UART), whose hotplug cannot be followed.
  public var port: SerialPortInfo?
  /// The rule that chose it.
  public var rule: Rule
  /// One sentence for logs and STATUS.
  public var reason: String

  /// Creates a choice.
  public init(devicePath: String, port: SerialPortInfo?, rule: Rule, reason: String) {
    self.devicePath = devicePath
    self.port = port
    self.rule = rule
    self.reason = reason
  }
}

/// The outcome of ``ModemPortSelector/choose(ports:configured:)``.
public enum ModemPortSelection: Hashable, Sendable {
  /// A port to use.
  case chosen(ModemPortChoice)
  /// No usable port; the reason says what was seen and what to do.
  case unavailable(reason: String)

  /// The choice, if any.
  public var choice: ModemPortChoice? {
    if case .chosen(let choice) = self { return choice }
    return nil
  }

  /// The choice's reason, or why there is none.
  public var reason: String {
    switch self {
    case .chosen(let choice): choice.reason
    case .unavailable(let reason): reason
    }
  }
}

/// Picks the modem's AT port among the serial ports udev lists.
///
/// In order:
/// 1. `[modem] device`, when set: that device, whatever it is, unless udev
///    says it is a QCDM or GPS port (those never speak AT);
/// 2. a port flagged primary AT port by ModemManager's udev rules
///    (``ModemManagerPortHints/atPrimary``);
/// 3. the AT interface of a modem in ``KnownModems``;
/// 4. for another USB device with several serial ports driven by `option`
///    or `cdc_acm`: a port flagged as secondary or PPP AT port, else the
///    lowest interface number. (Not `qcserial`: its interface 0 is usually
///    the QCDM port.)
///
/// QCDM and GPS ports are never chosen. Single-port USB serial adapters (an
/// FTDI cable) are ignored unless configured. With several modems, the one
/// first in sysfs order wins, and the reason says so.
public enum ModemPortSelector {
  /// Kernel drivers of multi-port modems, for rule 4.
  public static let modemDrivers: Set<String> = ["option", "cdc_acm"]

  /// Chooses the AT port among `ports` (the `tty` devices udev lists now).
  public static func choose(ports: [SerialPortInfo], configured: ModemDeviceSetting)
    -> ModemPortSelection
  {
    let ports = deduplicated(ports)
    if case .path(let path, let resolved) = configured {
      return chooseConfigured(path: path, resolved: resolved, ports: ports)
    }
    let usable = ports.filter { $0.isUSB && !$0.hints.isNotAT }
    let devices = Dictionary(grouping: usable, by: \.deviceKey)
      .map { key, ports in (key: key, ports: ports.sorted(by: portOrder)) }
      .sorted { $0.key < $1.key }

    // 2. ModemManager's primary-AT tag.
    let tagged = devices.compactMap { device in
      device.ports.first { $0.hints.contains(.atPrimary) }
    }
    if let port = tagged.first {
      return .chosen(
        ModemPortChoice(
          devicePath: port.devnode, port: port, rule: .udevHint,
          reason: "\(port.devnode) is the primary AT port of \(describe(port)) per udev"
            + " (ModemManager's port tags)" + others(tagged.count)))
    }

    // 3. The known-modem table.
    var knownWithoutPort: [(KnownModem, SerialPortInfo)] = []
    var known: [(KnownModem, SerialPortInfo)] = []
    for device in devices {
      guard let first = device.ports.first,
        let modem = KnownModems.lookup(vendorID: first.vendorID, productID: first.productID)
      else { continue }
      if let port = device.ports.first(where: { modem.atPort.matches($0) }) {
        known.append((modem, port))
      } else {
        knownWithoutPort.append((modem, first))
      }
    }
    if let (modem, port) = known.first {
      return .chosen(
        ModemPortChoice(
          devicePath: port.devnode, port: port, rule: .knownModem,
          reason: "\(port.devnode) is \(modem.atPort.description), the AT (\(modem.portRole))"
            + " port of a \(modem.name) (\(port.usbID ?? "?"))" + others(known.count)))
    }

    // 4. Lowest interface of an unknown multi-port modem (or of a known one
    // whose AT interface is missing).
    let multiPort = devices.filter { device in
      device.ports.count >= 2 && device.ports.contains { modemDrivers.contains($0.driver ?? "") }
    }
    let fallbacks = multiPort.compactMap { device -> SerialPortInfo? in
      let candidates = device.ports.filter { modemDrivers.contains($0.driver ?? "") }
      return candidates.first { !$0.hints.isDisjoint(with: [.atSecondary, .atPPP]) }
        ?? candidates.first
    }
    if let port = fallbacks.first {
      let tagged = !port.hints.isDisjoint(with: [.atSecondary, .atPPP])
      let why =
        tagged
        ? "udev tags it as an AT port"
        : "it is the lowest interface (\(port.interfaceText)) of its \(port.driver ?? "serial") ports"
      let missing = knownWithoutPort.first { $0.1.deviceKey == port.deviceKey }
      let context =
        missing.map { modem, _ in
          "\(modem.name): expected \(modem.atPort.description), which is absent"
        } ?? "no udev tag and not in the known-modem table"
      return .chosen(
        ModemPortChoice(
          devicePath: port.devnode, port: port, rule: .fallback,
          reason: "\(port.devnode) on \(describe(port)): \(context); \(why)."
            + " If it does not answer AT, set [modem] device" + others(fallbacks.count)))
    }
    return .unavailable(reason: nothingFound(ports: ports, usable: usable, known: knownWithoutPort))
  }

  // MARK: - Configured device

  private static func chooseConfigured(path: String, resolved: String?, ports: [SerialPortInfo])
    -> ModemPortSelection
  {
    guard let resolved else {
      return .unavailable(
        reason: "[modem] device \(path) does not exist (modem unplugged, or switched to"
          + " another mode?)")
    }
    let shown = resolved == path ? path : "\(path) (→ \(resolved))"
    let port =
      ports.first { $0.devnode == resolved } ?? ports.first { $0.devnode == path }
      ?? ports.first { $0.links.contains(path) }
    guard let port else {
      return .chosen(
        ModemPortChoice(
          devicePath: resolved, port: nil, rule: .configured,
          reason: "[modem] device = \(shown), a device udev does not list as a tty:"
            + " its unplugging cannot be followed"))
    }
    if port.hints.isNotAT {
      let kind = port.hints.contains(.qcdm) ? "QCDM (diagnostics)" : "GPS (NMEA)"
      return .unavailable(
        reason: "[modem] device = \(shown) is the \(kind) port of \(describe(port)) per udev,"
          + " which never answers AT: configure the AT port (see `udevadm info \(port.devnode)`)")
    }
    return .chosen(
      ModemPortChoice(
        devicePath: port.devnode, port: port, rule: .configured,
        reason: "[modem] device = \(shown), \(describe(port))"))
  }

  // MARK: - Helpers

  /// Keeps the first port of each device node (hostile or racy input may
  /// list one twice).
  private static func deduplicated(_ ports: [SerialPortInfo]) -> [SerialPortInfo] {
    var seen: Set<String> = []
    return ports.filter { seen.insert($0.devnode).inserted }
  }

  /// Interface number (unknown last), then device node in natural order
  /// (`ttyUSB2` before `ttyUSB10`).
  private static func portOrder(_ a: SerialPortInfo, _ b: SerialPortInfo) -> Bool {
    switch (a.interfaceNumber, b.interfaceNumber) {
    case (let x?, let y?) where x != y: return x < y
    case (.some, nil): return true
    case (nil, .some): return false
    default: return NaturalOrder.less(a.devnode, b.devnode)
    }
  }

  /// `"HUAWEI_Mobile 12d1:1001 interface 02 (option)"`.
  static func describe(_ port: SerialPortInfo) -> String {
    var text = port.model.map { "\($0) " } ?? ""
    text += port.usbID ?? "a USB device"
    text += " interface \(port.interfaceText)"
    if let driver = port.driver { text += " (\(driver))" }
    return text
  }

  private static func others(_ count: Int) -> String {
    count > 1
      ? "; \(count) modems found, using the first in sysfs order: set [modem] device to choose"
      : ""
  }

  private static func nothingFound(
    ports: [SerialPortInfo], usable: [SerialPortInfo], known: [(KnownModem, SerialPortInfo)]
  ) -> String {
    if let (modem, port) = known.first {
      return "\(modem.name) found at \(port.usbDeviceSyspath ?? port.devnode), but its AT port"
        + " (\(modem.atPort.description)) is not there (yet?)"
    }
    if ports.isEmpty { return "no serial port at all" }
    let usb = ports.filter(\.isUSB)
    if usb.isEmpty {
      return "no USB serial port among \(ports.count) tty devices: is the modem plugged in,"
        + " and switched to modem mode (usb_modeswitch)?"
    }
    if usable.isEmpty {
      return "the \(usb.count) USB serial ports are all QCDM or GPS ports"
    }
    return "no modem among the USB serial ports"
      + " (\(usable.map(\.devnode).sorted(by: NaturalOrder.less).joined(separator: ", ")):"
      + " single-port adapters are ignored): set [modem] device"
  }
}

/// Orders strings with embedded numbers by value: `ttyUSB2` < `ttyUSB10`.
enum NaturalOrder {
  static func less(_ a: String, _ b: String) -> Bool {
    let x = chunks(a)
    let y = chunks(b)
    for (p, q) in zip(x, y) where p != q {
      switch (p, q) {
      case (.number(let m), .number(let n)): return m < n
      case (.text(let s), .text(let t)): return s < t
      case (.number, .text): return true
      case (.text, .number): return false
      }
    }
    return x.count < y.count || (x.count == y.count && a < b)
  }

  private enum Chunk: Equatable {
    case text(String)
    case number(UInt64)
  }

  private static func chunks(_ text: String) -> [Chunk] {
    var result: [Chunk] = []
    var current = ""
    var digits = false
    func flush() {
      guard !current.isEmpty else { return }
      // Numbers too long for UInt64 compare as text.
      result.append(digits ? (UInt64(current).map(Chunk.number) ?? .text(current)) : .text(current))
      current = ""
    }
    for character in text {
      let isDigit = character.isASCII && character.isNumber
      if isDigit != digits { flush() }
      digits = isDigit
      current.append(character)
    }
    flush()
    return result
  }
}
