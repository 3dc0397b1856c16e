import Logging
import ServiceLifecycle
import Synchronization
import VigieCore

/// What a supervised slot should run: produced from the configuration, and
/// produced again on reload.
public struct ServiceSpec: Sendable {
  public var enabled: Bool
  /// False while this build has no implementation of the subsystem.
  public var implemented: Bool
  /// Text that changes exactly when the service must restart to apply a new
  /// configuration (its config section, rendered).
  public var fingerprint: String
  /// Builds a fresh instance for each (re)start.
  public var make: @Sendable () throws -> any Service

  public init(
    enabled: Bool, implemented: Bool = true, fingerprint: String, make: @escaping @Sendable () throws -> any Service
  ) {
    self.enabled = enabled
    self.implemented = implemented
    self.fingerprint = fingerprint
    self.make = make
  }

  /// A slot for a subsystem this build does not have yet.
  public static func missing(enabled: Bool, fingerprint: String) -> ServiceSpec {
    ServiceSpec(enabled: enabled, implemented: false, fingerprint: fingerprint) {
      throw SupervisorError(.notImplemented, "not implemented")
    }
  }
}

/// The `RestartingService` of the architecture note: runs one subsystem and
/// restarts it when it fails, with exponential backoff and jitter, a cap,
/// and a reset after a healthy period. Failures never escape to the
/// `ServiceGroup`, so one subsystem never takes the others down.
///
/// On reload, `update(_:)` hands it a new spec; if the fingerprint changed the
/// running instance is cancelled and a new one starts at once. On graceful
/// shutdown the inner service is asked to stop (it inherits the graceful
/// shutdown signal) and backoff sleeps end immediately.
public final class SupervisedService<C: Clock>: Service, Sendable where C.Duration == Duration {
  public let name: String
  private let board: ServiceBoard
  private let backoff: Backoff
  private let healthyAfter: Duration
  private let clock: C
  private let logger: Logger

  private struct Slot {
    var spec: ServiceSpec
    var generation: UInt64 = 0
    var changed: AsyncStream<Void>.Continuation?
  }
  private let slot: Mutex<Slot>

  public init(
    name: String, spec: ServiceSpec, board: ServiceBoard, backoff: Backoff, healthyAfter: Duration, clock: C,
    logger: Logger
  ) {
    self.name = name
    self.board = board
    self.backoff = backoff
    self.healthyAfter = healthyAfter
    self.clock = clock
    var logger = logger
    logger[metadataKey: "service"] = "\(name)"
    self.logger = logger
    self.slot = Mutex(Slot(spec: spec))
    board.set(name, spec.enabled ? (spec.implemented ? .stopped : .notImplemented) : .disabled)
  }

  /// Applies a new spec. Returns true if the service restarts because of it.
  @discardableResult
  public func update(_ spec: ServiceSpec) -> Bool {
    apply(spec, force: false)
  }

  /// Stops the running instance and starts a fresh one now (the RESTART
  /// command), resetting the backoff.
  public func restart() {
    let spec = slot.withLock { $0.spec }
    apply(spec, force: true)
  }

  /// Whether the slot's service is enabled in the current configuration.
  public var isEnabled: Bool { slot.withLock { $0.spec.enabled } }

  @discardableResult
  private func apply(_ spec: ServiceSpec, force: Bool) -> Bool {
    let continuation = slot.withLock { slot -> AsyncStream<Void>.Continuation? in
      let old = slot.spec
      guard
        force || old.fingerprint != spec.fingerprint || old.enabled != spec.enabled
          || old.implemented != spec.implemented
      else { return nil }
      slot.spec = spec
      slot.generation += 1
      return slot.changed
    }
    guard let continuation else { return false }
    logger.notice(force ? "restart requested" : "configuration changed; restarting")
    continuation.yield()
    return true
  }

  public func run() async {
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
      let spec = slot.withLock { slot -> ServiceSpec in
        slot.changed = continuation
        return slot.spec
      }
      await withTaskGroup(of: Void.self) { group in
        group.addTask { await self.runGeneration(spec) }
        group.addTask {
          for await _ in stream { return }
        }
        await group.next()
        group.cancelAll()
        continuation.finish()
      }
    }
    board.set(name, slot.withLock { $0.spec.enabled } ? .stopped : .disabled)
  }

  /// Runs one configuration of the service until shutdown, cancellation (a
  /// reload), or forever with restarts.
  private func runGeneration(_ spec: ServiceSpec) async {
    guard spec.enabled, spec.implemented else {
      board.set(name, spec.enabled ? .notImplemented : .disabled)
      if spec.enabled { logger.warning("enabled in the configuration, but this build of vigie does not have it yet") }
      try? await gracefulShutdown()  // returns on shutdown, throws on cancellation
      return
    }
    var failures = 0
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      board.set(name, .starting)
      let started = clock.now
      var failure: String
      do {
        let service = try spec.make()
        board.set(name, .running)
        logger.debug("started")
        try await service.run()
        if Task.isShuttingDownGracefully || Task.isCancelled {
          board.set(name, .stopped)
          logger.debug("stopped")
          return
        }
        failure = "stopped by itself"
      } catch {
        if Task.isShuttingDownGracefully || Task.isCancelled {
          board.set(name, .stopped)
          return
        }
        failure = Self.describe(error)
      }
      if started.duration(to: clock.now) >= healthyAfter { failures = 0 }
      failures += 1
      let delay = backoff.delay(attempt: failures)
      board.set(name, .backingOff(failures: failures, lastError: failure))
      logger.error(
        "failed; restarting",
        metadata: ["error": "\(failure)", "failures": "\(failures)", "retry_in": "\(delay.configText)"])
      do {
        try await cancelWhenGracefulShutdown { try await self.clock.sleep(for: delay) }
      } catch {
        board.set(name, .stopped)
        return
      }
      board.recordRestart(name)
    }
  }

  static func describe(_ error: any Error) -> String {
    let text = String(describing: error)
    return text.count > 200 ? String(text.prefix(199)) + "…" : text
  }
}

/// Errors of the supervisor itself.
public struct SupervisorError: Error, Sendable, CustomStringConvertible {
  public struct Code: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable { case notImplemented, startup, signal }
    let kind: Kind
    public static let notImplemented = Code(kind: .notImplemented)
    public static let startup = Code(kind: .startup)
    public static let signal = Code(kind: .signal)
    public var description: String { "\(kind)" }
  }

  public var code: Code
  public var message: String
  public var underlyingError: (any Error)?

  public init(_ code: Code, _ message: String, underlyingError: (any Error)? = nil) {
    self.code = code
    self.message = message
    self.underlyingError = underlyingError
  }

  public var description: String {
    underlyingError.map { "\(message): \($0)" } ?? message
  }
}
