import Logging
import ServiceLifecycle
import Synchronization
import VigieCore

/// The status LEDs as a supervised service: reads the daemon's state a few
/// times a second and tells the LED thread what to show.
public final class LightsService: Service, Sendable {
  private let config: LEDsConfig
  private let input: @Sendable () -> LightsInput
  private let problems: @Sendable ([String]) -> Void
  private let logger: Logger
  private let interval: Duration
  /// The running driver, for `vigie leds test` through the control socket.
  private let driverBox = DriverBox()

  /// - Parameters:
  ///   - input: the state to show, read every `interval`.
  ///   - problems: LEDs that cannot be driven (empty when all work).
  public init(
    config: LEDsConfig, input: @escaping @Sendable () -> LightsInput, interval: Duration = .milliseconds(250),
    problems: @escaping @Sendable ([String]) -> Void, logger: Logger
  ) {
    self.config = config
    self.input = input
    self.interval = interval
    self.problems = problems
    self.logger = logger
  }

  public func run() async throws {
    let logger = self.logger
    let report = self.problems
    let driver = LEDDriver(
      devices: config.devices, sysfsRoot: config.sysfsRoot, gpioChip: config.gpioChip,
      report: { problems in
        for problem in problems { logger.warning("\(problem)") }
        report(problems)
      })
    driverBox.set(driver)
    var tracker = LightsTracker(map: config.patterns.map)
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      let step = tracker.step(input())
      if let patterns = step.patterns {
        driver.post { engine, now in
          for (role, pattern) in patterns { engine.request(role.rawValue, source: "state", pattern: pattern, at: now) }
        }
      }
      if step.flash {
        driver.post { engine, now in engine.flash(LEDRole.activity.rawValue, at: now) }
      }
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
    }
    driverBox.set(nil)
    if !(await driver.stop(waitingUpTo: .seconds(1))) {
      logger.error("the LED thread is stuck; the LEDs are left as they are")
    }
  }

  /// Runs the wiring test on the live LEDs; returns the LEDs it lights, in order.
  public func runTest(hold: Duration = .seconds(1)) async -> [String] {
    guard let driver = driverBox.get() else { return [] }
    return await LightsTest.run(on: driver, roles: config.devices.map(\.role), hold: hold)
  }
}

/// The test sequence of ``LEDTestSequence`` played on a driver at the test
/// priority, then withdrawn.
public enum LightsTest {
  /// `lit` is called as each LED is lit alone, with its role.
  public static func run(
    on driver: LEDDriver, roles: [LEDRole], hold: Duration, lit: (String) -> Void = { _ in }
  ) async -> [String] {
    let names = roles.map(\.rawValue)
    var elapsed = Duration.zero
    for step in LEDTestSequence.steps(leds: names, hold: hold) {
      if step.at > elapsed {
        try? await Task.sleep(for: step.at - elapsed)
        elapsed = step.at
      }
      driver.post { engine, now in
        engine.request(step.led, source: "test", priority: .test, pattern: step.pattern, at: now)
      }
      if step.pattern == .on { lit(step.led) }
    }
    try? await Task.sleep(for: LEDTestSequence.length(forLEDs: names.count, hold: hold) - elapsed)
    driver.post { engine, now in
      for name in names { engine.request(name, source: "test", pattern: nil, at: now) }
    }
    return names
  }
}

final class DriverBox: Sendable {
  private let driver = Mutex<LEDDriver?>(nil)
  func set(_ value: LEDDriver?) { driver.withLock { $0 = value } }
  func get() -> LEDDriver? { driver.withLock { $0 } }
}
