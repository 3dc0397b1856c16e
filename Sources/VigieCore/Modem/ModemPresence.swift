/// A change of the modem's presence, as the modem service sees it.
public enum ModemPresenceChange: Hashable, Sendable {
  /// The modem is usable at this port: open a session there.
  case appeared(ModemPortChoice)
  /// The port used so far vanished (unplugged, re-enumerating, or a better
  /// port of the same modem took its place): tear the session down.
  case gone(ModemPortChoice, reason: String)
  /// First state only: no modem yet, and why.
  case absent(reason: String)
}

/// Turns successive port selections into presence changes, with the
/// stickiness a running session needs.
///
/// - A modem in use stays in use while its port exists, even if another
///   modem appears that would now be chosen first.
/// - When a better port of the same USB device appears (its ports come up
///   one by one), the session moves there: ``ModemPresenceChange/gone(_:reason:)``
///   then ``ModemPresenceChange/appeared(_:)``.
/// - When the port vanishes, ``ModemPresenceChange/gone(_:reason:)``, then
///   ``ModemPresenceChange/appeared(_:)`` as soon as a port is chosen again,
///   under whatever device name.
public struct ModemPresenceTracker: Sendable {
  /// The port in use, if any.
  public private(set) var current: ModemPortChoice?
  private var started = false

  /// Creates a tracker with no modem.
  public init() {}

  /// Feeds the ports udev lists now and the selection made from them;
  /// returns the changes to publish, in order.
  public mutating func update(ports: [SerialPortInfo], selection: ModemPortSelection)
    -> [ModemPresenceChange]
  {
    defer { started = true }
    guard let current else {
      if let choice = selection.choice {
        self.current = choice
        return [.appeared(choice)]
      }
      return started ? [] : [.absent(reason: selection.reason)]
    }
    let stillThere: Bool
    if let port = current.port {
      stillThere = ports.contains { $0.syspath == port.syspath && $0.devnode == port.devnode }
    } else {
      // A configured device udev does not list: present while the
      // configured path still resolves to it.
      stillThere = selection.choice?.devicePath == current.devicePath
    }
    if stillThere {
      guard let choice = selection.choice, choice.devicePath != current.devicePath,
        let port = current.port, let newPort = choice.port,
        port.deviceKey == newPort.deviceKey
      else { return [] }
      self.current = choice
      return [
        .gone(current, reason: "\(choice.devicePath) is a better port of the same modem"),
        .appeared(choice),
      ]
    }
    let why =
      selection.choice == nil
      ? "\(current.devicePath) vanished: \(selection.reason)"
      : "\(current.devicePath) vanished"
    var changes: [ModemPresenceChange] = [.gone(current, reason: why)]
    self.current = selection.choice
    if let choice = selection.choice { changes.append(.appeared(choice)) }
    return changes
  }
}
