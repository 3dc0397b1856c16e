import Synchronization
import Testing
import VigieCore

@testable import VigieModem

#if canImport(Glibc)
  import Glibc
#endif

/// Discovery against this machine's real libudev and `/sys`, plus failures
/// injected through the call table.
@Suite("modem discovery (libudev)")
struct ModemDiscoveryTests {
  @Test("lists this machine's tty devices without error")
  func listRealTTYs() throws {
    let ports = try UdevSerialPorts.list()
    for port in ports {
      #expect(port.devnode.hasPrefix("/dev/"))
      #expect(port.syspath.hasPrefix("/sys/"))
      #expect(port.subsystem == "tty")
    }
    // The raw listing and ours agree on the devices that have a node.
    let paths = try UdevLibrary.devicePaths(subsystem: "tty")
    #expect(ports.count <= paths.count)
    #expect(Set(ports.map(\.syspath)).isSubset(of: Set(paths)))
    // And the locator can decide on them.
    let selection = try ModemLocator(device: "auto").locate()
    #expect(!selection.reason.isEmpty)
  }

  @Test("a monitor stops promptly when its consumer is cancelled, and its thread exits")
  func monitorCancellation() async throws {
    let exited = Mutex(0)
    var calls = UdevCalls.live
    calls.monitorThreadExited = { exited.withLock { $0 += 1 } }
    let events = try SerialPortMonitor.start(quietPeriod: .milliseconds(50), calls: calls)
    let consumer = Task {
      var count = 0
      for await _ in events { count += 1 }
      return count
    }
    try await Task.sleep(for: .milliseconds(100))
    let start = ContinuousClock.now
    consumer.cancel()
    _ = await consumer.value
    while exited.withLock({ $0 }) == 0, ContinuousClock.now - start < .seconds(5) {
      try await Task.sleep(for: .milliseconds(5))
    }
    // The thread ends on the wake-up, not on some timeout of its own: the
    // loop above would wait 5 s at most; a loaded CI machine may take a while.
    #expect(exited.withLock { $0 } == 1)
  }

  @Test("dropping the stream without iterating it stops the thread too")
  func monitorDropped() async throws {
    let exited = Mutex(0)
    var calls = UdevCalls.live
    calls.monitorThreadExited = { exited.withLock { $0 += 1 } }
    do {
      let events = try SerialPortMonitor.start(calls: calls)
      _ = events
    }
    let start = ContinuousClock.now
    while exited.withLock({ $0 }) == 0, ContinuousClock.now - start < .seconds(5) {
      try await Task.sleep(for: .milliseconds(5))
    }
    #expect(exited.withLock { $0 } == 1)
  }

  @Test("with the listing asked for, the monitor thread sends it first")
  func listingFirst() async throws {
    let events = try SerialPortMonitor.start(listing: true)
    var iterator = events.makeAsyncIterator()
    guard case .listed(let ports) = await iterator.next() else {
      Issue.record("the first event is not the listing")
      return
    }
    #expect(Set(ports.map(\.syspath)) == Set(try UdevSerialPorts.list().map(\.syspath)))
  }

  @Test("a listing that fails on the monitor thread ends the stream with .failed")
  func listingFails() async throws {
    var calls = UdevCalls.live
    calls.enumerateScanDevices = { _ in -ENOMEM }
    var seen: [ModemDeviceEvent] = []
    for await event in try SerialPortMonitor.start(listing: true, calls: calls) {
      seen.append(event)
    }
    guard seen.count == 1, case .failed(let error) = seen[0] else {
      Issue.record("expected one .failed, got \(seen)")
      return
    }
    #expect(error.code == .enumerationFailed && error.underlyingErrno == ENOMEM)
  }

  @Test("a failing poll() ends the stream with .failed and the errno")
  func pollFailure() async throws {
    var calls = UdevCalls.live
    calls.poll = { _, _, _ in
      errno = EBADF
      return -1
    }
    var seen: [ModemDeviceEvent] = []
    for await event in try SerialPortMonitor.start(calls: calls) { seen.append(event) }
    #expect(seen.count == 1)
    guard case .failed(let error) = seen.first else {
      Issue.record("expected .failed, got \(seen)")
      return
    }
    #expect(error.code == .monitorFailed)
    #expect(error.underlyingErrno == EBADF)
    #expect(error.operation == "poll")
  }

  @Test("EINTR from poll() is retried, not an error")
  func pollInterrupted() async throws {
    let interrupts = Mutex(3)
    let exited = Mutex(0)
    var calls = UdevCalls.live
    calls.poll = { fds, count, timeout in
      let again = interrupts.withLock { remaining -> Bool in
        guard remaining > 0 else { return false }
        remaining -= 1
        return true
      }
      if again {
        errno = EINTR
        return -1
      }
      return Glibc.poll(fds, count, timeout)
    }
    calls.monitorThreadExited = { exited.withLock { $0 += 1 } }
    let events = try SerialPortMonitor.start(calls: calls)
    let consumer = Task { () -> [ModemDeviceEvent] in
      var seen: [ModemDeviceEvent] = []
      for await event in events { seen.append(event) }
      return seen
    }
    try await Task.sleep(for: .milliseconds(100))
    consumer.cancel()
    #expect(await consumer.value.isEmpty)
    #expect(interrupts.withLock { $0 } == 0)
  }

  @Test("udev_new failing is a typed error with its errno")
  func udevNewFails() {
    var calls = UdevCalls.live
    calls.udevNew = {
      errno = EMFILE
      return nil
    }
    #expect {
      try UdevSerialPorts.list(calls: calls)
    } throws: { error in
      guard let error = error as? ModemDiscoveryError else { return false }
      return error.code == .udevUnavailable && error.underlyingErrno == EMFILE
        && error.operation == "udev_new" && "\(error)".contains("udev_new")
    }
  }

  @Test("a failing scan is a typed error with its errno")
  func scanFails() {
    var calls = UdevCalls.live
    calls.enumerateScanDevices = { _ in -EACCES }
    #expect {
      try UdevSerialPorts.list(calls: calls)
    } throws: { error in
      guard let error = error as? ModemDiscoveryError else { return false }
      return error.code == .enumerationFailed && error.underlyingErrno == EACCES
    }
  }

  @Test("a monitor that cannot be set up is a typed error, and nothing leaks a thread")
  func monitorSetupFails() {
    let exited = Mutex(0)
    var calls = UdevCalls.live
    calls.monitorEnableReceiving = { _ in -EPERM }
    calls.monitorThreadExited = { exited.withLock { $0 += 1 } }
    #expect {
      _ = try SerialPortMonitor.start(calls: calls)
    } throws: { error in
      guard let error = error as? ModemDiscoveryError else { return false }
      return error.code == .monitorFailed && error.underlyingErrno == EPERM
        && error.operation == "udev_monitor_enable_receiving"
    }
    calls.monitorEnableReceiving = UdevCalls.live.monitorEnableReceiving
    calls.monitorNewFromNetlink = { _, _ in
      errno = EPROTONOSUPPORT
      return nil
    }
    #expect {
      _ = try SerialPortMonitor.start(calls: calls)
    } throws: { error in
      (error as? ModemDiscoveryError)?.underlyingErrno == EPROTONOSUPPORT
    }
    #expect(exited.withLock { $0 } == 0)
  }

  @Test("poll timeouts round up to whole milliseconds")
  func timeouts() {
    #expect(MonitorLoop.milliseconds(.nanoseconds(1)) == 1)
    #expect(MonitorLoop.milliseconds(.milliseconds(300)) == 300)
    #expect(MonitorLoop.milliseconds(.microseconds(1500)) == 2)
    #expect(MonitorLoop.milliseconds(.seconds(1_000_000_000)) == Int32.max)
  }
}
