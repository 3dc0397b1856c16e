import Logging
import ServiceLifecycle
import Synchronization
import Testing
import VigieCore

@testable import VigieRuntime

/// A service whose behaviour each test scripts.
struct ScriptedService: Service {
  let body: @Sendable () async throws -> Void
  func run() async throws { try await body() }
}

struct Boom: Error, CustomStringConvertible {
  var description: String { "boom" }
}

/// Counts runs and lets a test wait for the n-th one.
final class RunCounter: Sendable {
  private let count = Mutex(0)
  private let waiters = Mutex<[(Int, CheckedContinuation<Void, Never>)]>([])

  var value: Int { count.withLock { $0 } }

  func increment() {
    let n = count.withLock { value -> Int in
      value += 1
      return value
    }
    let ready = waiters.withLock { list -> [CheckedContinuation<Void, Never>] in
      let ready = list.filter { $0.0 <= n }.map(\.1)
      list.removeAll { $0.0 <= n }
      return ready
    }
    ready.forEach { $0.resume() }
  }

  func wait(for n: Int) async {
    await withCheckedContinuation { continuation in
      let done = waiters.withLock { list -> Bool in
        if count.withLock({ $0 }) >= n { return true }
        list.append((n, continuation))
        return false
      }
      if done { continuation.resume() }
    }
  }
}

/// Polls `condition` (on real time, briefly) — only for states reached by
/// other tasks right after an event the test already awaited.
///
/// The bound only catches a hang: the integration tests run in the same
/// process and keep the (2-thread) cooperative pool busy with blocking
/// waits, so a state change can take seconds to be observed on a loaded CI
/// machine.
func eventually(_ condition: () -> Bool, timeout: Duration = .seconds(60)) async -> Bool {
  let deadline = ContinuousClock.now.advanced(by: timeout)
  while ContinuousClock.now < deadline {
    if condition() { return true }
    try? await Task.sleep(for: .milliseconds(5))
  }
  return condition()
}

let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

@Suite("SupervisedService")
struct SupervisedServiceTests {
  let backoff = Backoff(base: .seconds(1), factor: 2, cap: .seconds(8), jitter: 0)

  func makeGroup(_ services: [any Service]) -> ServiceGroup {
    ServiceGroup(
      configuration: .init(
        services: services.map { .init(service: $0) }, gracefulShutdownSignals: [], cancellationSignals: [],
        logger: quietLogger))
  }

  @Test("a failing service restarts after 1s, 2s, 4s, capped at 8s")
  func backoffSchedule() async throws {
    let clock = ManualClock()
    let board = ServiceBoard()
    let runs = RunCounter()
    let spec = ServiceSpec(enabled: true, fingerprint: "a") {
      ScriptedService {
        runs.increment()
        throw Boom()
      }
    }
    let service = SupervisedService(
      name: "modem", spec: spec, board: board, backoff: backoff, healthyAfter: .seconds(60), clock: clock,
      logger: quietLogger)
    let group = makeGroup([service])
    try await withThrowingTaskGroup { tasks in
      tasks.addTask { try await group.run() }
      var expectedRuns = 1
      for delay in [1, 2, 4, 8, 8] {
        await runs.wait(for: expectedRuns)
        await clock.waitForSleepers(count: 1)
        #expect(board.state(of: "modem") == .backingOff(failures: expectedRuns, lastError: "boom"))
        clock.advance(by: .milliseconds(delay * 1000 - 1))
        try await Task.sleep(for: .milliseconds(20))
        #expect(runs.value == expectedRuns, "restarted before its \(delay)s backoff ended")
        clock.advance(by: .milliseconds(1))
        expectedRuns += 1
      }
      await runs.wait(for: expectedRuns)
      await group.triggerGracefulShutdown()
      try await tasks.waitForAll()
    }
    #expect(board.snapshot().first?.restarts == 5)
  }

  @Test("backoff resets after a healthy period")
  func healthyReset() async throws {
    let clock = ManualClock()
    let board = ServiceBoard()
    let runs = RunCounter()
    let spec = ServiceSpec(enabled: true, fingerprint: "a") {
      ScriptedService {
        runs.increment()
        if runs.value == 3 {
          // The third run lasts 61 s of clock time before failing.
          try await clock.sleep(for: .seconds(61))
        }
        throw Boom()
      }
    }
    let service = SupervisedService(
      name: "sms", spec: spec, board: board, backoff: backoff, healthyAfter: .seconds(60), clock: clock,
      logger: quietLogger)
    let group = makeGroup([service])
    try await withThrowingTaskGroup { tasks in
      tasks.addTask { try await group.run() }
      await runs.wait(for: 1)
      await clock.waitForSleepers()
      clock.advance(by: .seconds(1))  // first retry after 1 s
      await runs.wait(for: 2)
      await clock.waitForSleepers()
      #expect(board.state(of: "sms") == .backingOff(failures: 2, lastError: "boom"))
      clock.advance(by: .seconds(2))  // second retry after 2 s
      await runs.wait(for: 3)
      await clock.waitForSleepers()
      clock.advance(by: .seconds(61))  // healthy for 61 s, then fails
      #expect(await eventually { board.state(of: "sms") == .backingOff(failures: 1, lastError: "boom") })
      await group.triggerGracefulShutdown()
      try await tasks.waitForAll()
    }
  }

  @Test("one crashing service does not stop the others")
  func isolation() async throws {
    let clock = ManualClock()
    let board = ServiceBoard()
    let crashes = RunCounter()
    let healthyRuns = RunCounter()
    let crashing = SupervisedService(
      name: "modem",
      spec: ServiceSpec(enabled: true, fingerprint: "") {
        ScriptedService {
          crashes.increment()
          throw Boom()
        }
      }, board: board, backoff: backoff, healthyAfter: .seconds(60), clock: clock, logger: quietLogger)
    let healthy = SupervisedService(
      name: "filedrop",
      spec: ServiceSpec(enabled: true, fingerprint: "") {
        ScriptedService {
          healthyRuns.increment()
          try await gracefulShutdown()
        }
      }, board: board, backoff: backoff, healthyAfter: .seconds(60), clock: clock, logger: quietLogger)
    let group = makeGroup([crashing, healthy])
    try await withThrowingTaskGroup { tasks in
      tasks.addTask { try await group.run() }
      await crashes.wait(for: 1)
      await clock.waitForSleepers()
      clock.advance(by: .seconds(1))
      await crashes.wait(for: 2)
      #expect(healthyRuns.value == 1)
      #expect(board.state(of: "filedrop") == .running)
      await group.triggerGracefulShutdown()
      try await tasks.waitForAll()
    }
    #expect(board.state(of: "filedrop") == .stopped)
    #expect(board.state(of: "modem") == .stopped)
  }

  @Test("a disabled service never starts; a missing one says so")
  func disabledAndMissing() async throws {
    let board = ServiceBoard()
    let runs = RunCounter()
    let disabled = SupervisedService(
      name: "drive",
      spec: ServiceSpec(enabled: false, fingerprint: "") { ScriptedService { runs.increment() } },
      board: board, backoff: backoff, healthyAfter: .seconds(60), clock: ManualClock(), logger: quietLogger)
    let missing = SupervisedService(
      name: "xmpp", spec: .missing(enabled: true, fingerprint: ""), board: board, backoff: backoff,
      healthyAfter: .seconds(60), clock: ManualClock(), logger: quietLogger)
    let group = makeGroup([disabled, missing])
    try await withThrowingTaskGroup { tasks in
      tasks.addTask { try await group.run() }
      #expect(await eventually { board.state(of: "xmpp") == .notImplemented })
      #expect(board.state(of: "drive") == .disabled)
      await group.triggerGracefulShutdown()
      try await tasks.waitForAll()
    }
    #expect(runs.value == 0)
    #expect(board.state(of: "drive") == .disabled)
  }

  /// The manual clock never moves here: had the 300 s backoff not been cut
  /// short, the group would never return (the time limit would fail it).
  @Test("graceful shutdown ends a backoff wait at once", .timeLimit(.minutes(1)))
  func shutdownDuringBackoff() async throws {
    let clock = ManualClock()
    let board = ServiceBoard()
    let runs = RunCounter()
    let service = SupervisedService(
      name: "irc",
      spec: ServiceSpec(enabled: true, fingerprint: "") {
        ScriptedService {
          runs.increment()
          throw Boom()
        }
      }, board: board, backoff: Backoff(base: .seconds(300), cap: .seconds(300), jitter: 0),
      healthyAfter: .seconds(60), clock: clock, logger: quietLogger)
    let group = makeGroup([service])
    try await withThrowingTaskGroup { tasks in
      tasks.addTask { try await group.run() }
      await runs.wait(for: 1)
      await clock.waitForSleepers()
      await group.triggerGracefulShutdown()
      try await tasks.waitForAll()
    }
    #expect(clock.now.offset == .zero)
    #expect(runs.value == 1)
    #expect(board.state(of: "irc") == .stopped)
  }

  @Test("a changed spec restarts the service at once; the same spec does not")
  func reloadRestarts() async throws {
    let clock = ManualClock()
    let board = ServiceBoard()
    let seen = Mutex<[String]>([])
    let runs = RunCounter()
    func spec(_ fingerprint: String) -> ServiceSpec {
      ServiceSpec(enabled: true, fingerprint: fingerprint) {
        ScriptedService {
          seen.withLock { $0.append(fingerprint) }
          runs.increment()
          try await gracefulShutdown()
        }
      }
    }
    let service = SupervisedService(
      name: "watchdog", spec: spec("v1"), board: board, backoff: backoff, healthyAfter: .seconds(60), clock: clock,
      logger: quietLogger)
    let group = makeGroup([service])
    try await withThrowingTaskGroup { tasks in
      tasks.addTask { try await group.run() }
      await runs.wait(for: 1)
      #expect(service.update(spec("v1")) == false)
      #expect(service.update(spec("v2")) == true)
      await runs.wait(for: 2)
      service.restart()
      await runs.wait(for: 3)
      #expect(service.update(ServiceSpec(enabled: false, fingerprint: "v2") { ScriptedService {} }) == true)
      #expect(await eventually { board.state(of: "watchdog") == .disabled })
      await group.triggerGracefulShutdown()
      try await tasks.waitForAll()
    }
    #expect(seen.withLock { $0 } == ["v1", "v2", "v2"])
  }
}
