import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import VigieCore
import VigieFileDrop
import VigieLights
import VigieModem
import VigieStatus
import VigieWatchdog

/// Options of `vigie run` that override the configuration.
public struct DaemonOptions: Sendable {
  /// The configuration file; nil means `/etc/vigie/vigie.toml` (defaults when absent).
  public var configPath: String?
  /// Overrides `[daemon] state_dir`.
  public var stateDir: String?

  public init(configPath: String? = nil, stateDir: String? = nil) {
    self.configPath = configPath
    self.stateDir = stateDir
  }

  /// The configuration with the command-line overrides applied.
  func apply(to config: VigieConfig) -> VigieConfig {
    var config = config
    if let stateDir { config.daemon.stateDir = stateDir }
    return config
  }
}

/// `vigie run`: the supervisor. Builds every service from the configuration,
/// runs them in one ServiceGroup, reloads on SIGHUP, stops on SIGTERM/SIGINT.
public final class Daemon: Sendable {
  public let options: DaemonOptions
  public let board: ServiceBoard
  private let config: Mutex<VigieConfig>
  private let started = ContinuousClock.now
  let logger: Logger
  private let slots: [(name: String, service: SupervisedService<ContinuousClock>)]
  private let registry: Mutex<CommandRegistry?> = Mutex(nil)
  /// Live modem state, for STATUS and `vigie modem`.
  public let modemBoard = ModemStatusBoard()
  /// Live watchdog targets, for STATUS.
  public let watchdogBoard = WatchdogBoard()
  /// The running LED service, for `vigie leds test`.
  private let lights = Mutex<LightsService?>(nil)
  /// `/metrics`, kept across scrapes (counters only grow).
  let metrics = MetricsExporter(version: VigieVersion.string)
  /// Live chat links, for STATUS and the alert router's SMS fallback.
  public let chatBoard = ChatBoard()
  /// Silences, maintenance and open problems (chat commands and the router).
  public let alertControl: AlertControl
  /// Opened by `run()` before any service starts.
  let resources = Mutex<Resources?>(nil)

  struct Resources: Sendable {
    let store: StateStore
    let outbox: Outbox
    let modemStore: ModemStore
    let smsStore: SMSStore
    let shareStore: ShareStore
    let registry: CommandRegistry
  }

  /// The state store and queues, once `run()` opened them.
  var openResources: Resources? { resources.withLock { $0 } }

  public init(options: DaemonOptions, config: VigieConfig, logger: Logger) {
    self.options = options
    let config = options.apply(to: config)
    self.config = Mutex(config)
    self.logger = logger
    self.alertControl = AlertControl(path: config.daemon.stateDir + "/alert-control.json")
    let board = ServiceBoard()
    self.board = board
    let daemon = config.daemon
    let backoff = Backoff(base: .seconds(1), factor: 2, cap: daemon.restartBackoffMax, jitter: 0.3)
    var slots: [(String, SupervisedService<ContinuousClock>)] = []
    board.set("store", .starting)
    for subsystem in VigieConfig.subsystems {
      slots.append(
        (
          subsystem.rawValue,
          SupervisedService(
            name: subsystem.rawValue, spec: Self.spec(for: subsystem, config: config), board: board, backoff: backoff,
            healthyAfter: daemon.healthyAfter, clock: ContinuousClock(), logger: logger)
        ))
    }
    self.slots = slots
  }

  /// Before `run()` opens the state store nothing can run.
  static func spec(for subsystem: Subsystem, config: VigieConfig) -> ServiceSpec {
    .missing(enabled: config.isEnabled(subsystem), fingerprint: config.fingerprint(of: subsystem))
  }

  /// What runs for `subsystem` under `config`. Subsystems this build does
  /// not have yet say so in STATUS instead of pretending to run.
  func spec(for subsystem: Subsystem, config: VigieConfig) -> ServiceSpec {
    let enabled = config.isEnabled(subsystem)
    let fingerprint = config.fingerprint(of: subsystem)
    guard let resources = resources.withLock({ $0 }) else { return Self.spec(for: subsystem, config: config) }
    let logger = self.logger
    switch subsystem {
    case .modem:
      let section = config.modem
      let board = modemBoard
      if !enabled { board.update { $0.phase = .disabled } }
      return ServiceSpec(enabled: enabled, fingerprint: fingerprint) {
        let pin: String? =
          !section.pinFile.isEmpty ? try SecretFile.read(section.pinFile) : section.pin.isEmpty ? nil : section.pin
        return ModemService(
          configuration: ModemServiceConfiguration(
            device: section.device, connection: section.connection.rawValue, pin: pin,
            pollInterval: section.pollInterval, commandTimeout: section.commandTimeout,
            smsPollInterval: section.smsPollInterval, gammuLogFile: section.gammuLog.isEmpty ? nil : section.gammuLog),
          persistence: resources.modemStore, sendQueue: resources.modemStore, board: board, logger: logger)
      }
    case .watchdog:
      let section = config.watchdog
      let site = config.daemon.name
      let board = watchdogBoard
      return ServiceSpec(enabled: enabled, fingerprint: fingerprint) {
        WatchdogService(config: section, siteName: site, board: board, alerts: resources.modemStore, logger: logger)
      }
    case .alerts:
      let section = config.alerts
      let smsSection = config.sms
      let ircSection = config.irc
      let site = config.daemon.name
      let (control, chat) = (alertControl, chatBoard)
      return ServiceSpec(
        enabled: enabled, fingerprint: fingerprint + config.fingerprint(of: .sms) + config.fingerprint(of: .irc)
      ) {
        AlertRouterService(
          config: section, sms: smsSection, irc: ircSection, siteName: site, outbox: resources.outbox,
          smsStore: resources.smsStore, control: control, chat: chat, logger: logger)
      }
    case .irc:
      let section = config.irc
      let alertsSection = config.alerts
      let smsSection = config.sms
      let chat = chatBoard
      if !enabled { chat.setIRC(nil) }
      // It reads [alerts] (group window) and [sms] (codes) too; a disabled
      // client does not restart for them.
      let shared = enabled ? config.fingerprint(of: .alerts) + config.fingerprint(of: .sms) : ""
      return ServiceSpec(enabled: enabled, fingerprint: fingerprint + shared) {
        try IRCChatService(
          config: section, alerts: alertsSection, sms: smsSection, outbox: resources.outbox,
          smsStore: resources.smsStore, registry: resources.registry, board: chat, logger: logger)
      }
    case .sms:
      let section = config.sms
      return ServiceSpec(enabled: enabled, fingerprint: fingerprint) {
        SMSGatewayService(
          configuration: try SMSGatewayConfiguration(section), store: resources.smsStore,
          registry: resources.registry, logger: logger)
      }
    case .leds:
      let section = config.leds
      let modemEnabled = config.modem.enabled
      let alertsEnabled = config.alerts.enabled
      let alertControl = self.alertControl
      let (board, modemBoard, watchdogBoard) = (self.board, self.modemBoard, self.watchdogBoard)
      return ServiceSpec(enabled: enabled, fingerprint: fingerprint) {
        let service = LightsService(
          config: section,
          input: {
            Self.lightsInput(
              modem: modemEnabled ? modemBoard.snapshot : nil, targets: watchdogBoard.snapshot,
              unacknowledged: alertsEnabled
                ? alertControl.snapshot.problems.open.values.count { !$0.acknowledged } : nil,
              weakBelow: section.weakSignalBelow)
          },
          problems: { problems in
            board.set("leds", problems.isEmpty ? .running : .degraded(problems.joined(separator: "; ")))
          }, logger: logger)
        // The daemon lives as long as the process: a strong reference is fine.
        self.lights.withLock { $0 = service }
        return service
      }
    case .status:
      let section = config.status
      guard case .success(let address) = ListenAddress.parse(section.listen) else {
        // Empty `listen`: the file drop's server serves the page under
        // /~status/ (see `.filedrop`); this slot only says where it is.
        let board = self.board
        let where_: ServiceState =
          config.filedrop.enabled
          ? .running : .degraded("no server: set [status] listen, or enable [filedrop] (it serves /~status/)")
        return ServiceSpec(enabled: enabled, fingerprint: fingerprint + config.fingerprint(of: .filedrop)) {
          PlaceholderService { board.set("status", where_) }
        }
      }
      return ServiceSpec(enabled: enabled, fingerprint: fingerprint) {
        let password = section.adminPasswordFile.isEmpty ? nil : try SecretFile.read(section.adminPasswordFile)
        // The daemon lives as long as the process: strong references are fine.
        return StatusServer(
          listen: address, provider: self.statusProvider(), access: StatusAccess(adminPassword: password),
          metrics: section.metrics, logger: logger)
      }
    case .filedrop:
      let section = config.filedrop
      let status = config.status
      let servesStatus = status.enabled && status.listen.isEmpty
      return ServiceSpec(enabled: enabled, fingerprint: fingerprint + config.fingerprint(of: .status)) {
        var mounted: FileDropService.MountedResponder?
        if servesStatus {
          let password = status.adminPasswordFile.isEmpty ? nil : try SecretFile.read(status.adminPasswordFile)
          let router = Router(context: DropContext.self)
          // The daemon lives as long as the process: a strong reference is fine.
          addStatusRoutes(
            to: router, prefix: Self.statusPrefix + "/", provider: self.statusProvider(),
            access: StatusAccess(adminPassword: password), metrics: status.metrics)
          mounted = .init(prefix: Self.statusPrefix, responder: router.buildResponder())
        }
        return FileDropService(
          settings: try FileDropSettings(section), shares: resources.shareStore, mounted: mounted, logger: logger)
      }
    default:
      return .missing(enabled: enabled, fingerprint: fingerprint)
    }
  }

  /// Where the file drop's server serves the status page.
  static let statusPrefix = "/~status"

  /// The status page's view of the daemon.
  func statusProvider() -> StatusProvider {
    StatusProvider(
      model: { await self.statusPageModel() },
      metrics: {
        let config = self.currentConfig
        let queues = (try? await self.openResources?.outbox.counts()) ?? [:]
        return self.metrics.render(
          report: self.statusReport(), modem: config.modem.enabled ? self.modemBoard.snapshot : nil,
          targets: self.watchdogBoard.snapshot, queues: queues)
      },
      run: { command in
        guard let registry = self.registry.withLock({ $0 }) else { return (false, "starting") }
        let reply = await registry.execute(
          command, as: Principal(transport: .web, identity: "admin", level: .admin))
        return (reply.ok, reply.text)
      })
  }

  /// What the LEDs show. An open alert is a problem the router holds open
  /// and nobody acknowledged (`ACK`), or, with the router off, a target
  /// DOWN; a SIM Vigie cannot unlock counts too.
  static func lightsInput(
    modem: ModemSnapshot?, targets: [WatchdogBoard.Row], unacknowledged: Int?, weakBelow: Int
  ) -> LightsInput {
    let down = targets.count { $0.state == .down }
    let locked = modem?.phase == .locked
    return LightsInput(
      modem: modem.map { ModemLight($0, weakBelow: weakBelow) } ?? .absent, targetsDown: down,
      targetsUp: targets.count { $0.state == .up }, targetsWatched: targets.count,
      openAlerts: (unacknowledged ?? down) + (locked ? 1 : 0),
      activity: (modem?.smsReceived ?? 0) + (modem?.smsSent ?? 0))
  }

  /// The current configuration (after reloads).
  public var currentConfig: VigieConfig { config.withLock { $0 } }

  /// Runs until SIGTERM/SIGINT. Throws when startup fails (state directory,
  /// state database, control socket).
  public func run() async throws {
    let config = currentConfig
    umask(0o027)
    try Self.prepareDirectory(config.daemon.stateDir, what: "state directory")
    let lock = try Self.lockStateDirectory(config.daemon.stateDir)
    defer { close(lock) }
    try ControlServer.prepare(path: config.daemon.controlSocketPath)
    let store = try StateStore.open(
      at: config.daemon.stateDir, migrations: ModemStore.migrations + SMSStore.migrations + ShareStore.migrations,
      logger: logger)
    defer { try? store.close() }
    let integrity = try await store.integrityCheck()
    if !integrity.isOK {
      logger.critical(
        "the state database is damaged; queues may have lost items",
        metadata: ["path": "\(store.path)", "problems": "\(integrity.problems.prefix(5).joined(separator: "; "))"])
    }
    let outbox = Outbox(store: store)
    let registry = CommandRegistry(commands(), logger: logger)
    self.registry.withLock { $0 = registry }
    resources.withLock {
      $0 = Resources(
        store: store, outbox: outbox, modemStore: ModemStore(store: store, outbox: outbox),
        smsStore: SMSStore(store: store, outbox: outbox), shareStore: ShareStore(store: store), registry: registry)
    }
    for (name, slot) in slots {
      if let subsystem = Subsystem(rawValue: name) { slot.update(spec(for: subsystem, config: config)) }
    }
    if let counts = try? await outbox.counts(), !counts.isEmpty {
      for (queue, count) in counts.sorted(by: { $0.key < $1.key }) where count.pending + count.leased + count.dead > 0 {
        logger.notice(
          "queue carried over from the last run",
          metadata: ["queue": "\(queue)", "pending": "\(count.pending + count.leased)", "dead": "\(count.dead)"])
      }
    }
    board.set("store", integrity.isOK ? .running : .degraded("database damaged: see the log"))

    let controlPath = config.daemon.controlSocketPath
    let controlLevel = config.daemon.controlLevel
    let logger = self.logger
    let control = SupervisedService(
      name: "control",
      spec: ServiceSpec(enabled: true, fingerprint: "\(controlPath) \(controlLevel)") {
        // The daemon lives as long as the process: a strong reference is fine.
        ControlServer(
          path: controlPath, level: controlLevel, registry: registry, status: { self.statusReport() },
          operations: { request, principal in await self.control(request, principal: principal) }, logger: logger)
      },
      board: board, backoff: .supervisorDefault, healthyAfter: config.daemon.healthyAfter, clock: ContinuousClock(),
      logger: logger)

    var services: [ServiceGroupConfiguration.ServiceConfiguration] = slots.map {
      .init(
        service: $0.service, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup)
    }
    services.append(.init(service: control, successTerminationBehavior: .ignore))
    services.append(.init(service: ReloadService(daemon: self, logger: logger)))
    services.append(.init(service: SystemdService(notifier: SystemdNotifier(), board: board, logger: logger)))

    var groupConfiguration = ServiceGroupConfiguration(
      services: services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
    groupConfiguration.maximumGracefulShutdownDuration = config.daemon.shutdownTimeout
    groupConfiguration.maximumCancellationDuration = .seconds(1)
    let group = ServiceGroup(configuration: groupConfiguration)
    logger.notice(
      "vigie \(VigieVersion.string) starting",
      metadata: [
        "site": "\(config.daemon.name)", "state_dir": "\(config.daemon.stateDir)", "control": "\(controlPath)",
      ])
    try await group.run()
    logger.notice("vigie stopped")
  }

  /// Reloads the configuration file: services whose section changed restart,
  /// the others keep running. An invalid file changes nothing.
  public func reload() {
    let loaded: LoadedConfig
    do {
      loaded = try ConfigLoader.load(path: options.configPath)
    } catch {
      logger.error("reload refused; keeping the running configuration", metadata: ["problems": "\(error)"])
      return
    }
    let new = options.apply(to: loaded.config)
    let old = config.withLock { current in
      let old = current
      current = new
      return old
    }
    var restarted: [String] = []
    for (name, slot) in slots {
      guard let subsystem = Subsystem(rawValue: name) else { continue }
      if slot.update(spec(for: subsystem, config: new)) { restarted.append(name) }
    }
    var needsRestart: [String] = []
    for field in DaemonConfig.fields where field.renderedValue(in: old.daemon) != field.renderedValue(in: new.daemon) {
      needsRestart.append("daemon.\(field.name)")
    }
    if !needsRestart.isEmpty {
      logger.warning(
        "these settings apply at the next start of vigie", metadata: ["keys": "\(needsRestart.joined(separator: ","))"])
    }
    for warning in loaded.warnings { logger.warning("\(warning)") }
    logger.notice(
      "configuration reloaded",
      metadata: ["restarted": "\(restarted.isEmpty ? "none" : restarted.joined(separator: ","))"])
  }

  /// What STATUS shows.
  public func statusReport() -> StatusReport {
    let config = currentConfig
    var details: [String] = []
    if config.watchdog.enabled, let targets = watchdogBoard.summary { details.append(targets) }
    if config.irc.enabled, let chat = chatBoard.summary { details.append(chat) }
    let all = HostInfo.addresses()  // one getifaddrs per STATUS
    let addresses = (all.filter { !$0.isIPv6 } + all.filter(\.isIPv6)).map { "\($0.interface) \($0.address)" }
    return StatusReport(
      site: config.daemon.name, version: VigieVersion.string,
      uptimeSeconds: Int(started.duration(to: .now).components.seconds), services: board.snapshot(),
      modem: config.modem.enabled ? modemBoard.snapshot : nil,
      wan: config.watchdog.enabled ? watchdogBoard.wan : nil, addresses: addresses,
      disk: HostInfo.disk(at: config.daemon.stateDir).map { DiskSpace(free: $0.free, total: $0.total) },
      details: details, utcOffset: TimeZone.current.secondsFromGMT())
  }

  // MARK: Control operations

  func control(_ request: ControlProtocol.Request, principal: Principal) async -> ControlProtocol.Response {
    switch request.op {
    case .modem:
      let fresh =
        request.fresh == true && currentConfig.modem.enabled && modemBoard.snapshot.phase == .ready
        ? await modemBoard.freshReading(deadline: Self.freshReadingDeadline) : false
      let snapshot = modemBoard.snapshot
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      let json = (try? encoder.encode(snapshot)).map { String(decoding: $0, as: UTF8.self) }
      return ControlProtocol.Response(
        ok: true, text: Self.describe(snapshot, now: Int(Date().timeIntervalSince1970), fresh: fresh), data: json)
    case .pinRetry:
      guard let store = resources.withLock({ $0?.modemStore }) else {
        return ControlProtocol.Response(ok: false, text: "the state store is not open")
      }
      do {
        let cleared = try await store.clearInterruptedPinAttempts()
        logger.notice("interrupted PIN attempts cleared", metadata: ["by": "\(principal)", "count": "\(cleared)"])
        for (name, slot) in slots where name == Subsystem.modem.rawValue { slot.restart() }
        return ControlProtocol.Response(
          ok: true,
          text: cleared == 0
            ? "No interrupted PIN attempt was recorded."
            : "Cleared \(cleared) interrupted attempt\(cleared == 1 ? "" : "s"); the modem restarts and tries the configured PIN once."
        )
      } catch {
        return ControlProtocol.Response(ok: false, text: "cannot clear the PIN attempts: \(error)")
      }
    case .smsSend:
      guard let smsStore = resources.withLock({ $0?.smsStore }) else {
        return ControlProtocol.Response(ok: false, text: "the state store is not open")
      }
      let config = currentConfig.sms
      let region = config.region
      guard let to = request.to, let text = request.text, !text.isEmpty else {
        return ControlProtocol.Response(ok: false, text: "give a number and a text")
      }
      guard case .success(let number) = PhoneNumber.parse(to, region: region), let e164 = number.e164 else {
        return ControlProtocol.Response(
          ok: false, text: "'\(CommandGrammar.printable(to))' is not a phone number (write it like +33612345678)")
      }
      do {
        let key = "cli-\(Int(Date().timeIntervalSince1970 * 1000))-\(UInt32.random(in: 0...UInt32.max))"
        guard
          let plan = try await smsStore.send(
            to: e164, text: text, key: key, maxParts: 10, budget: config.dailyBudget)
        else {
          return ControlProtocol.Response(
            ok: false, text: "not queued: the daily budget of \(config.dailyBudget) SMS is reached ([sms] daily_budget)"
          )
        }
        logger.notice("SMS queued by hand", metadata: ["by": "\(principal)", "to": "\(e164)"])
        let note = currentConfig.modem.enabled ? "" : " (the modem is disabled: it waits in the queue)"
        return ControlProtocol.Response(
          ok: true,
          text:
            "Queued for \(e164): \(plan.parts.count) part\(plan.parts.count == 1 ? "" : "s"), \(plan.encoding)\(plan.isTruncated ? ", truncated" : "")\(note)."
        )
      } catch {
        return ControlProtocol.Response(ok: false, text: "cannot queue the SMS: \(error)")
      }
    case .smsInbox:
      guard let smsStore = resources.withLock({ $0?.smsStore }) else {
        return ControlProtocol.Response(ok: false, text: "the state store is not open")
      }
      do {
        let messages = try await smsStore.recent(limit: 20)
        if messages.isEmpty { return ControlProtocol.Response(ok: true, text: "No SMS received.") }
        let lines = messages.map { message in
          let when = message.smscTime ?? "received \(message.receivedAt)"
          let text = message.redacted.isEmpty ? message.text : message.redacted
          return "\(when)  \(message.sender)  [\(message.state)\(message.outcome.map { ": \($0)" } ?? "")]  \(text)"
        }
        return ControlProtocol.Response(ok: true, text: lines.joined(separator: "\n"))
      } catch {
        return ControlProtocol.Response(ok: false, text: "cannot read the inbox: \(error)")
      }
    case .ledsTest:
      guard currentConfig.leds.enabled, let lights = lights.withLock({ $0 }) else {
        return ControlProtocol.Response(ok: false, text: "the LEDs are disabled ([leds] enabled = false)")
      }
      let lit = await lights.runTest()
      if lit.isEmpty { return ControlProtocol.Response(ok: false, text: "no LED is configured or working") }
      return ControlProtocol.Response(
        ok: true, text: "Lit in turn: \(lit.joined(separator: ", ")); then all blinked fast.")
    case .share, .shareList, .shareRevoke:
      return await shareOperation(request, principal: principal)
    default:
      return ControlProtocol.Response(ok: false, text: "\(request.op.rawValue) is not available in this build")
    }
  }

  /// `vigie modem`: a readable page of what the modem service knows.
  static func describe(_ modem: ModemSnapshot, now: Int, fresh: Bool) -> String {
    var lines = ["Modem: \(modem.phase.rawValue)" + (modem.device.map { " (\($0))" } ?? "")]
    func add(_ label: String, _ value: String?) {
      if let value, !value.isEmpty { lines.append(label.padding(toLength: 14, withPad: " ", startingAt: 0) + value) }
    }
    add("Model", [modem.manufacturer, modem.model].compactMap { $0 }.joined(separator: " "))
    add("SIM", modem.simState)
    add("SIM problem", modem.simProblem)
    add("PIN attempts", modem.pinAttemptsLeft.map(String.init))
    add("ICCID", modem.iccid)
    add("IMSI", modem.imsi)
    add(
      "Operator", [modem.operatorName, modem.operatorCode.map { "(\($0))" }].compactMap { $0 }.joined(separator: " "))
    add("Registration", modem.registration)
    add("Signal", modem.signalDBm.map { "\($0) dBm" } ?? modem.signalPercent.map { "\($0)%" })
    add(
      "Read",
      fresh
        ? "now" : modem.lastSeen.map { "\(StatusReport.formatDuration(now - $0)) ago (the modem did not answer now)" })
    add("SMS in/out", "\(modem.smsReceived) / \(modem.smsSent)")
    add("Last error", modem.lastError)
    add(
      "Recovery",
      modem.lastRecoveryStep.map { step in
        step + (modem.lastRecoveryAt.map { " \(StatusReport.formatDuration(now - $0)) ago" } ?? "")
      })
    return lines.joined(separator: "\n")
  }

  // MARK: Commands

  /// How long SIGNAL and `vigie modem` wait for a fresh reading.
  static let freshReadingDeadline: Duration = .seconds(8)

  func commands() -> [(spec: CommandSpec, handler: CommandRegistry.Handler)] {
    [
      (
        CommandSpec("STATUS", summary: "Uptime, version and the state of every service.", privilege: .read),
        { [weak self] invocation in
          guard let report = self?.statusReport() else { return "stopping" }
          // By SMS: one part. Elsewhere: the long line.
          return invocation.principal.transport == .sms ? report.sms : report.compact
        }
      ),
      (
        CommandSpec(
          "PING", arguments: [.required("host")], summary: "Send 3 ICMP echo requests to a host.", privilege: .read),
        { invocation in
          let host = invocation[argument: "host"]!
          do {
            return try await Pinger.ping(host: host, count: 3).summary
          } catch let error as PingError {
            throw CommandError(.failed, "PING \(CommandGrammar.printable(host)): \(error.message)")
          }
        }
      ),
      (
        CommandSpec(
          "PROBE", arguments: [.required("target")], summary: "Probe a watchdog target now and say what it answered.",
          privilege: .read),
        { [weak self, watchdogBoard] invocation in
          guard let self else { return "stopping" }
          let name = invocation[argument: "target"]!
          let watchdog = currentConfig.watchdog
          guard let target = watchdog.target.first(where: { $0.name.lowercased() == name.lowercased() }) else {
            let names = watchdog.target.map(\.name)
            var message = "No target '\(CommandGrammar.printable(name))'."
            if let hint = Suggest.closest(to: name, in: names) { message += " Did you mean \(hint)?" }
            throw CommandError(
              .usage,
              message + (names.isEmpty ? " No target is configured." : " Targets: " + names.joined(separator: ", ")))
          }
          let timeout = target.timeout > .zero ? target.timeout : watchdog.timeout
          let outcome = await WatchdogService.probe(target, timeout: timeout)
          var text =
            "\(target.name) (\(target.probe)"
            + (target.host.isEmpty ? "" : " on \(CommandGrammar.printable(target.host))") + "): "
            + WatchdogService.describe(outcome)
          if let row = watchdogBoard.snapshot.first(where: { $0.name == target.name }) {
            text += "; state \(row.state)"
          }
          return text
        }
      ),
      (
        CommandSpec("SIGNAL", summary: "Modem signal, operator and registration.", privilege: .read),
        { [modemBoard] _ in
          // A fresh reading through the modem session; the last one, with
          // its age, when the modem is busy or away.
          let fresh = await modemBoard.freshReading(deadline: Self.freshReadingDeadline)
          return modemBoard.snapshot.signalReply(now: Int(Date().timeIntervalSince1970), fresh: fresh)
        }
      ),
      (
        CommandSpec(
          "SHARE", arguments: [.required("path"), .optional("count")],
          summary: "A download link to a file of the file drop (count: downloads allowed, default 1).",
          privilege: .operate),
        { [weak self] invocation in
          guard let self else { return "stopping" }
          let countText = invocation[argument: "count"]
          guard let count = countText.map({ Int($0) }) ?? 1, (1...1000).contains(count) else {
            throw CommandError(.usage, "The count must be a number from 1 to 1000.")
          }
          let created = try await createShare(
            path: invocation[argument: "path"]!, count: count, expires: nil, by: "\(invocation.principal)")
          return created.url
        }
      ),
      (
        CommandSpec("IP", summary: "The addresses of this box.", privilege: .read),
        { _ in HostInfo.addressSummary() }
      ),
      (
        CommandSpec(
          "ALERTS", summary: "Open problems, silences and maintenance.", privilege: .read),
        { [alertControl] _ in
          let state = alertControl.snapshot
          let now = Int(Date().timeIntervalSince1970)
          var lines: [String] = []
          for problem in state.problems.list {
            lines.append(
              "\(problem.alert.text) (for \(StatusReport.formatDuration(now - problem.since))"
                + (problem.acknowledged ? ", acknowledged)" : ")"))
          }
          if lines.isEmpty { lines.append("No open problem.") }
          if state.silences.inMaintenance(now: now), let until = state.silences.maintenanceUntil {
            lines.append("Maintenance for \(StatusReport.formatDuration(until - now)) more.")
          }
          for (name, until) in state.silences.silences.sorted(by: { $0.key < $1.key }) where until > now {
            lines.append("\(name) silenced for \(StatusReport.formatDuration(until - now)) more.")
          }
          return lines.joined(separator: "\n")
        }
      ),
      (
        CommandSpec(
          "ACK", arguments: [.required("alert")],
          summary: "Acknowledge an open problem (a target name or key): no more repeats.", privilege: .operate),
        { [alertControl] invocation in
          let name = invocation[argument: "alert"]!
          let done = alertControl.update { $0.problems.acknowledge(name) }
          guard !done.isEmpty else {
            throw CommandError(.failed, "No open problem matches '\(CommandGrammar.printable(name))'. See ALERTS.")
          }
          return "Acknowledged: " + done.joined(separator: ", ") + "."
        }
      ),
      (
        CommandSpec(
          "SILENCE", arguments: [.required("target"), .required("duration")],
          summary: "Hold back alerts about a target (or key pattern) for a while, e.g. SILENCE nas 2h; 0 lifts it.",
          privilege: .operate),
        { [alertControl] invocation in
          let target = invocation[argument: "target"]!
          let text = invocation[argument: "duration"]!
          guard let duration = Duration(configText: text.lowercased()), duration <= .seconds(30 * 86_400) else {
            throw CommandError(
              .usage, "'\(CommandGrammar.printable(text))' is not a duration up to 30d (e.g. 30m, 2h).")
          }
          let now = Int(Date().timeIntervalSince1970)
          let seconds = Int(duration.components.seconds)
          alertControl.update { state in
            state.silences.silences[target] = seconds > 0 ? now + seconds : nil
          }
          return seconds > 0
            ? "Alerts about \(target) silenced for \(StatusReport.formatDuration(seconds))."
            : "Silence on \(target) lifted."
        }
      ),
      (
        CommandSpec(
          "MAINTENANCE", arguments: [.required("on|off"), .optional("duration")],
          summary: "Maintenance: only critical alerts go out (default 1h, at most 7d).", privilege: .operate),
        { [alertControl] invocation in
          let word = invocation[argument: "on|off"]!.lowercased()
          let now = Int(Date().timeIntervalSince1970)
          switch word {
          case "off":
            alertControl.update { $0.silences.maintenanceUntil = nil }
            return "Maintenance off: alerts go out again."
          case "on":
            let text = invocation[argument: "duration"] ?? "1h"
            guard let duration = Duration(configText: text.lowercased()), duration > .zero,
              duration <= .seconds(7 * 86_400)
            else {
              throw CommandError(.usage, "'\(CommandGrammar.printable(text))' is not a duration up to 7d (e.g. 2h).")
            }
            let seconds = Int(duration.components.seconds)
            alertControl.update { $0.silences.maintenanceUntil = now + seconds }
            return "Maintenance on for \(StatusReport.formatDuration(seconds)): only critical alerts go out."
          default:
            throw CommandError(.usage, "Say MAINTENANCE on [duration] or MAINTENANCE off.")
          }
        }
      ),
      (
        CommandSpec(
          "REBOOT", summary: "Reboot the box (asks for confirmation).", privilege: .admin, needsConfirmation: true),
        { [weak self] invocation in
          guard let self else { return "stopping" }
          let command = currentConfig.daemon.rebootCommand
          logger.critical("REBOOT requested", metadata: ["by": "\(invocation.principal)", "command": "\(command)"])
          try Self.launchDetached(command)
          return "Rebooting."
        }
      ),
      (
        CommandSpec(
          "RESTART", arguments: [.required("service")], summary: "Restart one service now.", privilege: .operate),
        { [weak self] invocation in
          guard let self else { return "stopping" }
          let name = invocation[argument: "service"]!.lowercased()
          guard let slot = slots.first(where: { $0.name == name })?.service else {
            let names = slots.map(\.name)
            var message = "No service '\(CommandGrammar.printable(name))'."
            if let hint = Suggest.closest(to: name, in: names) { message += " Did you mean \(hint)?" }
            throw CommandError(.usage, message + " Services: " + names.joined(separator: ", "))
          }
          guard slot.isEnabled else { throw CommandError(.failed, "\(name) is disabled in the configuration.") }
          slot.restart()
          return "Restarting \(name)."
        }
      ),
    ]
  }

  /// Starts `command` (through /bin/sh) without waiting: a reboot command
  /// may well kill this process.
  static func launchDetached(_ command: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    process.standardInput = FileHandle.nullDevice
    do {
      try process.run()
    } catch {
      throw CommandError(.failed, "cannot run '\(command)': \(error.localizedDescription)")
    }
  }

  /// Holds an exclusive lock on `<state_dir>/vigie.lock` for the life of the
  /// process: two daemons on one state directory would corrupt each other's
  /// queues. The kernel releases it when the process dies, even on SIGKILL.
  static func lockStateDirectory(_ directory: String) throws -> Int32 {
    let path = directory + "/vigie.lock"
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      throw SupervisorError(.startup, "cannot open \(path): \(String(cString: strerror(errno)))")
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let code = errno
      close(fd)
      if code == EWOULDBLOCK {
        throw SupervisorError(.startup, "another vigie is already running with state directory \(directory)")
      }
      throw SupervisorError(.startup, "cannot lock \(path): \(String(cString: strerror(code)))")
    }
    return fd
  }

  static func prepareDirectory(_ path: String, what: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
      guard isDirectory.boolValue else { throw SupervisorError(.startup, "\(what) \(path) is not a directory") }
    } else {
      do {
        try FileManager.default.createDirectory(
          atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      } catch {
        throw SupervisorError(.startup, "cannot create \(what) \(path)", underlyingError: error)
      }
    }
    guard access(path, W_OK) == 0 else {
      throw SupervisorError(.startup, "\(what) \(path) is not writable by this user; fix its owner or use --state-dir")
    }
  }
}

/// Reloads the configuration on SIGHUP.
struct ReloadService: Service {
  let daemon: Daemon
  let logger: Logger

  func run() async throws {
    let signals = await UnixSignalsSequence(trapping: .sighup)
    for await _ in signals.cancelOnGracefulShutdown() {
      logger.notice("SIGHUP: reloading the configuration")
      daemon.reload()
    }
  }
}
