import Foundation
import Logging
import ServiceLifecycle
import VigieCore

/// Settings of the modem service, resolved from `[modem]` (secrets read).
public struct ModemServiceConfiguration: Sendable {
  /// `auto`, a device path, a `/dev/serial/by-id/...` link, or (with
  /// `connection = "proxyat"`) a command line.
  public var device: String
  public var connection: String
  public var pin: String?
  public var pollInterval: Duration
  public var commandTimeout: Duration
  /// How often stored SMS are read when no notification arrives.
  public var smsPollInterval: Duration
  public var gammuLogFile: String?
  /// Where sysfs is mounted (a fake tree in tests).
  public var sysfsRoot: String
  /// The USB device directory to re-authorise, when it cannot be found from
  /// the port (`proxyat`); nil to find it from the tty.
  public var usbDevice: String?
  /// How long the recovery ladder waits for the modem to come back by itself.
  public var reenumerationWait: Duration

  public init(
    device: String, connection: String = "at", pin: String?, pollInterval: Duration, commandTimeout: Duration,
    smsPollInterval: Duration = .seconds(10), gammuLogFile: String? = nil, sysfsRoot: String = "/sys",
    usbDevice: String? = nil, reenumerationWait: Duration = .seconds(20)
  ) {
    self.device = device
    self.connection = connection
    self.pin = pin
    self.pollInterval = pollInterval
    self.commandTimeout = commandTimeout
    self.smsPollInterval = smsPollInterval
    self.gammuLogFile = gammuLogFile
    self.sysfsRoot = sysfsRoot
    self.usbDevice = usbDevice
    self.reenumerationWait = reenumerationWait
  }
}

/// The modem: finds the device, opens a libgammu session, unlocks the SIM
/// safely, watches signal and registration, moves SMS between the modem and
/// the state store, and climbs the recovery ladder when the modem hangs.
public final class ModemService: Service, Sendable {
  let configuration: ModemServiceConfiguration
  let persistence: any ModemPersistence
  let sendQueue: any SMSSendQueue
  let board: ModemStatusBoard
  let logger: Logger

  public init(
    configuration: ModemServiceConfiguration, persistence: any ModemPersistence, sendQueue: any SMSSendQueue,
    board: ModemStatusBoard, logger: Logger
  ) {
    self.configuration = configuration
    self.persistence = persistence
    self.sendQueue = sendQueue
    self.board = board
    var logger = logger
    logger[metadataKey: "service"] = "modem"
    self.logger = logger
  }

  public func run() async throws {
    defer { board.update { $0.phase = .absent } }
    if configuration.connection == "proxyat" {
      // The device is a command (the tests' emulator): no udev.
      await runSessions(device: configuration.device)
      return
    }
    // The locator's changes never end by themselves: on graceful shutdown,
    // stop following them (else SIGTERM waits for shutdown_timeout).
    let locator = ModemLocator(device: configuration.device, logger: logger)
    try await cancelWhenGracefulShutdown { try await self.follow(locator) }
  }

  /// Follows the modem through udev: a session per appearance, torn down
  /// when it vanishes, resumed under whatever ttyUSB number it returns.
  /// Returns when cancelled, once the session in progress has ended: on a
  /// graceful shutdown the session stops by itself, after finishing what it
  /// is doing (an SMS the modem has just sent is recorded as sent; a
  /// cancelled session would leave it claimed, to be sent again).
  private func follow(_ locator: ModemLocator) async throws {
    var current: Task<Void, Never>?
    do {
      for try await change in locator.changes() {
        switch change {
        case .appeared(let choice):
          current?.cancel()
          await current?.value
          logger.notice("modem found", metadata: ["device": "\(choice.devicePath)", "rule": "\(choice.rule)"])
          current = Task { await self.runSessions(device: choice.devicePath) }
        case .gone(let choice, let reason):
          logger.warning("modem gone", metadata: ["device": "\(choice.devicePath)", "reason": "\(reason)"])
          current?.cancel()
          await current?.value
          current = nil
          board.update {
            $0.phase = .absent
            $0.lastError = reason
          }
        case .absent(let reason):
          board.update {
            $0.phase = .absent
            $0.lastError = reason
          }
        }
      }
    } catch {
      current?.cancel()
      await current?.value
      throw error
    }
    if !Task.isShuttingDownGracefully { current?.cancel() }
    await current?.value
  }

  /// Sessions on `device` until cancelled (the device went away) or shut
  /// down, climbing the recovery ladder between failed sessions.
  func runSessions(device: String) async {
    var failures = 0
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      let gammu = GammuConfiguration(
        device: device, connection: configuration.connection, logFile: configuration.gammuLogFile)
      board.update {
        $0.phase = .connecting
        $0.device = configuration.connection == "proxyat" ? "emulator" : device
      }
      let session = GammuSession(configuration: gammu, logger: logger)
      do {
        try await runSession(session) { failures = 0 }
        await session.close()
        return
      } catch {
        await session.close()
        if Task.isShuttingDownGracefully || Task.isCancelled { return }
        failures += 1
        let step = RecoveryStep.step(afterFailures: failures)
        board.update {
          $0.phase = .recovering
          $0.lastError = "\(error)"
        }
        logger.warning(
          "modem stopped answering", metadata: ["error": "\(error)", "failures": "\(failures)", "next_step": "\(step)"])
        await recover(step: step, device: device, failures: failures, error: error)
      }
    }
  }

  // MARK: Session

  func runSession(_ session: GammuSession, onHealthy: () -> Void) async throws {
    let timeout = configuration.commandTimeout
    let gammu = session.configuration
    let probe = try await session.perform("probing the modem", timeout: timeout * 3) { _ in
      ATProbe(configuration: gammu).run()
    }
    let simID = probe.iccid ?? "unknown-sim"
    board.update {
      $0.iccid = probe.iccid
      $0.pinAttemptsLeft = probe.pinAttemptsLeft
      $0.simState = probe.cpin
    }
    try await session.perform("connecting", timeout: timeout * 2) { try $0.connect() }
    try await unlock(session, simID: simID, attemptsLeft: probe.pinAttemptsLeft)

    let identity = try? await session.perform("identifying", timeout: timeout) { try $0.identity() }
    let imsi = try? await session.perform("reading the IMSI", timeout: timeout) { try $0.imsi() }
    do {
      try await session.perform("enabling notifications", timeout: timeout) { try $0.enableIncomingNotifications() }
    } catch {
      logger.info("no new-message notifications; reading stored SMS on a timer", metadata: ["error": "\(error)"])
    }
    board.update {
      $0.phase = .ready
      $0.model = identity?.model
      $0.manufacturer = identity?.manufacturer
      $0.imsi = imsi
      $0.simProblem = nil
      $0.lastError = nil
    }
    logger.info(
      "modem ready",
      metadata: ["model": "\(identity?.model ?? "?")", "sim": "\(simID)"])

    var nextHealth = ContinuousClock.now
    var nextSMS = ContinuousClock.now
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      let now = ContinuousClock.now
      // A reading asked for (SIGNAL, `vigie modem`) comes before the rest.
      let demanded = board.pendingPollRequest()
      if now >= nextHealth || demanded != nil {
        try await pollHealth(session, simID: simID)
        if let demanded { board.pollServed(demanded) }
        onHealthy()
        nextHealth = now.advanced(by: configuration.pollInterval)
      }
      let announced = (try? await session.perform("polling", timeout: timeout) { try $0.pollNotifications() }) ?? false
      if announced || now >= nextSMS {
        try await receive(session, simID: simID)
        nextSMS = now.advanced(by: configuration.smsPollInterval)
      }
      try await sendPending(session)
      // One second between rounds, cut short when a reading is asked for.
      for _ in 0..<10 where board.pendingPollRequest() == nil {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) }
      }
    }
  }

  /// Applies the PIN policy; returns when the SIM is ready, or throws to
  /// restart the session. When the SIM must not be touched it waits here,
  /// re-checking, so a person can unlock it by hand.
  func unlock(_ session: GammuSession, simID: String, attemptsLeft: Int?) async throws {
    let timeout = configuration.commandTimeout
    var alerted = false
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      let status = try await session.perform("reading the SIM status", timeout: timeout) { try $0.securityStatus() }
      let state: SIMLockState
      switch status {
      case .ready: state = .ready
      case .pin: state = .pinRequired
      case .puk: state = .pukRequired
      default: state = .otherCode(status.rawValue.uppercased())
      }
      board.update { $0.simState = status == .ready ? "READY" : "SIM \(status.rawValue.uppercased())" }
      let fingerprint = configuration.pin.map { PinPolicy.fingerprint(simID: simID, pin: $0) }
      let record: PinRecord? =
        if let fingerprint { try await persistence.pinRecord(simID: simID, fingerprint: fingerprint) } else { nil }
      switch PinPolicy.decide(
        state: state, configuredPIN: configuration.pin != nil, record: record, attemptsLeft: attemptsLeft)
      {
      case .nothingToDo:
        return
      case .refuse(let reason):
        board.update {
          $0.phase = .locked
          $0.simProblem = reason
        }
        if !alerted {
          logger.error("SIM locked; not entering the PIN", metadata: ["reason": "\(reason)"])
          try? await persistence.raiseAlert(key: "modem.sim.\(simID)", severity: "critical", text: "SIM: \(reason)")
          alerted = true
        }
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.configuration.pollInterval) }
      case .enter:
        let pin = configuration.pin!
        let now = Int(Date().timeIntervalSince1970)
        var attempt =
          record
          ?? PinRecord(simID: simID, fingerprint: fingerprint!, updatedAt: now)
        attempt.inFlight = true
        attempt.updatedAt = now
        try await persistence.savePinRecord(attempt)  // before the SIM sees the PIN
        logger.notice("entering the SIM PIN", metadata: ["sim": "\(simID)"])
        do {
          try await session.perform("entering the PIN", timeout: timeout) { try $0.enterPIN(pin) }
          attempt.inFlight = false
          attempt.accepted = true
          attempt.updatedAt = Int(Date().timeIntervalSince1970)
          try await persistence.savePinRecord(attempt)
          logger.notice("SIM PIN accepted")
          // The SIM takes a moment to become ready.
          try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(2)) }
        } catch let error as ModemError where error.code == .securityError {
          attempt.inFlight = false
          attempt.rejected = true
          attempt.updatedAt = Int(Date().timeIntervalSince1970)
          try await persistence.savePinRecord(attempt)
          logger.error("the SIM rejected the configured PIN; it will not be tried again", metadata: ["sim": "\(simID)"])
          try? await persistence.raiseAlert(
            key: "modem.pin.\(simID)", severity: "critical",
            text: "SIM rejected the configured PIN; Vigie will not retry it. Fix [modem] pin_file.")
        }
      // Any other error leaves the attempt in flight: counted as failed
      // unless the PIN was accepted before (see PinPolicy).
      }
    }
  }

  func pollHealth(_ session: GammuSession, simID: String) async throws {
    let timeout = configuration.commandTimeout
    let signal: SignalQuality
    do {
      signal = try await session.perform("reading the signal", timeout: timeout) { try $0.signalQuality() }
    } catch let error as ModemError where error.code == .securityError {
      // E1750-class keys reset after a timeout and ask for the PIN again.
      logger.warning("the SIM asks for its PIN again (modem reset)")
      try await unlock(session, simID: simID, attemptsLeft: nil)
      return
    }
    let network = try? await session.perform("reading the network", timeout: timeout) { try $0.networkStatus() }
    board.update {
      $0.signalDBm = signal.dBm
      $0.signalPercent = signal.percent
      $0.registration = network?.registration.rawValue
      $0.operatorName = network?.operatorName
      $0.operatorCode = network?.operatorCode
      $0.lastSeen = Int(Date().timeIntervalSince1970)
      $0.phase = .ready
    }
    try? await persistence.recordHealth(board.snapshot)
  }

  /// Reads every stored message, stores it durably, then deletes it from the
  /// modem. Nothing is deleted unless it was stored first.
  func receive(_ session: GammuSession, simID: String) async throws {
    let timeout = configuration.commandTimeout
    let parts = try await session.perform("reading SMS", timeout: timeout * 4) { try $0.readAllSMS() }
    guard !parts.isEmpty else { return }
    try await persistence.storeIncoming(parts, simID: simID)
    for part in parts {
      do {
        try await session.perform("deleting SMS", timeout: timeout) { try $0.delete(part) }
      } catch {
        logger.warning(
          "could not delete a stored SMS; it is kept and ignored next time", metadata: ["error": "\(error)"])
      }
    }
    let received = parts.filter { $0.kind == .deliver }.count
    board.update { $0.smsReceived += received }
    logger.info("SMS received", metadata: ["parts": "\(parts.count)"])
  }

  /// Sends what the SMS outbox holds, one message at a time.
  ///
  /// When the session dies under a send (the modem unplugged, hung or
  /// reset), that message and the ones claimed with it go back to the queue
  /// at once, their attempt not counted, for the next session: they would
  /// otherwise wait for their lease (5 minutes) to expire.
  func sendPending(_ session: GammuSession) async throws {
    let messages = try await sendQueue.claim(limit: 5)
    for (index, sms) in messages.enumerated() {
      do {
        let references = try await session.perform("sending SMS", timeout: configuration.commandTimeout * 4) {
          try $0.send(
            text: sms.text, to: sms.to, unicode: sms.unicode, multipart: sms.multipart,
            confirmation: self.configuration.commandTimeout * 2)
        }
        try await sendQueue.sent(sms, references: references)
        board.update { $0.smsSent += 1 }
        logger.info("SMS sent", metadata: ["to": "\(sms.to)", "parts": "\(references.count)"])
      } catch let error as ModemError where error.endsSession {
        for unsent in messages[index...] { try? await sendQueue.release(unsent, reason: "\(error)") }
        logger.warning(
          "SMS not sent: the modem session ended; queued again for the next session",
          metadata: ["to": "\(sms.to)", "error": "\(error)", "released": "\(messages.count - index)"])
        throw error
      } catch let error as ModemError {
        try await sendQueue.failed(sms, reason: "\(error)", retryable: true)
        logger.warning("SMS not sent; will retry", metadata: ["to": "\(sms.to)", "error": "\(error)"])
      } catch {
        for unsent in messages[(index + 1)...] { try? await sendQueue.release(unsent, reason: "\(error)") }
        throw error
      }
    }
  }

  // MARK: Recovery

  func recover(step: RecoveryStep, device: String, failures: Int, error: any Error) async {
    logger.notice("recovery step", metadata: ["step": "\(step)"])
    board.update {
      $0.lastRecoveryStep = step.rawValue
      $0.lastRecoveryAt = Int(Date().timeIntervalSince1970)
    }
    switch step {
    case .reconnect:
      break  // the next session starts with a fresh state machine
    case .softReset:
      // Raw AT on a port of its own, on a thread of its own (blocking I/O).
      let session = GammuSession(
        configuration: GammuConfiguration(device: device, connection: configuration.connection), logger: logger)
      let gammu = session.configuration
      let timeout = configuration.commandTimeout
      let acknowledged =
        (try? await session.perform("resetting the modem", timeout: timeout * 4) { _ in
          ATProbe(configuration: gammu, timeout: timeout).softReset()
        }) ?? false
      await session.close()
      if acknowledged {
        logger.notice("soft reset sent (AT+CFUN=1,1)")
      } else {
        logger.warning("soft reset not acknowledged (AT+CFUN=1,1)")
      }
    case .waitForReenumeration:
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.configuration.reenumerationWait) }
    case .usbReauthorize:
      let usb =
        configuration.usbDevice.map { USBDevice(sysfsPath: $0) }
        ?? (configuration.connection == "proxyat"
          ? nil : USBDevice(ttyPath: device, sysfsRoot: configuration.sysfsRoot))
      if let usb {
        let result = await usb.reauthorize()
        logger.notice("USB re-authorisation", metadata: ["device": "\(usb.sysfsPath)", "result": "\(result)"])
      } else {
        logger.notice("USB re-authorisation skipped: no USB device behind the port")
      }
    case .alert:
      try? await persistence.raiseAlert(
        key: "modem.unresponsive", severity: "critical",
        text: "The modem does not answer after reconnect, reset and USB power-cycle: \(error)")
    }
    let pause = Backoff(base: .seconds(2), factor: 2, cap: .seconds(300), jitter: 0.3).delay(attempt: failures)
    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
  }
}

/// The USB device a tty belongs to, for the software power-cycle.
struct USBDevice {
  let sysfsPath: String

  init(sysfsPath: String) { self.sysfsPath = sysfsPath }

  /// The USB device behind `ttyPath` (a `/dev/ttyUSB2` or a link to it),
  /// found in the sysfs mounted at `sysfsRoot`.
  init?(ttyPath: String, sysfsRoot: String = "/sys") {
    let name = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: ttyPath)) ?? ttyPath)
      .lastPathComponent
    let link = "\(sysfsRoot)/class/tty/\(name)/device"
    guard let resolved = Optional(URL(fileURLWithPath: link).resolvingSymlinksInPath().path) else { return nil }
    // .../usb1/1-1/1-1:1.0/ttyUSB0 → the device directory is the parent of the interface (1-1).
    var url = URL(fileURLWithPath: resolved)
    while url.path != "/" && url.path.hasPrefix(sysfsRoot) {
      if FileManager.default.fileExists(atPath: url.appendingPathComponent("authorized").path),
        FileManager.default.fileExists(atPath: url.appendingPathComponent("idVendor").path)
      {
        sysfsPath = url.path
        return
      }
      url.deleteLastPathComponent()
    }
    return nil
  }

  /// Writes 0 then 1 to `authorized`: the kernel unbinds and rebinds the
  /// device, like unplugging it.
  /// The pause between the two writes is an async sleep: this runs on the
  /// cooperative pool, which must never block.
  func reauthorize() async -> String {
    let path = sysfsPath + "/authorized"
    do {
      try "0".write(toFile: path, atomically: false, encoding: .ascii)
      try? await Task.sleep(for: .seconds(1))
      try "1".write(toFile: path, atomically: false, encoding: .ascii)
      return "done"
    } catch {
      return "failed: \(error.localizedDescription)"
    }
  }
}
