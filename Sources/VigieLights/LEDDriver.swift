import Foundation
import Synchronization
import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Drives the LEDs from a thread of its own.
///
/// The thread owns the LED outputs and the ``LEDEngine``; everybody else
/// only posts changes into a mailbox (a lock held for an array append) and
/// wakes the thread through a pipe. The thread sleeps in `poll` until
/// the engine's next edge or a post: no busy loop. A write that blocks (a
/// wedged sysfs file, a slow GPIO expander) stalls this thread only; posts
/// and `stop()` still return at once.
public final class LEDDriver: Sendable {
  public typealias Change = @Sendable (inout LEDEngine, _ now: Duration) -> Void

  private struct Mailbox {
    var changes: [Change] = []
    var stopping = false
    var finished = false
    /// The levels last written, for tests and `vigie leds test` output.
    var levels: [String: Bool] = [:]
  }

  private let mailbox = Mutex(Mailbox())
  /// The self-pipe: a byte written to `wakeFDs.write` wakes `poll`.
  private let wakeFDs: (read: Int32, write: Int32)

  /// Opens the LEDs on the new thread (opening a sysfs file may block too),
  /// then runs. `report` receives each problem once (an LED that cannot be
  /// opened or written) and an empty list when every LED works.
  public init(
    devices: [(role: LEDRole, device: LEDDevice)], sysfsRoot: String, gpioChip: String,
    report: @escaping @Sendable ([String]) -> Void
  ) {
    var fds: [Int32] = [-1, -1]
    if pipe(&fds) == 0 {
      for fd in fds {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
      }
    }
    wakeFDs = (fds[0], fds[1])
    let roles = devices.map(\.role.rawValue)
    let descriptions = devices.map { ($0.role, $0.device) }
    let thread = Thread { [self] in
      let (outputs, problems) = openOutputs(descriptions, sysfsRoot: sysfsRoot, gpioChip: gpioChip)
      report(problems)
      self.loop(engine: LEDEngine(leds: roles), outputs: outputs, problems: problems, report: report)
    }
    thread.name = "vigie-leds"
    thread.start()
  }

  deinit {
    close(wakeFDs.read)
    close(wakeFDs.write)
  }

  /// Applies `change` to the engine on the LED thread, soon.
  public func post(_ change: @escaping Change) {
    mailbox.withLock { $0.changes.append(change) }
    wake()
  }

  /// Asks the thread to give the LEDs back (triggers restored, lines
  /// released) and end. Returns at once, even when the thread is stuck.
  public func stop() {
    mailbox.withLock { $0.stopping = true }
    wake()
  }

  /// Stops and waits up to `timeout` for the LEDs to be given back; false
  /// when the thread is stuck (it is then left behind, the caller goes on).
  public func stop(waitingUpTo timeout: Duration) async -> Bool {
    stop()
    let deadline = ContinuousClock.now + timeout
    while !isFinished {
      if ContinuousClock.now >= deadline { return false }
      try? await Task.sleep(for: .milliseconds(10))
    }
    return true
  }

  /// Whether the thread has ended (after `stop()`).
  public var isFinished: Bool { mailbox.withLock { $0.finished } }

  /// The levels the thread last wrote, by role.
  public var levels: [String: Bool] { mailbox.withLock { $0.levels } }

  private func wake() {
    var one: UInt8 = 1
    _ = write(wakeFDs.write, &one, 1)  // a full pipe already wakes the thread
  }

  private func loop(
    engine initial: LEDEngine, outputs: [(LEDRole, any LEDOutput)], problems initialProblems: [String],
    report: @Sendable ([String]) -> Void
  ) {
    var engine = initial
    var written: [String: Bool] = [:]
    var failing: [String: String] = [:]
    let start = ContinuousClock.now
    defer {
      for (_, output) in outputs { output.close() }
      mailbox.withLock { $0.finished = true }
    }
    while true {
      var now = start.duration(to: .now)
      let (changes, stopping) = mailbox.withLock { box in
        defer { box.changes.removeAll() }
        return (box.changes, box.stopping)
      }
      if stopping { return }
      for change in changes { change(&engine, now) }
      now = start.duration(to: .now)
      var problemsChanged = false
      for (role, output) in outputs {
        let lit = engine.level(of: role.rawValue, at: now)
        guard written[role.rawValue] != lit else { continue }
        do throws(LEDError) {
          try output.set(lit)
          written[role.rawValue] = lit
          if failing.removeValue(forKey: role.rawValue) != nil { problemsChanged = true }
        } catch {
          if failing[role.rawValue] == nil { problemsChanged = true }
          failing[role.rawValue] = "\(role.rawValue) LED: \(error.description)"
        }
      }
      let snapshot = written
      mailbox.withLock { $0.levels = snapshot }
      if problemsChanged { report(initialProblems + failing.keys.sorted().map { failing[$0]! }) }
      // Sleep until the next edge (rounded up to whole milliseconds) or a post;
      // a failing LED is retried every second.
      var timeout: Int32 = -1
      if let next = engine.nextChange(after: now) {
        let wait = next - now
        timeout = Int32(
          clamping: (wait.components.seconds * 1000) + (wait.components.attoseconds + 999_999_999_999_999)
            / 1_000_000_000_000_000)
      }
      if !failing.isEmpty { timeout = timeout < 0 ? 1000 : min(timeout, 1000) }
      if !failing.isEmpty { for role in failing.keys { written[role] = nil } }
      var pollFD = pollfd(fd: wakeFDs.read, events: Int16(POLLIN), revents: 0)
      _ = poll(&pollFD, 1, timeout)
      var drained = [UInt8](repeating: 0, count: 64)
      while read(wakeFDs.read, &drained, drained.count) > 0 {}
    }
  }
}
