import ArgumentParser
import Foundation
import Logging
import Synchronization
import VigieCore
import VigieFileDrop
import VigieLights
import VigieRuntime
import VigieWatchdog

@main
struct Vigie: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "vigie",
    abstract: "Supervise a remote Raspberry Pi with a 3G/4G modem: SMS and chat control, alerts, file drop, Drive.",
    discussion: """
      Start the daemon with 'vigie run' (systemd does this on the appliance). While it runs,
      'vigie status' shows every service and 'vigie cmd "PING 192.0.2.1"' runs the same commands
      as SMS and chat. The configuration is /etc/vigie/vigie.toml: check it with 'vigie config check'.
      """,
    version: VigieVersion.string,
    subcommands: [
      Run.self, Status.self, Cmd.self, Modem.self, SMS.self, Share.self, DropPassword.self, Probe.self, LEDs.self,
      Drive.self, Config.self, Version.self,
    ]
  )
}

/// Options shared by commands that read the configuration.
struct ConfigOption: ParsableArguments {
  @Option(name: [.short, .long], help: ArgumentHelp("Configuration file.", valueName: "file"))
  var config: String?
}

/// How commands find the running daemon.
struct SocketOptions: ParsableArguments {
  @OptionGroup var configOption: ConfigOption

  @Option(
    help: ArgumentHelp(
      "Control socket of the running daemon (default: from the configuration, or $VIGIE_SOCKET).", valueName: "path"))
  var socket: String?

  func socketPath() throws -> String {
    if let socket { return socket }
    if let fromEnvironment = ProcessInfo.processInfo.environment["VIGIE_SOCKET"], !fromEnvironment.isEmpty {
      return fromEnvironment
    }
    do {
      return try ConfigLoader.load(path: configOption.config).config.daemon.controlSocketPath
    } catch {
      throw ValidationError("cannot find the control socket: \(error)")
    }
  }
}

enum ExitCodes {
  /// sysexits EX_CONFIG: the configuration is invalid.
  static let configError = ExitCode(78)
  /// Like `systemctl status`: the daemon is not running.
  static let notRunning = ExitCode(3)
}

struct Run: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run the daemon in the foreground (systemd runs it on the appliance).")

  @OptionGroup var configOption: ConfigOption

  @Option(help: ArgumentHelp("State directory (overrides [daemon] state_dir).", valueName: "dir"))
  var stateDir: String?

  func run() async throws {
    let loaded: LoadedConfig
    do {
      loaded = try ConfigLoader.load(path: configOption.config)
    } catch {
      FileHandle.standardError.write(Data("vigie: \(error)\n".utf8))
      throw ExitCodes.configError
    }
    let level = Logger.Level(loaded.config.daemon.logLevel)
    LoggingSystem.bootstrap { label in VigieLogHandler.standardError(label: label, level: level) }
    let logger = Logger(label: "vigie")
    if loaded.file == nil {
      logger.notice("no \(ConfigLoader.defaultPath): running with the defaults")
    }
    for warning in loaded.warnings { logger.warning("\(warning)") }
    let daemon = Daemon(
      options: DaemonOptions(configPath: loaded.file, stateDir: stateDir), config: loaded.config, logger: logger)
    do {
      try await daemon.run()
    } catch {
      logger.critical("cannot run: \(error)")
      throw ExitCode.failure
    }
  }
}

struct Status: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Show the running daemon's services and their states.")

  @OptionGroup var socketOptions: SocketOptions

  @Flag(help: "Print the status as JSON.")
  var json = false

  func run() async throws {
    let response = try send(.init(op: .status), socketOptions: socketOptions)
    if json, let status = response.status {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try encoder.encode(status), as: UTF8.self))
    } else {
      print(response.text)
    }
  }
}

struct Cmd: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a command on the running daemon, as SMS and chat do.",
    discussion: "Example: vigie cmd PING 127.0.0.1. Send 'vigie cmd HELP' for the list.")

  @OptionGroup var socketOptions: SocketOptions

  @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.")
  var words: [String] = []

  func validate() throws {
    if words.isEmpty { throw ValidationError("give a command, e.g. vigie cmd STATUS") }
  }

  func run() async throws {
    let response = try send(.init(op: .command, text: words.joined(separator: " ")), socketOptions: socketOptions)
    print(response.text)
    if !response.ok { throw ExitCode.failure }
  }
}

/// Sends one control request, turning "not running" into a plain message and exit code 3.
func send(_ request: ControlProtocol.Request, socketOptions: SocketOptions) throws -> ControlProtocol.Response {
  let path = try socketOptions.socketPath()
  do {
    return try ControlClient.send(request, path: path)
  } catch {
    FileHandle.standardError.write(Data("vigie: \(error.message)\n".utf8))
    throw error.notRunning ? ExitCodes.notRunning : ExitCode.failure
  }
}

struct Modem: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show the modem: identity, SIM and PIN state, signal, registration.",
    subcommands: [Show.self, PinRetry.self], defaultSubcommand: Show.self)

  struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the modem (the default).")
    @OptionGroup var socketOptions: SocketOptions
    @Flag(help: "Print the modem state as JSON (the last reading, without asking the modem).") var json = false

    func run() async throws {
      // A person gets a reading made now; programs polling the JSON get
      // the board as is, at once.
      let response = try send(.init(op: .modem, fresh: !json), socketOptions: socketOptions)
      print(json ? (response.data ?? "{}") : response.text)
    }
  }

  struct PinRetry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "pin-retry",
      abstract: "Allow one more try of the configured PIN after an interrupted attempt.",
      discussion: """
        Vigie counts a PIN attempt whose outcome it could not record (power cut, crash) as failed,
        so that a wrong PIN is never retried into a PUK lock. Check the PIN in the configuration,
        then run this to let Vigie try it once more.
        """)
    @OptionGroup var socketOptions: SocketOptions

    func run() async throws {
      let response = try send(.init(op: .pinRetry), socketOptions: socketOptions)
      print(response.text)
      if !response.ok { throw ExitCode.failure }
    }
  }
}

struct SMS: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sms", abstract: "Send an SMS, or list the SMS received.", subcommands: [Send.self, Inbox.self])

  struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Queue an SMS (sent by the modem service; within [sms] daily_budget).")
    @OptionGroup var socketOptions: SocketOptions
    @Argument(help: "Phone number, e.g. +33612345678.") var number: String
    @Argument(parsing: .remaining, help: "The text.") var words: [String] = []

    func validate() throws {
      if words.isEmpty { throw ValidationError("give the text to send") }
    }

    func run() async throws {
      let response = try send(
        .init(op: .smsSend, text: words.joined(separator: " "), to: number), socketOptions: socketOptions)
      print(response.text)
      if !response.ok { throw ExitCode.failure }
    }
  }

  struct Inbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "The latest SMS received, what became of them (codes are masked).")
    @OptionGroup var socketOptions: SocketOptions

    func run() async throws {
      print(try send(.init(op: .smsInbox), socketOptions: socketOptions).text)
    }
  }
}

struct Share: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Make a download link to a file of the file drop, shown as a URL and a QR code.",
    discussion: """
      The link is a random token; it allows --count completed downloads (unlimited when not given)
      until --expires, and survives restarts. 'vigie share --list' lists the links, 'vigie share
      --revoke TOKEN' ends one.
      """)
  @OptionGroup var socketOptions: SocketOptions
  @Argument(help: "The file, relative to [filedrop] root.") var path: String?
  @Option(help: "Completed downloads allowed.") var count: Int?
  @Option(help: "Lifetime, e.g. 30m, 1h, 2d.") var expires: String?
  @Flag(help: "List the share links.") var list = false
  @Option(help: ArgumentHelp("Revoke a link.", valueName: "token")) var revoke: String?
  @Flag(help: "Print the URL only, without the QR code.") var noQR = false

  func validate() throws {
    if !list && revoke == nil && path == nil { throw ValidationError("give a file to share, --list or --revoke") }
    if let count, count < 1 { throw ValidationError("--count must be at least 1") }
  }

  func run() async throws {
    let request: ControlProtocol.Request
    if list {
      request = .init(op: .shareList)
    } else if let revoke {
      request = .init(op: .shareRevoke, text: revoke)
    } else {
      request = .init(op: .share, text: path, count: count, expires: expires)
    }
    let response = try send(request, socketOptions: socketOptions)
    guard response.ok else {
      FileHandle.standardError.write(Data("vigie: \(response.text)\n".utf8))
      throw ExitCode.failure
    }
    print(response.text)
    if request.op == .share, !noQR, let qr = TerminalQR.render(response.text) { print(qr) }
  }
}

struct DropPassword: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "drop-password",
    abstract: "Hash a file drop password for [[filedrop.user]] password_hash (reads it from standard input).")
  @Option(help: "PBKDF2 iterations.") var iterations = Passwords.defaultIterations

  func validate() throws {
    if !(1000...10_000_000).contains(iterations) { throw ValidationError("--iterations must be 1000 to 10000000") }
  }

  func run() throws {
    guard let password = readLine(strippingNewline: true), !password.isEmpty else {
      throw ValidationError("give the password on standard input")
    }
    print(Passwords.hash(password, iterations: iterations).text)
  }
}

struct Probe: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Probe a host now, from this machine (ICMP echo, TCP SYN, OpenVPN, DNS, NTP, HTTP).",
    discussion: """
      Needs no daemon. ICMP needs CAP_NET_RAW or net.ipv4.ping_group_range; --tcp sends a half-open SYN \
      with CAP_NET_RAW and falls back to connect() without it. --probe takes any probe of [[watchdog.target]]: \
      tcp-connect:22, udp-openvpn:1194, tcp-openvpn:443, dns, dns:example.org, ntp, http:https://example.org/.
      """)

  @Argument(help: "Host name or address (for --probe http:URL, the URL names it: give any word).") var host: String
  @Option(
    name: .customLong("tcp"),
    help: ArgumentHelp("Check this TCP port with a half-open SYN instead of a ping.", valueName: "port"))
  var tcpPort: Int?
  @Option(
    name: .customLong("udp-openvpn"),
    help: ArgumentHelp("Send an OpenVPN hard reset to this UDP port.", valueName: "port"))
  var openVPNPort: Int?
  @Option(help: ArgumentHelp("Any watchdog probe, e.g. dns:example.org.", valueName: "probe")) var probe: String?
  @Option(
    help: ArgumentHelp("Ping every address of an IPv4 network (fping-style), e.g. 10.0.0.0/24.", valueName: "cidr"))
  var sweep: String?
  @Option(help: "Packets per second at most (for --sweep and --count).") var rate = 200
  @Option(help: "Echo requests (or probes) to send (default: 3 pings, 1 other probe).") var count: Int?
  @Option(help: ArgumentHelp("Seconds to wait for each answer.", valueName: "seconds")) var timeout = 1.0

  func validate() throws {
    if let sweep, case .failure(let error) = IPv4Network.parse(sweep) { throw ValidationError("--sweep: \(error)") }
    if !(1...10000).contains(rate) { throw ValidationError("--rate must be within 1...10000 packets a second") }
    if let count, !(1...1000).contains(count) { throw ValidationError("--count must be within 1...1000") }
    if !(timeout > 0 && timeout <= 60) { throw ValidationError("--timeout must be within (0, 60] seconds") }
    if let tcpPort, !(1...65535).contains(tcpPort) { throw ValidationError("--tcp must be a port within 1...65535") }
    if let openVPNPort, !(1...65535).contains(openVPNPort) {
      throw ValidationError("--udp-openvpn must be a port within 1...65535")
    }
    if [tcpPort != nil, openVPNPort != nil, probe != nil].filter({ $0 }).count > 1 {
      throw ValidationError("give one of --tcp, --udp-openvpn and --probe")
    }
    if let probe, case .failure(let message) = ProbeSpec.parse(probe) { throw ValidationError("--probe: \(message)") }
  }

  func run() async throws {
    let wait = Duration.milliseconds(Int(timeout * 1000))
    do {
      if let sweep, case .success(let network) = IPv4Network.parse(sweep) {
        try await runSweep(network, wait: wait)
        return
      }
      if let tcpPort {
        var answered = false
        for _ in 0..<(count ?? 1) {
          let result = try await TCPSYNProbe.probe(host: host, port: tcpPort, timeout: wait)
          let note = result.mode == .raw ? "" : " [connect() mode: \(result.fallbackReason ?? "")]"
          print("TCP \(host):\(tcpPort): \(result.verdict)\(note)")
          if case .open = result.verdict { answered = true }
        }
        if answered { return }
        throw ExitCode.failure
      }
      if let spec = openVPNPort.map({ "udp-openvpn:\($0)" }) ?? probe {
        var target = WatchTarget()
        target.name = host
        target.host = host
        target.probe = spec
        var answered = 0
        let total = count ?? 1
        for _ in 0..<total {
          let outcome = await WatchdogService.probe(target, timeout: wait)
          print("\(spec) \(host): \(WatchdogService.describe(outcome))")
          if outcome.isSuccess { answered += 1 }
        }
        if total > 1 { print("\(answered)/\(total) answered") }
        if answered > 0 { return }
        throw ExitCode.failure
      }
      let result = try await Pinger.ping(host: host, count: count ?? 3, timeout: wait)
      print(result.summary)
      if result.received == 0 { throw ExitCode.failure }
    } catch let error as PingError {
      FileHandle.standardError.write(Data("vigie: \(error)\n".utf8))
      throw ExitCode.failure
    }
  }

  /// One echo request to each host of `network`, at most `rate` a second and
  /// 64 waiting at once; prints the hosts that answered, in address order
  /// (like `fping -a`), then a summary. The HOST argument is ignored.
  func runSweep(_ network: IPv4Network, wait: Duration) async throws {
    let budget = PacketBudget(perSecond: rate)
    let hosts = network.hosts
    let started = ContinuousClock.now
    let alive = try await withThrowingTaskGroup(of: (Int, Duration?).self) { group in
      var answered: [Int: Duration] = [:]
      var nextIndex = 0
      func add() async throws {
        guard nextIndex < hosts.count else { return }
        let index = nextIndex
        nextIndex += 1
        try await budget.acquire()
        let host = hosts[index].description
        group.addTask {
          let result = try await Pinger.ping(host: host, count: 1, interval: .zero, timeout: wait)
          return (index, result.rtts.first)
        }
      }
      for _ in 0..<min(64, hosts.count) { try await add() }
      while let (index, rtt) = try await group.next() {
        if let rtt { answered[index] = rtt }
        try await add()
      }
      return answered
    }
    for index in alive.keys.sorted() {
      print("\(hosts[index]) is alive (\(TCPConnectVerdict.milliseconds(alive[index]!)) ms)")
    }
    let elapsed = started.duration(to: .now)
    print(
      "\(network): \(alive.count)/\(hosts.count) alive in "
        + String(format: "%.2f s", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
    if alive.isEmpty { throw ExitCode.failure }
  }
}

struct Config: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check, show and document the configuration.",
    subcommands: [Check.self, Show.self, Reference.self])

  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check a configuration file and list every problem in it.")

    @Argument(help: ArgumentHelp("The file (default: /etc/vigie/vigie.toml).", valueName: "file"))
    var file: String?

    func run() throws {
      let path = file ?? ConfigLoader.defaultPath
      do {
        let loaded = try ConfigLoader.load(path: path)
        for warning in loaded.warnings { print(warning) }
        print("\(path): OK")
      } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        throw ExitCodes.configError
      }
    }
  }

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the effective configuration, defaults included, secrets masked.")

    @Argument(help: ArgumentHelp("The file (default: /etc/vigie/vigie.toml).", valueName: "file"))
    var file: String?

    @OptionGroup var configOption: ConfigOption

    func run() throws {
      do {
        let loaded = try ConfigLoader.load(path: file ?? configOption.config)
        print("# effective configuration from \(loaded.file ?? "defaults (no \(ConfigLoader.defaultPath))")")
        print(loaded.config.renderTOML(), terminator: "")
      } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        throw ExitCodes.configError
      }
    }
  }

  struct Reference: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the reference of every key (Markdown), as in docs/configuration.md.")

    func run() throws {
      print(VigieConfig.referenceMarkdown(), terminator: "")
    }
  }
}

struct Version: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Print the version.")
  func run() { print("vigie \(VigieVersion.string)") }
}

extension Logger.Level {
  init(_ level: LogLevel) {
    switch level {
    case .trace: self = .trace
    case .debug: self = .debug
    case .info: self = .info
    case .notice: self = .notice
    case .warning: self = .warning
    case .error: self = .error
    case .critical: self = .critical
    }
  }
}

struct LEDs: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "leds", abstract: "Check the status LEDs.", subcommands: [Test.self])

  struct Test: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Light every LED alone in turn, then blink them all, to check the wiring.",
      discussion: """
        With the daemon running, the daemon plays the test on the LEDs it holds. Without it,
        this command opens the LEDs of [leds] itself (as root, or as a member of the gpio group)
        and gives them back afterwards.
        """)
    @OptionGroup var socketOptions: SocketOptions
    @Option(help: ArgumentHelp("Seconds each LED stays lit.", valueName: "seconds")) var hold = 1.0

    func validate() throws {
      if !(hold > 0 && hold <= 30) { throw ValidationError("--hold must be within (0, 30] seconds") }
    }

    func run() async throws {
      let path = try socketOptions.socketPath()
      if FileManager.default.fileExists(atPath: path) {
        do {
          let response = try ControlClient.send(.init(op: .ledsTest), path: path)
          print(response.text)
          if !response.ok { throw ExitCode.failure }
          return
        } catch let failure as ControlClient.Failure where failure.notRunning {
          // A stale socket: drive the LEDs directly.
        }
      }
      let config: VigieConfig
      do {
        config = try ConfigLoader.load(path: socketOptions.configOption.config).config
      } catch {
        FileHandle.standardError.write(Data("vigie: \(error)\n".utf8))
        throw ExitCodes.configError
      }
      let leds = config.leds
      if leds.devices.isEmpty {
        print("No LED is configured ([leds] modem, network, alert, activity).")
        throw ExitCode.failure
      }
      let problems = Mutex<[String]?>(nil)
      let driver = LEDDriver(
        devices: leds.devices, sysfsRoot: leds.sysfsRoot, gpioChip: leds.gpioChip,
        report: { list in problems.withLock { $0 = $0 ?? list } })
      while problems.withLock({ $0 == nil }) { try await Task.sleep(for: .milliseconds(20)) }
      for problem in problems.withLock({ $0 ?? [] }) { print("cannot use the \(problem)") }
      let working = leds.devices.filter { device in
        !(problems.withLock { $0 ?? [] }).contains { $0.hasPrefix("\(device.role.rawValue) LED:") }
      }
      if working.isEmpty {
        _ = await driver.stop(waitingUpTo: .seconds(2))
        throw ExitCode.failure
      }
      let names = Dictionary(uniqueKeysWithValues: working.map { ($0.role.rawValue, $0.device.description) })
      _ = await LightsTest.run(on: driver, roles: working.map(\.role), hold: .milliseconds(Int(hold * 1000))) {
        print("\($0) LED (\(names[$0] ?? "?")) lit")
      }
      let released = await driver.stop(waitingUpTo: .seconds(2))
      print(released ? "Then all blinked fast; the LEDs are given back." : "An LED write is stuck; giving up.")
    }
  }
}
