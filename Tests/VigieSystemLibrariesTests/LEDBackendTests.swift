import Foundation
import Synchronization
import Testing
import VigieCore
import VigieLights

#if canImport(Glibc)
  import Glibc
#endif

/// A directory laid out like `/sys/class/leds`, with regular files.
struct FakeLEDTree {
  let root: String

  init(_ leds: [(name: String, trigger: String)]) throws {
    root = NSTemporaryDirectory() + "vigie-leds-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    for led in leds {
      let directory = root + "/" + led.name
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      try "0\n".write(toFile: directory + "/brightness", atomically: false, encoding: .utf8)
      try "255\n".write(toFile: directory + "/max_brightness", atomically: false, encoding: .utf8)
      try (led.trigger + "\n").write(toFile: directory + "/trigger", atomically: false, encoding: .utf8)
    }
  }

  func read(_ name: String, _ file: String) -> String {
    ((try? String(contentsOfFile: "\(root)/\(name)/\(file)", encoding: .utf8)) ?? "")
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  func remove() { try? FileManager.default.removeItem(atPath: root) }
}

/// Collects what the driver reports.
final class Reports: Sendable {
  private let lists = Mutex<[[String]]>([])
  var all: [[String]] { lists.withLock { $0 } }
  var first: [String]? { all.first }
  func add(_ list: [String]) { lists.withLock { $0.append(list) } }
}

/// Waits for `condition`. The bound only catches a hang: other suites block
/// the cooperative pool's threads, so this task may not run for seconds; the
/// condition is checked once more after the deadline for that reason.
func eventually(_ what: String, timeout: Duration = .seconds(60), _ condition: () -> Bool) async -> Bool {
  let deadline = ContinuousClock.now + timeout
  while ContinuousClock.now < deadline {
    if condition() { return true }
    try? await Task.sleep(for: .milliseconds(10))
  }
  if condition() { return true }
  Issue.record("never: \(what)")
  return false
}

/// Every value `path` held, read every millisecond on a thread of its own
/// (not the cooperative pool, which other suites may block) until `stop`
/// says so: catches a short flash a sleeping task would miss.
final class FileSampler: Sendable {
  private let seen = Mutex<Set<String>>([])
  private let stopped = Mutex(false)

  init(_ path: String) {
    let thread = Thread { [self] in
      while !stopped.withLock({ $0 }) {
        let value =
          ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if !value.isEmpty { seen.withLock { _ = $0.insert(value) } }
        usleep(1000)
      }
    }
    thread.start()
  }

  var values: Set<String> { seen.withLock { $0 } }
  func stop() { stopped.withLock { $0 = true } }
}

@Suite("LED backends and driver", .serialized)
struct LEDBackendTests {
  @Test func theSysfsBackendDrivesBrightnessAndGivesTheTriggerBack() async throws {
    let tree = try FakeLEDTree([("ACT", "none rc-feedback [mmc0] timer heartbeat"), ("PWR", "none [default-on] timer")])
    defer { tree.remove() }
    let reports = Reports()
    let driver = LEDDriver(
      devices: [(.modem, .sysfs(name: "ACT")), (.network, .sysfs(name: "PWR"))], sysfsRoot: tree.root,
      gpioChip: "unused", report: reports.add)
    #expect(await eventually("opened") { reports.first != nil })
    #expect(reports.first == [])
    // The kernel stops driving the LEDs while Vigie does.
    #expect(tree.read("ACT", "trigger") == "none")
    #expect(tree.read("PWR", "trigger") == "none")

    driver.post { engine, now in engine.request("modem", source: "state", pattern: .on, at: now) }
    #expect(await eventually("ACT lit") { tree.read("ACT", "brightness") == "255" })
    #expect(tree.read("PWR", "brightness") == "0")

    // A blink is seen both lit and dark (sampled on a thread of its own).
    let sampler = FileSampler(tree.root + "/PWR/brightness")
    defer { sampler.stop() }
    driver.post { engine, now in engine.request("network", source: "state", pattern: .fastBlink, at: now) }
    #expect(await eventually("PWR lit and dark") { sampler.values.isSuperset(of: ["0", "255"]) })
    #expect(driver.levels["modem"] == true)

    #expect(await driver.stop(waitingUpTo: .seconds(5)))
    #expect(tree.read("ACT", "trigger") == "mmc0", "the original trigger is restored")
    #expect(tree.read("PWR", "trigger") == "default-on")
  }

  @Test func anLEDWithoutTriggerGetsItsBrightnessBack() async throws {
    let tree = try FakeLEDTree([("led1", "[none] timer")])
    defer { tree.remove() }
    try "255\n".write(toFile: tree.root + "/led1/brightness", atomically: false, encoding: .utf8)
    let reports = Reports()
    let driver = LEDDriver(
      devices: [(.alert, .sysfs(name: "led1"))], sysfsRoot: tree.root, gpioChip: "unused", report: reports.add)
    driver.post { engine, now in engine.request("alert", source: "state", pattern: .off, at: now) }
    #expect(await eventually("dark") { tree.read("led1", "brightness") == "0" })
    #expect(await driver.stop(waitingUpTo: .seconds(5)))
    #expect(tree.read("led1", "brightness") == "255")
  }

  @Test func aMissingLEDIsReportedAndTheOthersStillWork() async throws {
    let tree = try FakeLEDTree([("ACT", "[mmc0]")])
    defer { tree.remove() }
    let reports = Reports()
    let driver = LEDDriver(
      devices: [
        (.modem, .sysfs(name: "NOPE")), (.activity, .sysfs(name: "ACT")), (.alert, .gpio(line: 22, activeLow: false)),
      ],
      sysfsRoot: tree.root, gpioChip: "/dev/gpiochip-vigie-test-none", report: reports.add)
    #expect(await eventually("opened") { reports.first != nil })
    let problems = reports.first ?? []
    #expect(
      problems.contains(
        "modem LED: sysfs:NOPE: cannot write \(tree.root)/NOPE/brightness: No such file or directory"), "\(problems)")
    #expect(
      problems.contains {
        $0.hasPrefix("alert LED: GPIO chip \"/dev/gpiochip-vigie-test-none\": No such file or directory")
          && $0.contains("[leds] gpio_chip")
      }, "\(problems)")
    #expect(problems.count == 2)
    driver.post { engine, now in engine.request("activity", source: "state", pattern: .on, at: now) }
    #expect(await eventually("ACT lit") { tree.read("ACT", "brightness") == "255" })
    #expect(await driver.stop(waitingUpTo: .seconds(5)))
  }

  @Test func aStuckLEDDoesNotStallItsCallers() async throws {
    let tree = try FakeLEDTree([("stuck", "[none]")])
    defer { tree.remove() }
    let fifo = tree.root + "/stuck/brightness"
    unlink(fifo)
    #expect(mkfifo(fifo, 0o600) == 0)
    let reports = Reports()
    // Opening a FIFO nobody writes to blocks: the LED thread hangs in open().
    let driver = LEDDriver(
      devices: [(.modem, .sysfs(name: "stuck"))], sysfsRoot: tree.root, gpioChip: "unused", report: reports.add)
    let start = ContinuousClock.now
    for _ in 0..<1000 {
      driver.post { engine, now in engine.request("modem", source: "state", pattern: .fastBlink, at: now) }
    }
    #expect(await driver.stop(waitingUpTo: .milliseconds(300)) == false)
    #expect(start.duration(to: .now) < .seconds(20), "posting and stopping do not wait for the LED thread")
    // Unwedge the thread so it can end: be the FIFO's writer (O_RDWR on a
    // FIFO never blocks) and reader for the restore,
    // then give its read() a line.
    let unwedge = open(fifo, O_RDWR | O_NONBLOCK)
    defer { close(unwedge) }
    #expect(write(unwedge, "0\n", 2) == 2)
    #expect(await eventually("the thread ends once the write can go through") { driver.isFinished })
  }

  @Test(
    .enabled(
      if: FileManager.default.fileExists(atPath: "/dev/gpiochip0")
        && ProcessInfo.processInfo.environment["VIGIE_TEST_GPIO_LINE"] != nil,
      "needs a GPIO chip and VIGIE_TEST_GPIO_LINE naming a free line (a Raspberry Pi)"))
  func aRealGPIOLineIsDriven() async throws {
    let line = Int(ProcessInfo.processInfo.environment["VIGIE_TEST_GPIO_LINE"] ?? "") ?? 17
    let reports = Reports()
    let driver = LEDDriver(
      devices: [(.modem, .gpio(line: line, activeLow: false))], sysfsRoot: "/sys/class/leds", gpioChip: "gpiochip0",
      report: reports.add)
    #expect(await eventually("opened") { reports.first != nil })
    #expect(reports.first == [])
    driver.post { engine, now in engine.request("modem", source: "state", pattern: .on, at: now) }
    #expect(await eventually("lit") { driver.levels["modem"] == true })
    #expect(await driver.stop(waitingUpTo: .seconds(5)))
  }
}
