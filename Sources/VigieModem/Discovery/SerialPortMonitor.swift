import CUdev
import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A hotplug event of a serial port.
public enum ModemDeviceEvent: Hashable, Sendable {
  /// A `tty` device appeared (or changed: its properties are new).
  case added(SerialPortInfo)
  /// A `tty` device vanished. Its sysfs entry is gone, so only its names are
  /// known.
  case removed(devnode: String?, syspath: String)
  /// Every `tty` device, listed by the monitor thread once it listens
  /// (first element when the listing was asked for), and again after the
  /// kernel dropped events: replace what you knew.
  case listed([SerialPortInfo])
  /// No event for the quiet period given to ``SerialPortMonitor/start(quietPeriod:)``
  /// since the last burst: a replugged modem has brought up all its ports.
  case settled
  /// The kernel dropped events (the socket buffer overflowed): the picture
  /// built from events is no longer complete. (With the listing asked for,
  /// ``listed(_:)`` comes instead.)
  case eventsLost
  /// The monitor failed; this is the last element of the stream.
  case failed(ModemDiscoveryError)
}

/// Watches `tty` devices come and go, through a udev monitor.
///
/// The monitor listens to udevd's events (netlink group `"udev"`): they
/// come after udevd has run its rules, so the devices carry their
/// properties and `/dev/serial/by-id` links. Without a running udevd (a
/// container) libudev delivers no events, and the stream just stays quiet.
public enum SerialPortMonitor {
  /// Starts watching. The monitor listens before this returns, so a port
  /// listed by ``UdevSerialPorts/list()`` after the call is never missed.
  ///
  /// The udev handles live on a thread of their own, blocked in `poll()` on
  /// the monitor's socket and a wake-up pipe. Ending the stream (cancelling the
  /// task that iterates it, or dropping it) writes to the pipe, and the
  /// thread frees the handles and exits at once. Events are buffered without
  /// bound (they are few).
  ///
  /// - Parameters:
  ///   - quietPeriod: when given, ``ModemDeviceEvent/settled`` is sent once
  ///     no event came for this long after the last one.
  ///   - listing: when true, the thread lists the `tty` devices once the
  ///     monitor listens and sends ``ModemDeviceEvent/listed(_:)`` first (and
  ///     again after lost events), so that no libudev call runs on the
  ///     caller's thread.
  public static func start(quietPeriod: Duration? = nil, listing: Bool = false)
    throws(ModemDiscoveryError) -> AsyncStream<ModemDeviceEvent>
  {
    try start(quietPeriod: quietPeriod, listing: listing, calls: .live)
  }

  static func start(quietPeriod: Duration? = nil, listing: Bool = false, calls: UdevCalls)
    throws(ModemDiscoveryError) -> AsyncStream<ModemDeviceEvent>
  {
    let handles = try MonitorHandles(calls: calls)
    let wake: WakeUp
    do {
      wake = try WakeUp()
    } catch {
      handles.release()
      throw error
    }
    let (stream, continuation) = AsyncStream.makeStream(
      of: ModemDeviceEvent.self, bufferingPolicy: .unbounded)
    continuation.onTermination = { _ in wake.signal() }
    let started = DedicatedThread.start {
      MonitorLoop(
        handles: handles, wake: wake, continuation: continuation, quietPeriod: quietPeriod,
        listing: listing, calls: calls
      ).run()
    }
    if started != 0 {
      handles.release()
      continuation.finish()
      throw ModemDiscoveryError(
        code: .monitorFailed, message: "cannot start the udev monitor thread",
        operation: "pthread_create", underlyingErrno: started)
    }
    return stream
  }
}

/// The udev context and monitor, created by ``SerialPortMonitor/start(quietPeriod:)``
/// and handed over to the monitor thread.
///
/// `@unchecked Sendable` is sound because ownership moves, it is never
/// shared: `start` creates the handles and touches them no more once the
/// thread is started (`pthread_create` orders everything before it with the
/// thread's first instruction), except to release them when the thread could
/// not be started; from then on only the monitor thread uses them, and it
/// releases them once, on exit. libudev objects may be used from any thread,
/// one at a time.
final class MonitorHandles: @unchecked Sendable {
  let udev: OpaquePointer
  let monitor: OpaquePointer

  init(calls: UdevCalls) throws(ModemDiscoveryError) {
    let udev = try UdevSerialPorts.newContext(calls: calls)
    errno = 0
    guard let monitor = calls.monitorNewFromNetlink(udev, "udev") else {
      let code = errno == 0 ? ENOMEM : errno
      udev_unref(udev)
      throw ModemDiscoveryError(
        code: .monitorFailed, message: "cannot open a udev monitor (netlink socket)",
        operation: "udev_monitor_new_from_netlink", underlyingErrno: code)
    }
    func fail(_ operation: String, _ code: Int32) -> ModemDiscoveryError {
      udev_monitor_unref(monitor)
      udev_unref(udev)
      return ModemDiscoveryError(
        code: .monitorFailed, message: "cannot set up the udev monitor for tty devices",
        operation: operation, underlyingErrno: code)
    }
    let filtered = udev_monitor_filter_add_match_subsystem_devtype(monitor, "tty", nil)
    if filtered < 0 { throw fail("udev_monitor_filter_add_match_subsystem_devtype", -filtered) }
    let enabled = calls.monitorEnableReceiving(monitor)
    if enabled < 0 { throw fail("udev_monitor_enable_receiving", -enabled) }
    // A bigger buffer makes overruns (lost events) rarer; refusal is harmless.
    _ = udev_monitor_set_receive_buffer_size(monitor, 1 << 20)
    let fd = udev_monitor_get_fd(monitor)
    let flags = fcntl(fd, F_GETFL)
    if flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 { throw fail("fcntl", errno) }
    self.udev = udev
    self.monitor = monitor
  }

  /// Frees the handles; called exactly once, by their single owner.
  func release() {
    udev_monitor_unref(monitor)
    udev_unref(udev)
  }
}

/// A pipe that wakes the monitor thread from `poll()` (the read end is
/// polled, ``signal()`` writes to the other). Closed when the last of its
/// users (the thread and the stream's termination handler) lets it go, so a
/// late wake-up never writes to a reused descriptor.
final class WakeUp: Sendable {
  /// The end to poll.
  let fd: Int32
  private let writeFD: Int32

  init() throws(ModemDiscoveryError) {
    var ends: [Int32] = [-1, -1]
    guard pipe(&ends) == 0 else {
      throw ModemDiscoveryError(
        code: .monitorFailed, message: "cannot create the monitor's wake-up pipe",
        operation: "pipe", underlyingErrno: errno)
    }
    for end in ends {
      _ = fcntl(end, F_SETFD, FD_CLOEXEC)
      _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
    }
    fd = ends[0]
    writeFD = ends[1]
  }

  /// Wakes the thread; idempotent (a full pipe is already a wake-up).
  func signal() {
    var byte: UInt8 = 1
    _ = write(writeFD, &byte, 1)
  }

  deinit {
    close(fd)
    close(writeFD)
  }
}

/// The body of the monitor thread.
struct MonitorLoop {
  let handles: MonitorHandles
  let wake: WakeUp
  let continuation: AsyncStream<ModemDeviceEvent>.Continuation
  let quietPeriod: Duration?
  let listing: Bool
  let calls: UdevCalls

  func run() {
    defer {
      handles.release()
      continuation.finish()
      calls.monitorThreadExited()
    }
    if listing && !list() { return }
    let monitorFD = udev_monitor_get_fd(handles.monitor)
    var lastEvent: ContinuousClock.Instant?
    while true {
      var timeout: Int32 = -1
      if let last = lastEvent, let quietPeriod {
        let remaining = last + quietPeriod - ContinuousClock.now
        if remaining <= .zero {
          continuation.yield(.settled)
          lastEvent = nil
          continue
        }
        timeout = Self.milliseconds(remaining)
      }
      var fds = [
        pollfd(fd: monitorFD, events: Int16(POLLIN), revents: 0),
        pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0),
      ]
      let ready = fds.withUnsafeMutableBufferPointer { calls.poll($0.baseAddress!, 2, timeout) }
      if ready < 0 {
        let code = errno
        if code == EINTR { continue }
        fail("poll", code)
        return
      }
      if fds[1].revents != 0 { return }  // cancelled
      if fds[0].revents & Int16(POLLIN) != 0 {
        if drain() { lastEvent = ContinuousClock.now }
      } else if fds[0].revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
        fail("poll", EIO)
        return
      }
    }
  }

  /// Publishes the listing; false (after publishing the failure) if it failed.
  private func list() -> Bool {
    do {
      continuation.yield(.listed(try UdevSerialPorts.list(udev: handles.udev, calls: calls)))
      return true
    } catch {
      continuation.yield(.failed(error))
      return false
    }
  }

  /// Reads every pending device; true if any event was published.
  private func drain() -> Bool {
    var published = false
    while true {
      errno = 0
      guard let device = udev_monitor_receive_device(handles.monitor) else {
        if errno == ENOBUFS {
          if listing {
            if !list() { return published }
          } else {
            continuation.yield(.eventsLost)
          }
          published = true
          continue
        }
        return published
      }
      defer { udev_device_unref(device) }
      for event in Self.events(from: device) {
        continuation.yield(event)
        published = true
      }
    }
  }

  private func fail(_ operation: String, _ code: Int32) {
    continuation.yield(
      .failed(
        ModemDiscoveryError(
          code: .monitorFailed, message: "the udev monitor stopped working",
          operation: operation, underlyingErrno: code)))
  }

  /// The events a uevent stands for.
  static func events(from device: OpaquePointer) -> [ModemDeviceEvent] {
    guard let syspathPointer = udev_device_get_syspath(device) else { return [] }
    let syspath = String(cString: syspathPointer)
    let action = udev_device_get_action(device).map { String(cString: $0) } ?? "add"
    switch action {
    case "remove":
      let devnode = udev_device_get_devnode(device).map { String(cString: $0) }
      return [.removed(devnode: devnode, syspath: syspath)]
    case "move":
      var events: [ModemDeviceEvent] = []
      if let old = udev_device_get_property_value(device, "DEVPATH_OLD") {
        events.append(.removed(devnode: nil, syspath: "/sys" + String(cString: old)))
      }
      if let port = UdevSerialPorts.portInfo(device) { events.append(.added(port)) }
      return events
    case "add", "change":
      return UdevSerialPorts.portInfo(device).map { [.added($0)] } ?? []
    default:
      return []  // bind, unbind, online, offline: nothing new for a tty
    }
  }

  /// A poll timeout, rounded up to whole milliseconds, at least 1.
  static func milliseconds(_ duration: Duration) -> Int32 {
    let (seconds, attoseconds) = duration.components
    let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int32(clamping: max(1, millis))
  }
}

/// Starts detached POSIX threads (never the Swift cooperative pool) for
/// blocking C loops.
enum DedicatedThread {
  private final class Body {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
  }

  /// Runs `body` on a new detached thread. Returns 0, or the error number
  /// of `pthread_create`.
  static func start(_ body: @escaping @Sendable () -> Void) -> Int32 {
    let context = Unmanaged.passRetained(Body(body)).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(
      &thread, nil,
      { raw in
        guard let raw else { return nil }
        Unmanaged<Body>.fromOpaque(raw).takeRetainedValue().run()
        return nil
      }, context)
    if created != 0 {
      Unmanaged<Body>.fromOpaque(context).release()
      return created
    }
    pthread_detach(thread)
    return 0
  }
}
