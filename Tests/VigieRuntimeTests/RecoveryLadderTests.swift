import Foundation
import GRDB
import Logging
import Synchronization
import Testing
import VigieCore

@testable import VigieModem
@testable import VigieRuntime

/// Each step of the modem's recovery ladder on its own, against the real
/// libgammu and the AT modem emulator (`proxyat`): the step runs, says so
/// (log line, `lastRecoveryStep` on the board, the emulator's own record),
/// and the SMS service works again afterwards.
@Suite(
  "modem recovery ladder", .serialized,
  .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/gammu"), "libgammu's gammu package is not installed"))
struct RecoveryLadderTests {
  static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Emulators/atmodem/atmodem.py").standardized.path
  static let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"

  /// Log lines, kept for the assertions.
  final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    func contains(_ text: String) -> Bool { all.contains { $0.contains(text) } }
  }

  struct Handler: LogHandler {
    let sink: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
      get { metadata[key] }
      set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
      var merged = metadata
      if let extra = event.metadata { merged.merge(extra) { _, new in new } }
      let fields = merged.keys.sorted().map { "\($0)=\(merged[$0]!)" }.joined(separator: " ")
      sink.append("\(event.message) \(fields)")
    }
  }

  final class Fixture {
    let directory: String
    let state: String
    let store: StateStore
    let outbox: Outbox
    let modemStore: ModemStore
    let board = ModemStatusBoard()
    let logs = LogLines()
    var configuration: ModemServiceConfiguration

    init() throws {
      directory = NSTemporaryDirectory() + "vigie-ladder-\(UUID().uuidString)"
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      state = directory + "/modem.json"
      store = try StateStore.open(
        at: directory + "/state", migrations: ModemStore.migrations + SMSStore.migrations, logger: quietLogger)
      outbox = Outbox(store: store)
      modemStore = ModemStore(store: store, outbox: outbox)
      configuration = ModemServiceConfiguration(
        device:
          "\(RecoveryLadderTests.python) \(RecoveryLadderTests.script) --state \(state) --log \(directory)/at.log",
        connection: "proxyat", pin: "1234", pollInterval: .seconds(2), commandTimeout: .seconds(5),
        smsPollInterval: .seconds(1))
      try ctl("init")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    var service: ModemService {
      let logs = self.logs
      return ModemService(
        configuration: configuration, persistence: modemStore, sendQueue: modemStore, board: board,
        logger: Logger(label: "test") { _ in Handler(sink: logs) })
    }

    @discardableResult
    func ctl(_ op: String, _ arguments: String...) throws -> [String: Any] {
      try RecoveryLadderTests.ctl(state: state, op, arguments)
    }

    func events(_ name: String) throws -> Int {
      let events = try ctl("events")["events"] as? [[String: Any]] ?? []
      return events.filter { $0["event"] as? String == name }.count
    }

    func sentTexts() throws -> [String] {
      (try ctl("sent")["messages"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
    }

    func receivedTexts() async throws -> [String] {
      try await store.database.read { db in try String.fetchAll(db, sql: "SELECT text FROM sms_parts ORDER BY id") }
    }

    /// The bound only catches a hang: the service runs on the cooperative
    /// pool, which the integration suites in the same process block at times.
    func waitFor(_ what: String, timeout: Duration = .seconds(240), _ condition: () async throws -> Bool) async throws {
      let deadline = ContinuousClock.now.advanced(by: timeout)
      while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(200))
      }
      if try await condition() { return }
      throw FixtureError("timed out waiting for \(what); log:\n" + logs.all.suffix(30).joined(separator: "\n"))
    }

    /// Runs sessions (as the daemon does) and checks that the SMS service
    /// works both ways: an SMS delivered to the modem lands in the state
    /// store, an SMS queued is sent.
    func expectSMSServiceWorks(_ tag: String) async throws {
      let service = self.service
      let device = configuration.device
      let sessions = Task { await service.runSessions(device: device) }
      defer { sessions.cancel() }
      try await waitFor("the modem to be ready") { board.snapshot.phase == .ready }
      try ctl("deliver", "from=+33612345678", "text=in \(tag)")
      try await waitFor("the SMS received") { try await receivedTexts().contains("in \(tag)") }
      let payload = try JSONEncoder().encode(
        ModemStore.OutgoingPayload(to: "+33612345678", text: "out \(tag)", unicode: false, multipart: false))
      _ = try await outbox.enqueue(queue: ModemStore.smsQueue, key: "out-\(tag)", payload: payload)
      try await waitFor("the SMS sent") { try sentTexts().contains("out \(tag)") }
      sessions.cancel()
      await sessions.value
    }
  }

  /// `atmodem.py ctl --state STATE OP ARGS...` (or `init`), its JSON answer.
  @discardableResult
  static func ctl(state: String, _ op: String, _ arguments: [String] = []) throws -> [String: Any] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    let command = op == "init" ? ["init", "--state", state] : ["ctl", "--state", state, op] + arguments
    process.arguments = [script] + command
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw FixtureError("atmodem.py \(command) failed") }
    if op == "init" { return [:] }
    return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
  }

  struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
  }

  @Test("reconnect: a hang that a new connection cures; the next session works")
  func reconnect() async throws {
    let f = try Fixture()
    let service = f.service
    let device = f.configuration.device
    let sessions = Task { await service.runSessions(device: device) }
    defer { sessions.cancel() }
    try await f.waitFor("the modem to be ready") { f.board.snapshot.phase == .ready }
    let before = try f.ctl("state")["state"] as? [String: Any]
    let opened = (before?["counters"] as? [String: Any])?["sessions"] as? Int ?? 0
    // Signal queries go unanswered until the port is opened again. (A total
    // silence can be cured inside the session: after a deadline libgammu's
    // state machine is replaced, which reopens the port.)
    try f.ctl("fault", "kind=hang", #"match=\+CSQ"#, "clear_on=reopen")
    try await f.waitFor("the reconnect step") { f.logs.contains("recovery step service=modem step=reconnect") }
    #expect(f.board.snapshot.lastRecoveryStep == "reconnect")
    try await f.waitFor("the modem to be ready again") { f.board.snapshot.phase == .ready }
    let after = try f.ctl("state")["state"] as? [String: Any]
    #expect(((after?["counters"] as? [String: Any])?["sessions"] as? Int ?? 0) > opened, "no new connection")
    #expect(try f.events("reset") == 0, "a reconnect must not reset the modem")
    sessions.cancel()
    await sessions.value
    try await f.expectSMSServiceWorks("reconnect")
  }

  @Test("soft reset: AT+CFUN=1,1 cures a hang declared curable by a reset; SMS flow again")
  func softReset() async throws {
    let f = try Fixture()
    try await f.expectSMSServiceWorks("before")
    // The key stops answering signal queries until it is reset.
    try f.ctl("fault", "kind=hang", #"match=\+CSQ"#, "clear_on=reset")
    let resets = try f.events("reset")
    await f.service.recover(
      step: .softReset, device: f.configuration.device, failures: 1, error: ModemError(.timeout, "test"))
    #expect(f.logs.contains("recovery step service=modem step=softReset"))
    #expect(f.logs.contains("soft reset sent (AT+CFUN=1,1)"))
    #expect(f.board.snapshot.lastRecoveryStep == "softReset")
    #expect(try f.events("reset") == resets + 1, "the modem was not reset")
    let at = (try? String(contentsOfFile: f.directory + "/at.log", encoding: .utf8)) ?? ""
    #expect(at.contains("AT+CFUN=1,1"))
    let faults = (try f.ctl("state")["state"] as? [String: Any])?["faults"] as? [String: Any] ?? [:]
    #expect(faults["hang"] == nil, "the reset did not cure the hang")
    try await f.expectSMSServiceWorks("after")
    #expect(try f.events("pin_ok") == 2, "the PIN is entered again after the reset, once")
  }

  @Test("waiting for re-enumeration: a modem that drops off the bus comes back and works")
  func waitForReenumeration() async throws {
    let f = try Fixture()
    f.configuration.reenumerationWait = .seconds(3)
    try f.ctl("fault", "kind=vanish", "ms=2000")
    let started = ContinuousClock.now
    await f.service.recover(
      step: .waitForReenumeration, device: f.configuration.device, failures: 1,
      error: ModemError(.deviceUnavailable, "test"))
    #expect(started.duration(to: .now) >= .seconds(3))
    #expect(f.logs.contains("recovery step service=modem step=waitForReenumeration"))
    #expect(f.board.snapshot.lastRecoveryStep == "waitForReenumeration")
    try await f.expectSMSServiceWorks("after")
  }

  @Test("USB re-authorisation: 0 then 1 written to the device's authorized file; the modem comes back and works")
  func usbReauthorize() async throws {
    let f = try Fixture()
    // A fake sysfs: the tty's device link leads to the USB interface, whose
    // parent is the USB device with `authorized` (a FIFO here, to see each
    // write) and `idVendor`.
    let sys = f.directory + "/sys"
    let usb = sys + "/devices/platform/soc/usb1/1-1"
    try FileManager.default.createDirectory(atPath: usb + "/1-1:1.0/ttyUSB0", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: sys + "/class/tty/ttyUSB0", withIntermediateDirectories: true)
    try "12d1\n".write(toFile: usb + "/idVendor", atomically: true, encoding: .ascii)
    try FileManager.default.createSymbolicLink(
      atPath: sys + "/class/tty/ttyUSB0/device", withDestinationPath: "../../../devices/platform/soc/usb1/1-1/1-1:1.0")
    #expect(mkfifo(usb + "/authorized", 0o600) == 0)
    #expect(USBDevice(ttyPath: "/dev/ttyUSB0", sysfsRoot: sys)?.sysfsPath == usb)
    #expect(USBDevice(ttyPath: "/dev/ttyUSB7", sysfsRoot: sys) == nil)

    // The modem hangs in a way only a power cycle cures.
    try f.ctl("fault", "kind=hang")
    f.configuration.usbDevice = usb
    // The "kernel", on its own thread (opening a FIFO blocks): reads each
    // write; on 0 the device is unbound (the emulator is power-cycled, as a
    // USB reset would do).
    let state = f.state
    let kernel = Kernel(
      path: usb + "/authorized", onUnbind: { _ = try? RecoveryLadderTests.ctl(state: state, "power_cycle") })
    await f.service.recover(
      step: .usbReauthorize, device: f.configuration.device, failures: 1, error: ModemError(.timeout, "test"))
    #expect(kernel.writes(count: 2) == ["0", "1"])
    #expect(f.logs.contains("USB re-authorisation device=\(usb) result=done service=modem"))
    #expect(f.board.snapshot.lastRecoveryStep == "usbReauthorize")
    try await f.expectSMSServiceWorks("after")
  }

  /// Reads `count` writes of a FIFO on a thread of its own.
  final class Kernel: Sendable {
    private let seen = Mutex<[String]>([])
    private let done = DispatchSemaphore(value: 0)

    init(path: String, onUnbind: @escaping @Sendable () -> Void) {
      Thread.detachNewThread { [self] in
        for _ in 0..<2 {
          let fd = open(path, O_RDONLY)
          guard fd >= 0 else { break }
          var bytes: [UInt8] = []
          var buffer = [UInt8](repeating: 0, count: 64)
          while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
          }
          close(fd)
          let text = String(decoding: bytes, as: UTF8.self)
          self.seen.withLock { $0.append(text) }
          if text == "0" { onUnbind() }
        }
        self.done.signal()
      }
    }

    func writes(count: Int) -> [String] {
      _ = done.wait(timeout: .now() + 30)
      return seen.withLock { $0 }
    }
  }

  @Test("the last step: an alert is queued, once per hour")
  func alert() async throws {
    let f = try Fixture()
    for _ in 0..<2 {
      await f.service.recover(
        step: .alert, device: f.configuration.device, failures: 1, error: ModemError(.timeout, "no answer"))
    }
    let alerts = try await f.store.database.read { db in
      try Data.fetchAll(db, sql: "SELECT payload FROM outbox WHERE queue = ?", arguments: [ModemStore.alertQueue])
    }
    #expect(alerts.count == 1)
    let text = try #require(alerts.first.flatMap { try JSONSerialization.jsonObject(with: $0) as? [String: Any] })
    #expect((text["text"] as? String)?.hasPrefix("The modem does not answer after reconnect, reset and USB") == true)
    #expect(f.board.snapshot.lastRecoveryStep == "alert")
  }
}
