import Logging
import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Finds the modem's AT port and follows it through unplugs and replugs.
///
/// Combines the listing of serial ports (``UdevSerialPorts``), the hotplug
/// monitor (``SerialPortMonitor``), the choice of port
/// (``ModemPortSelector``) and its stickiness (``ModemPresenceTracker``):
/// the modem service opens its session on ``ModemPresenceChange/appeared(_:)``,
/// tears it down on ``ModemPresenceChange/gone(_:reason:)``, and resumes on
/// the next `appeared`, whatever `ttyUSB` number the modem comes back under.
///
/// Timing: the removal of the port in use is reported at once; a new choice
/// is made once the ports have stopped coming and going for `settle` (a
/// modem brings its ports up one by one, and choosing before the last one
/// would pick the wrong port).
public struct ModemLocator: Sendable {
  /// `[modem] device`: `auto`, a device path, or a link such as
  /// `/dev/serial/by-id/...` (resolved anew at each choice).
  public var device: String
  /// Quiet time after hotplug events before choosing again.
  public var settle: Duration
  /// Where choices and changes are logged (`modem.device`, `modem.rule`).
  public var logger: Logger
  let resolve: @Sendable (String) -> String?

  /// Creates a locator.
  public init(
    device: String = "auto", settle: Duration = .milliseconds(1500),
    logger: Logger = Logger(label: "vigie.modem.discovery")
  ) {
    self.init(device: device, settle: settle, logger: logger, resolve: FilePaths.realpath)
  }

  init(
    device: String, settle: Duration, logger: Logger,
    resolve: @escaping @Sendable (String) -> String?
  ) {
    self.device = device
    self.settle = settle
    self.logger = logger
    self.resolve = resolve
  }

  /// Chooses the port now, from a fresh listing (blocking: see
  /// ``UdevSerialPorts/list()``).
  public func locate() throws(ModemDiscoveryError) -> ModemPortSelection {
    select(try UdevSerialPorts.list())
  }

  /// Publishes the initial state (``ModemPresenceChange/appeared(_:)`` or
  /// ``ModemPresenceChange/absent(reason:)``), then every change, to
  /// `onChange`, until the calling task is cancelled (then it returns) or
  /// the monitor fails (then it throws a ``ModemDiscoveryError``). Errors
  /// thrown by `onChange` end the watch and are rethrown.
  public func run(_ onChange: (ModemPresenceChange) async throws -> Void) async throws {
    // The monitor thread lists the ports once it listens: no event is
    // missed, and no libudev call runs on the cooperative pool.
    let events = try SerialPortMonitor.start(quietPeriod: settle, listing: true)
    var ports: [String: SerialPortInfo] = [:]
    var tracker = ModemPresenceTracker()

    func publish(_ changes: [ModemPresenceChange]) async throws {
      for change in changes {
        log(change)
        try await onChange(change)
      }
    }

    for await event in events {
      switch event {
      case .listed(let listing):
        ports = Self.index(listing)
        try await publish(
          tracker.update(ports: Array(ports.values), selection: select(ports.values)))
      case .added(let port):
        ports = ports.filter { $0.value.devnode != port.devnode }  // a missed removal
        ports[port.syspath] = port
      case .removed(let devnode, let syspath):
        ports[syspath] = nil
        if let devnode { ports = ports.filter { $0.value.devnode != devnode } }
        if let current = tracker.current,
          current.port?.syspath == syspath || current.devicePath == devnode
        {
          // Report the loss now; choose again once the dust settles.
          try await publish(
            tracker.update(
              ports: Array(ports.values),
              selection: .unavailable(reason: "udev reported its removal")))
        }
      case .settled:
        try await publish(
          tracker.update(ports: Array(ports.values), selection: select(ports.values)))
      case .eventsLost:
        logger.warning("udev events were lost")  // not asked for: .listed comes instead
      case .failed(let error):
        throw error
      }
    }
  }

  /// ``run(_:)`` as an asynchronous sequence; ending the iteration stops
  /// the watch.
  public func changes() -> AsyncThrowingStream<ModemPresenceChange, any Error> {
    let (stream, continuation) = AsyncThrowingStream.makeStream(of: ModemPresenceChange.self)
    let task = Task {
      do {
        try await run { continuation.yield($0) }
        continuation.finish()
      } catch {
        continuation.finish(throwing: error)
      }
    }
    continuation.onTermination = { _ in task.cancel() }
    return stream
  }

  private func select<Ports: Sequence<SerialPortInfo>>(_ ports: Ports) -> ModemPortSelection {
    ModemPortSelector.choose(
      ports: Array(ports), configured: .parse(device, resolve: resolve))
  }

  private static func index(_ ports: [SerialPortInfo]) -> [String: SerialPortInfo] {
    Dictionary(ports.map { ($0.syspath, $0) }, uniquingKeysWith: { _, last in last })
  }

  private func log(_ change: ModemPresenceChange) {
    switch change {
    case .appeared(let choice):
      logger.info(
        "modem port chosen: \(choice.reason)",
        metadata: ["modem.device": "\(choice.devicePath)", "modem.rule": "\(choice.rule.rawValue)"])
    case .gone(let choice, let reason):
      logger.warning(
        "modem port gone: \(reason)", metadata: ["modem.device": "\(choice.devicePath)"])
    case .absent(let reason):
      logger.notice("no modem yet: \(reason)")
    }
  }
}

/// Path helpers.
enum FilePaths {
  /// The canonical path (links resolved), or nil if it does not exist.
  @Sendable static func realpath(_ path: String) -> String? {
    guard let resolved = Glibc.realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
  }
}
