/// The whole configuration, `/etc/vigie/vigie.toml`.
///
/// Every key has a default: an empty file is a working configuration. Keys
/// are documented here once; `vigie config reference` prints the reference
/// (docs/configuration.md) from these tables.
public struct VigieConfig: ConfigSection {
  public var daemon = DaemonConfig()
  public var modem = ModemConfig()
  public var sms = SMSConfig()
  public var filedrop = FileDropConfig()
  public var drive = DriveConfig()
  public var watchdog = WatchdogConfig()
  public var irc = IRCConfig()
  public var xmpp = XMPPConfig()
  public var alerts = AlertsConfig()
  public var leds = LEDsConfig()
  public var status = StatusConfig()

  public init() {}

  public static let fields: [ConfigField<VigieConfig>] = [
    .init("daemon", table: \.daemon, doc: "The daemon itself: state, sockets, logging."),
    .init("modem", table: \.modem, doc: "The USB 3G/4G modem (libgammu)."),
    .init("sms", table: \.sms, doc: "The SMS command gateway."),
    .init("filedrop", table: \.filedrop, doc: "The LAN file drop (web page and HTTP endpoints)."),
    .init("drive", table: \.drive, doc: "The Google Drive sync mount."),
    .init("watchdog", table: \.watchdog, doc: "The network watchdog (packet probes)."),
    .init("irc", table: \.irc, doc: "The IRC client (alerts and commands)."),
    .init("xmpp", table: \.xmpp, doc: "The XMPP client (alerts and commands)."),
    .init("alerts", table: \.alerts, doc: "The alert router."),
    .init("leds", table: \.leds, doc: "Status LEDs."),
    .init("status", table: \.status, doc: "Status page and Prometheus metrics."),
  ]

  /// The subsystems the supervisor runs, in start order (shutdown runs in
  /// reverse). The state store and the control socket are always on.
  public static let subsystems: [Subsystem] = [
    .leds, .modem, .irc, .xmpp, .alerts, .watchdog, .sms, .drive, .filedrop, .status,
  ]

  /// Whether `subsystem` is switched on.
  public func isEnabled(_ subsystem: Subsystem) -> Bool {
    switch subsystem {
    case .modem: modem.enabled
    case .sms: sms.enabled
    case .filedrop: filedrop.enabled
    case .drive: drive.enabled
    case .watchdog: watchdog.enabled
    case .irc: irc.enabled
    case .xmpp: xmpp.enabled
    case .alerts: alerts.enabled
    case .leds: leds.enabled
    case .status: status.enabled
    }
  }

  /// A stable text of one subsystem's section, used to tell on reload which
  /// services must restart. `[daemon]` changes restart nothing: they apply at
  /// the next start (the supervisor logs which keys need a restart).
  public func fingerprint(of subsystem: Subsystem) -> String {
    var lines: [String] = []
    switch subsystem {
    case .modem: modem.renderTOML(path: "modem", into: &lines)
    case .sms: sms.renderTOML(path: "sms", into: &lines)
    case .filedrop: filedrop.renderTOML(path: "filedrop", into: &lines)
    case .drive: drive.renderTOML(path: "drive", into: &lines)
    case .watchdog: watchdog.renderTOML(path: "watchdog", into: &lines)
    case .irc: irc.renderTOML(path: "irc", into: &lines)
    case .xmpp: xmpp.renderTOML(path: "xmpp", into: &lines)
    case .alerts: alerts.renderTOML(path: "alerts", into: &lines)
    case .leds: leds.renderTOML(path: "leds", into: &lines)
    case .status: status.renderTOML(path: "status", into: &lines)
    }
    // Secrets are masked in renderings; a changed secret file path still shows.
    return lines.joined(separator: "\n") + secretsFingerprint(of: subsystem)
  }

  private func secretsFingerprint(of subsystem: Subsystem) -> String {
    switch subsystem {
    case .modem: "\u{1}" + modem.pin
    case .irc: "\u{1}" + irc.password
    case .xmpp: "\u{1}" + xmpp.password
    case .drive: "\u{1}" + drive.clientSecret
    case .filedrop: "\u{1}" + filedrop.user.map(\.passwordHash).joined(separator: "\u{1}")
    default: ""
    }
  }

  /// The configuration as TOML, secrets masked.
  public func renderTOML() -> String {
    var lines: [String] = []
    renderTOML(path: "", into: &lines)
    return lines.joined(separator: "\n") + "\n"
  }
}

/// A supervised subsystem, named like its configuration section.
public enum Subsystem: String, Sendable, CaseIterable, Hashable {
  case modem, sms, filedrop, drive, watchdog, irc, xmpp, alerts, leds, status
}

/// Privilege levels of commands and of the people who send them.
public enum Privilege: String, ConfigEnum, Comparable, Hashable {
  /// Look: STATUS, HELP, PING.
  case read
  /// Change how things run: ACK, SILENCE, RESTART a service, SHARE.
  case operate
  /// Everything, including REBOOT.
  case admin

  public static func < (a: Privilege, b: Privilege) -> Bool {
    allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
  }
}

public enum LogLevel: String, ConfigEnum {
  case trace, debug, info, notice, warning, error, critical
}

// MARK: - Sections

public struct DaemonConfig: ConfigSection {
  public var name = "vigie"
  public var stateDir = "/var/lib/vigie"
  public var runtimeDir = "/run/vigie"
  public var controlSocket = ""
  public var controlLevel = Privilege.admin
  public var logLevel = LogLevel.info
  public var shutdownTimeout = Duration.seconds(5)
  public var healthyAfter = Duration.seconds(60)
  public var restartBackoffMax = Duration.seconds(300)
  public var rebootCommand = "systemctl reboot"

  public init() {}

  /// The control socket path: `control_socket`, or `<runtime_dir>/control.sock`.
  public var controlSocketPath: String {
    controlSocket.isEmpty ? (runtimeDir.hasSuffix("/") ? runtimeDir : runtimeDir + "/") + "control.sock" : controlSocket
  }

  public static let fields: [ConfigField<DaemonConfig>] = [
    .init("name", \.name, doc: "Name of this site, shown in alerts, STATUS and the status page."),
    .init(
      "state_dir", \.stateDir,
      doc: "Where the state database (queues, journal, history) lives. `--state-dir` overrides it."),
    .init("runtime_dir", \.runtimeDir, doc: "Directory for the control socket and other runtime files."),
    .init(
      "control_socket", \.controlSocket,
      doc:
        "Path of the control socket used by `vigie status` and `vigie cmd`; empty means `<runtime_dir>/control.sock`."),
    .init(
      "control_level", \.controlLevel,
      doc: "Privilege of local users who can open the control socket (mode 0660: root and the vigie group)."),
    .init("log_level", \.logLevel, doc: "Lowest level logged."),
    .init(
      "shutdown_timeout", \.shutdownTimeout,
      doc: "How long services get to stop on SIGTERM before the daemon exits anyway."),
    .init(
      "healthy_after", \.healthyAfter,
      doc: "A service that runs this long without failing has its restart backoff reset."),
    .init("restart_backoff_max", \.restartBackoffMax, doc: "Longest wait between two restarts of a failing service."),
    .init("reboot_command", \.rebootCommand, doc: "What the REBOOT command runs (through /bin/sh)."),
  ]
}

/// A phone number allowed to send SMS commands, and its privilege.
public struct SMSSender: ConfigSection {
  public var number = ""
  public var level = Privilege.read
  public init() {}
  public static let fields: [ConfigField<SMSSender>] = [
    .init("number", \.number, doc: "Phone number, preferably in international format (+33612345678)."),
    .init("level", \.level, doc: "Highest privilege this number may use."),
  ]
}

public enum ModemConnection: String, ConfigEnum {
  /// A serial AT port (USB modems).
  case at
  /// libgammu forks `device` as a command and speaks AT over its stdin/stdout
  /// (the tests' modem emulator).
  case proxyat
}

public struct ModemConfig: ConfigSection {
  public var enabled = true
  public var device = "auto"
  public var connection = ModemConnection.at
  public var pin = ""
  public var pinFile = ""
  public var pollInterval = Duration.seconds(60)
  public var smsPollInterval = Duration.seconds(10)
  public var commandTimeout = Duration.seconds(30)
  public var gammuLog = ""
  public init() {}
  public static let fields: [ConfigField<ModemConfig>] = [
    .init("enabled", \.enabled, doc: "Run the modem service."),
    .init(
      "device", \.device,
      doc: "`auto` (found through udev), a device path such as `/dev/ttyUSB0`, or a `/dev/serial/by-id/...` link."),
    .init(
      "connection", \.connection,
      doc: "`at` for a serial modem; `proxyat` runs `device` as a command speaking AT on stdin/stdout (testing)."),
    .init("pin", \.pin, doc: "SIM PIN. Prefer `pin_file`.", secret: true),
    .init("pin_file", \.pinFile, doc: "File holding the SIM PIN (mode 0600)."),
    .init("poll_interval", \.pollInterval, doc: "How often signal quality and registration are read."),
    .init(
      "sms_poll_interval", \.smsPollInterval, doc: "How often stored SMS are read when the modem announces nothing."),
    .init("command_timeout", \.commandTimeout, doc: "Longest wait for one modem operation before recovery starts."),
    .init(
      "gammu_log", \.gammuLog,
      doc: "File for libgammu's own debug log (AT traffic; may contain PINs: keep it private); empty for none."),
  ]
}

public struct SMSConfig: ConfigSection {
  public var enabled = true
  public var allow: [SMSSender] = []
  public var defaultCountryCode = ""
  public var totpSecretFile = ""
  public var passphraseFile = ""
  public var maxReplyParts = 3
  public var dailyBudget = 50
  public var maxCommandAge = Duration.seconds(3600)
  public var multipartTimeout = Duration.seconds(600)
  public var lockoutFailures = 3
  public var lockoutWindow = Duration.seconds(900)
  public var lockoutDuration = Duration.seconds(900)
  public init() {}

  /// How national numbers are read: `default_country_code`, or nil for
  /// international numbers only. Shared by the gateway, the alert router and
  /// `vigie sms send`, so the three read numbers the same way.
  public var region: PhoneRegion? {
    defaultCountryCode.isEmpty ? nil : PhoneRegion(countryCode: defaultCountryCode)
  }
  public static let fields: [ConfigField<SMSConfig>] = [
    .init("enabled", \.enabled, doc: "Receive SMS commands and send SMS replies and alerts."),
    .init(
      "allow", tables: \.allow,
      doc:
        "Senders allowed to send commands (`[[sms.allow]]` with `number` and `level`); others are ignored and never answered."
    ),
    .init(
      "default_country_code", \.defaultCountryCode,
      doc:
        "Country calling code for numbers written nationally (`33` for France: 06… becomes +336…); empty accepts international numbers only."
    ),
    .init(
      "totp_secret_file", \.totpSecretFile,
      doc:
        "File (mode 0600) with the base32 TOTP secret (RFC 6238) whose 6-digit codes authorise `operate` and `admin` commands, given as the last word (`RESTART sms 492039`)."
    ),
    .init(
      "passphrase_file", \.passphraseFile,
      doc: "File (mode 0600) with a one-word passphrase accepted instead of a TOTP code."),
    .init(
      "max_reply_parts", \.maxReplyParts,
      doc: "Longest reply, in SMS parts; longer replies are truncated with a marker."),
    .init("daily_budget", \.dailyBudget, doc: "Most SMS sent per day, replies and alerts together (cost guard)."),
    .init(
      "max_command_age", \.maxCommandAge,
      doc: "Commands older than this (by SMSC timestamp) are refused, when the system clock is synchronised."),
    .init(
      "multipart_timeout", \.multipartTimeout,
      doc:
        "How long the parts of a long SMS are kept waiting for the missing ones before it is handled with a gap marker."
    ),
    .init(
      "lockout_failures", \.lockoutFailures,
      doc: "Wrong codes from one number within `lockout_window` before it is locked out."),
    .init("lockout_window", \.lockoutWindow, doc: "Window in which wrong codes are counted."),
    .init(
      "lockout_duration", \.lockoutDuration, doc: "First lockout; each further lockout doubles it, up to 24 hours."),
  ]
}

public enum ClashPolicy: String, ConfigEnum {
  case rename, overwrite, refuse
}

/// What a file drop user may do.
public enum DropRole: String, ConfigEnum {
  /// List folders and download.
  case read
  /// Upload only, without listing: a drop box.
  case drop
  /// Everything: list, download, upload.
  case admin
}

/// One file drop account, `[[filedrop.user]]`.
public struct DropUser: ConfigSection {
  public var name = ""
  public var passwordHash = ""
  public var role = DropRole.read
  public init() {}
  public static let fields: [ConfigField<DropUser>] = [
    .init("name", \.name, doc: "User name (HTTP Basic authentication)."),
    .init(
      "password_hash", \.passwordHash,
      doc: "`pbkdf2-sha256$ITERATIONS$SALT$HASH` as printed by `vigie drop-password`; never the password itself.",
      secret: true),
    .init("role", \.role, doc: "`read` (list and download), `drop` (upload only) or `admin` (both)."),
  ]
}

public struct FileDropConfig: ConfigSection {
  public var enabled = true
  public var listen = "0.0.0.0:8080"
  public var root = "/srv/vigie/drop"
  public var maxUploadSize = ByteSize.gib(4)
  public var freeSpaceReserve = ByteSize.mib(200)
  public var clash = ClashPolicy.rename
  public var publicRead = true
  public var publicDrop = true
  public var maxTransfers = 8
  public var user: [DropUser] = []
  public init() {}
  public static let fields: [ConfigField<FileDropConfig>] = [
    .init("enabled", \.enabled, doc: "Serve the LAN file drop."),
    .init("listen", \.listen, doc: "Address and port to listen on, `host:port` (`[::]:8080` for IPv6)."),
    .init("root", \.root, doc: "Folder served and written; nothing outside it is reachable."),
    .init("max_upload_size", \.maxUploadSize, doc: "Largest single upload."),
    .init("free_space_reserve", \.freeSpaceReserve, doc: "Uploads stop before free space falls below this."),
    .init(
      "clash", \.clash,
      doc: "What an upload does when the name exists: `rename` to `name (1).ext`, `overwrite`, or `refuse`."),
    .init("public_read", \.publicRead, doc: "Allow listing and downloads without a password."),
    .init("public_drop", \.publicDrop, doc: "Allow uploads without a password."),
    .init(
      "max_transfers", \.maxTransfers,
      doc: "Downloads and uploads in progress at once; more get 503 with `Retry-After`."),
    .init("user", tables: \.user, doc: "Accounts for what the public may not do (`[[filedrop.user]]`)."),
  ]
}

public struct DriveConfig: ConfigSection {
  public var enabled = false
  public var mount = "/srv/vigie/drive"
  public var clientID = ""
  public var clientSecret = ""
  public var clientSecretFile = ""
  public var tokenFile = "/var/lib/vigie/drive-token.json"
  public var cacheDir = "/var/cache/vigie/drive"
  public var cacheSize = ByteSize.gib(1)
  public var uploadWindow = ""
  public var pollInterval = Duration.seconds(300)
  public var apiBase = "https://www.googleapis.com/drive/v3"
  public var uploadBase = "https://www.googleapis.com/upload/drive/v3"
  public var tokenURL = "https://oauth2.googleapis.com/token"
  public var deviceURL = "https://oauth2.googleapis.com/device/code"
  public var chunkSize = ByteSize.mib(8)
  public var dailyBudget = ByteSize(bytes: 0)
  public var monthlyBudget = ByteSize(bytes: 0)
  public var requestTimeout = Duration.seconds(60)
  public init() {}
  public static let fields: [ConfigField<DriveConfig>] = [
    .init("enabled", \.enabled, doc: "Mount Google Drive."),
    .init("mount", \.mount, doc: "Mount point of the Drive folder."),
    .init("client_id", \.clientID, doc: "OAuth client id from the Google developer console."),
    .init("client_secret", \.clientSecret, doc: "OAuth client secret. Prefer `client_secret_file`.", secret: true),
    .init("client_secret_file", \.clientSecretFile, doc: "File holding the OAuth client secret (mode 0600)."),
    .init("token_file", \.tokenFile, doc: "Where the OAuth refresh token is kept (written with mode 0600)."),
    .init("cache_dir", \.cacheDir, doc: "Local data cache."),
    .init("cache_size", \.cacheSize, doc: "Largest size of the data cache (dirty data is never evicted)."),
    .init(
      "upload_window", \.uploadWindow,
      doc: "Time of day uploads may run, `HH:MM-HH:MM` in local time; empty means any time."),
    .init("poll_interval", \.pollInterval, doc: "How often the changes feed is polled."),
    .init("api_base", \.apiBase, doc: "Drive API endpoint (tests point it at an emulator)."),
    .init("upload_base", \.uploadBase, doc: "Drive upload endpoint."),
    .init("token_url", \.tokenURL, doc: "OAuth token endpoint."),
    .init("device_url", \.deviceURL, doc: "OAuth device-authorisation endpoint."),
    .init(
      "chunk_size", \.chunkSize,
      doc: "Resumable upload chunk (rounded down to a multiple of 256 KiB); a cut costs at most one chunk."),
    .init("daily_budget", \.dailyBudget, doc: "Bytes uploads may send a day (local time); 0 means no limit."),
    .init("monthly_budget", \.monthlyBudget, doc: "Bytes uploads may send a calendar month; 0 means no limit."),
    .init(
      "request_timeout", \.requestTimeout,
      doc: "A Drive request (or one upload chunk) that makes no progress this long is abandoned and retried."),
  ]
}

/// One watched target, `[[watchdog.target]]`.
public struct WatchTarget: ConfigSection {
  public var name = ""
  public var host = ""
  public var probe = "icmp"
  public var interval: Duration = .zero
  public var timeout: Duration = .zero
  public var dependsOn: [String] = []
  public var expectStatus = "200-399"
  public var expectBody = ""
  public var tlsMinDays = 14
  public var tlsVerify = true
  public init() {}
  /// What an `http:URL` probe expects (`expect_status` already validated).
  public var httpCheck: HTTPCheck {
    HTTPCheck(
      statuses: (try? HTTPCheck.parseStatuses(expectStatus).get()) ?? [200...399], bodyContains: expectBody,
      minimumCertificateDays: tlsMinDays)
  }
  public static let fields: [ConfigField<WatchTarget>] = [
    .init("name", \.name, doc: "Unique name, used in alerts and commands."),
    .init("host", \.host, doc: "Host name or address to probe."),
    .init(
      "probe", \.probe,
      doc:
        "`icmp`, `tcp:PORT`, `tcp-connect:PORT`, `udp-openvpn:PORT`, `tcp-openvpn:PORT`, `dns`, `dns:NAME`, `ntp` or `http:URL`."
    ),
    .init("interval", \.interval, doc: "Probe interval; 0 means `[watchdog] interval`."),
    .init("timeout", \.timeout, doc: "Probe timeout; 0 means `[watchdog] timeout`."),
    .init("depends_on", \.dependsOn, doc: "Names of targets this one is reached through (its parents)."),
    .init(
      "expect_status", \.expectStatus,
      doc: "`http:URL` only: accepted status codes, e.g. `200`, `200-299`, `200,301` (redirects are not followed)."),
    .init("expect_body", \.expectBody, doc: "`http:URL` only: text the body must contain (first MiB); empty for none."),
    .init(
      "tls_min_days", \.tlsMinDays,
      doc: "`http:URL` only: an HTTPS certificate expiring within this many days is a failure; 0 for no check."),
    .init(
      "tls_verify", \.tlsVerify,
      doc: "`http:URL` only: verify the HTTPS certificate chain and host name against the system's CAs."),
  ]
}

public struct WatchdogConfig: ConfigSection {
  public var enabled = true
  public var interval = Duration.seconds(60)
  public var timeout = Duration.seconds(2)
  public var failures = 3
  public var window = 5
  public var successes = 2
  public var maxPacketsPerSecond = 50
  public var gateway = "none"
  public var resolver = "none"
  public var internetAnchors: [String] = []
  public var target: [WatchTarget] = []
  public init() {}
  public static let fields: [ConfigField<WatchdogConfig>] = [
    .init("enabled", \.enabled, doc: "Run the network watchdog."),
    .init("interval", \.interval, doc: "Default probe interval."),
    .init("timeout", \.timeout, doc: "Default probe timeout."),
    .init("failures", \.failures, doc: "A target is DOWN after this many failures..."),
    .init("window", \.window, doc: "...among this many latest probes."),
    .init("successes", \.successes, doc: "Consecutive successes needed to be UP again."),
    .init("max_packets_per_second", \.maxPacketsPerSecond, doc: "Global cap on probe packets sent per second."),
    .init(
      "gateway", \.gateway,
      doc:
        "Implicit target `gateway` (ICMP): `auto` follows the IPv4 default route (/proc/net/route), an address fixes it, `none` turns it off. Other targets may depend on it."
    ),
    .init(
      "resolver", \.resolver,
      doc:
        "Implicit target `resolver` (`dns` probe): `auto` takes the first nameserver of /etc/resolv.conf, an address fixes it, `none` turns it off. It depends on `gateway` unless it is on a connected network."
    ),
    .init(
      "internet_anchors", \.internetAnchors,
      doc:
        "Addresses pinged each round for the uplink `internet` (up if any answers; behind `gateway` when it is on). Targets with `internet` in `depends_on` are INCONCLUSIVE, not DOWN, while it is down. Empty: no uplink watch."
    ),
    .init("target", tables: \.target, doc: "Targets to watch (`[[watchdog.target]]`)."),
  ]
}

/// Someone allowed to command over chat.
public struct ChatPrincipal: ConfigSection {
  public var account = ""
  public var hostmask = ""
  public var jid = ""
  public var level = Privilege.read
  public init() {}
  public static let fields: [ConfigField<ChatPrincipal>] = [
    .init("account", \.account, doc: "IRC services account (checked through SASL/account-tag)."),
    .init("hostmask", \.hostmask, doc: "IRC `nick!user@host` mask; only if you trust the network's cloaks."),
    .init("jid", \.jid, doc: "XMPP bare JID."),
    .init("level", \.level, doc: "Highest privilege allowed."),
  ]
}

public struct IRCConfig: ConfigSection {
  public var enabled = false
  public var server = ""
  public var port = 6697
  public var tls = true
  public var nick = "vigie"
  public var password = ""
  public var passwordFile = ""
  public var channels: [String] = []
  public var commandPrefix = "!"
  public var allow: [ChatPrincipal] = []
  public var user = "vigie"
  public var realname = "Vigie monitoring"
  public var saslAccount = ""
  public var caFile = ""
  public var pinSHA256: [String] = []
  public var clientCert = ""
  public var clientKey = ""
  public var floodBurst = 4
  public var floodInterval = Duration.seconds(1)
  public var pingInterval = Duration.seconds(90)
  public var pingTimeout = Duration.seconds(60)
  public var reconnectMax = Duration.seconds(300)
  public init() {}
  public static let fields: [ConfigField<IRCConfig>] = [
    .init("enabled", \.enabled, doc: "Connect to IRC."),
    .init("server", \.server, doc: "IRC server host name."),
    .init("port", \.port, doc: "IRC server port."),
    .init("tls", \.tls, doc: "Use TLS (certificates verified)."),
    .init("nick", \.nick, doc: "Nickname."),
    .init("password", \.password, doc: "SASL PLAIN password. Prefer `password_file`.", secret: true),
    .init("password_file", \.passwordFile, doc: "File holding the SASL password (mode 0600)."),
    .init(
      "channels", \.channels,
      doc: "Channels to join and send alerts to; `\"#chan key\"` joins with a channel key."),
    .init("command_prefix", \.commandPrefix, doc: "Prefix of commands in channels (`!status`)."),
    .init(
      "allow", tables: \.allow, doc: "Who may command (`[[irc.allow]]` with `account` or `hostmask`, and `level`)."),
    .init("user", \.user, doc: "User name sent at registration (USER)."),
    .init("realname", \.realname, doc: "Real name sent at registration."),
    .init(
      "sasl_account", \.saslAccount,
      doc: "SASL PLAIN account name; empty means `nick`. SASL runs when a password is set."),
    .init(
      "ca_file", \.caFile, doc: "PEM file of the CAs trusted for the server certificate; empty means the system's."),
    .init(
      "pin_sha256", \.pinSHA256,
      doc:
        "Hex SHA-256 of the server's public key (SPKI); when set, a matching key is required and replaces CA checks (self-signed servers)."
    ),
    .init(
      "client_cert", \.clientCert,
      doc: "PEM client certificate for TLS; without a password, SASL EXTERNAL logs in with it (CertFP)."),
    .init("client_key", \.clientKey, doc: "PEM private key of `client_cert` (mode 0600)."),
    .init("flood_burst", \.floodBurst, doc: "Lines sent at once before flood control paces them."),
    .init("flood_interval", \.floodInterval, doc: "Then one line per this interval."),
    .init("ping_interval", \.pingInterval, doc: "Send PING after this long without hearing from the server."),
    .init("ping_timeout", \.pingTimeout, doc: "Reconnect when the server does not answer a PING within this."),
    .init("reconnect_max", \.reconnectMax, doc: "Longest wait between reconnection attempts (backoff with jitter)."),
  ]
}

public struct XMPPConfig: ConfigSection {
  public var enabled = false
  public var jid = ""
  public var password = ""
  public var passwordFile = ""
  public var server = ""
  public var port = 5222
  public var rooms: [String] = []
  public var nick = "vigie"
  public var notify: [String] = []
  public var allow: [ChatPrincipal] = []
  public init() {}
  public static let fields: [ConfigField<XMPPConfig>] = [
    .init("enabled", \.enabled, doc: "Connect to XMPP."),
    .init("jid", \.jid, doc: "The bot's JID (`vigie@example.org`)."),
    .init("password", \.password, doc: "Account password. Prefer `password_file`.", secret: true),
    .init("password_file", \.passwordFile, doc: "File holding the password (mode 0600)."),
    .init("server", \.server, doc: "Server host to connect to; empty means the JID's domain."),
    .init("port", \.port, doc: "Server port."),
    .init("rooms", \.rooms, doc: "MUC rooms to join and send alerts to."),
    .init("nick", \.nick, doc: "Nickname in rooms."),
    .init("notify", \.notify, doc: "JIDs that receive alerts directly."),
    .init("allow", tables: \.allow, doc: "Who may command (`[[xmpp.allow]]` with `jid` and `level`)."),
  ]
}

public struct AlertsConfig: ConfigSection {
  public var enabled = true
  public var groupWindow = Duration.seconds(30)
  public var repeatInterval = Duration.seconds(4 * 3600)
  public var smsFallbackAfter = Duration.seconds(15 * 60)
  public var smsNumbers: [String] = []
  public var quietHours = ""
  public var route: [AlertRoute] = []
  public init() {}
  public static let fields: [ConfigField<AlertsConfig>] = [
    .init("enabled", \.enabled, doc: "Route alerts (otherwise they are only logged)."),
    .init("group_window", \.groupWindow, doc: "Events within this window go out as one message."),
    .init("repeat_interval", \.repeatInterval, doc: "Repeat an open problem this often."),
    .init(
      "sms_fallback_after", \.smsFallbackAfter, doc: "Send alerts by SMS when chat has been unreachable this long."),
    .init("sms_numbers", \.smsNumbers, doc: "Phone numbers that receive SMS alerts."),
    .init(
      "quiet_hours", \.quietHours,
      doc: "`HH:MM-HH:MM`: only critical alerts are sent in this window; the others wait for its end."),
    .init(
      "route", tables: \.route,
      doc: "Routing rules (`[[alerts.route]]`); without any, chat gets every alert and `sms_numbers` the critical ones."
    ),
  ]
}

public struct LEDsConfig: ConfigSection {
  public var enabled = true
  public var sysfsRoot = "/sys/class/leds"
  public var gpioChip = "gpiochip0"
  public var modem = "gpio:17"
  public var network = "gpio:27"
  public var alert = "gpio:22"
  public var activity = "sysfs:ACT"
  public var weakSignalBelow = 30
  public var patterns = LEDPatternsConfig()
  public init() {}
  public static let fields: [ConfigField<LEDsConfig>] = [
    .init("enabled", \.enabled, doc: "Drive status LEDs."),
    .init("sysfs_root", \.sysfsRoot, doc: "Where kernel LED-class devices are."),
    .init("gpio_chip", \.gpioChip, doc: "GPIO chip of `gpio:` LEDs (name, path, label or number)."),
    .init(
      "modem", \.modem,
      doc: "The modem LED: `sysfs:NAME`, `gpio:LINE`, `gpio:LINE:active-low`, or empty when not fitted."),
    .init("network", \.network, doc: "The network LED (same forms as `modem`)."),
    .init("alert", \.alert, doc: "The alert LED (same forms as `modem`)."),
    .init("activity", \.activity, doc: "The LED that flashes on SMS and transfers; the Pi's green LED by default."),
    .init("weak_signal_below", \.weakSignalBelow, doc: "Signal percentage under which the modem LED says \"weak\"."),
    .init("patterns", table: \.patterns, doc: "What each LED shows in each state."),
  ]

  /// The LED of each role that has one (validated by `validate()`).
  public var devices: [(role: LEDRole, device: LEDDevice)] {
    LEDRole.allCases.compactMap { role in
      let text: String =
        switch role {
        case .modem: modem
        case .network: network
        case .alert: alert
        case .activity: activity
        }
      guard case .success(let device?) = LEDDevice.parse(text) else { return nil }
      return (role, device)
    }
  }
}

/// `[leds.patterns]`: a pattern per state: `off`, `on`, `slow`, `fast`,
/// `heartbeat`, `code:N`, or `code` (as many flashes as the state counts).
public struct LEDPatternsConfig: ConfigSection {
  public var modemAbsent = "off"
  public var modemSearching = "fast"
  public var modemPin = "fast"
  public var modemWeak = "slow"
  public var modemGood = "on"
  public var networkUp = "on"
  public var networkDown = "code"
  public var networkNone = "off"
  public var networkUnknown = "slow"
  public var alertOpen = "heartbeat"
  public var alertNone = "off"
  public var activityIdle = "off"
  public init() {}
  public static let fields: [ConfigField<LEDPatternsConfig>] = [
    .init("modem_absent", \.modemAbsent, doc: "No modem."),
    .init("modem_searching", \.modemSearching, doc: "Modem starting, recovering or not registered."),
    .init("modem_pin", \.modemPin, doc: "The SIM needs a PIN or PUK Vigie will not enter."),
    .init("modem_weak", \.modemWeak, doc: "Registered, signal under `weak_signal_below`."),
    .init("modem_good", \.modemGood, doc: "Registered with a good signal."),
    .init("network_up", \.networkUp, doc: "Every watched target is up."),
    .init("network_down", \.networkDown, doc: "Some targets are DOWN (`code`: one flash per target down)."),
    .init("network_none", \.networkNone, doc: "No targets are watched."),
    .init(
      "network_unknown", \.networkUnknown,
      doc: "None DOWN, but some not known to be UP yet (starting, or our uplink cannot judge)."),
    .init("alert_open", \.alertOpen, doc: "An alert is open and not acknowledged."),
    .init("alert_none", \.alertNone, doc: "No open alert."),
    .init("activity_idle", \.activityIdle, doc: "The activity LED between flashes."),
  ]

  /// Every (key, value) pair, for validation.
  var entries: [(key: String, value: String)] {
    [
      ("modem_absent", modemAbsent), ("modem_searching", modemSearching), ("modem_pin", modemPin),
      ("modem_weak", modemWeak), ("modem_good", modemGood), ("network_up", networkUp), ("network_down", networkDown),
      ("network_none", networkNone), ("network_unknown", networkUnknown), ("alert_open", alertOpen),
      ("alert_none", alertNone),
      ("activity_idle", activityIdle),
    ]
  }

  /// The parsed map; a value that does not parse reads as `off`
  /// (`validate()` reports it first).
  public var map: LEDPatternMap {
    func spec(_ text: String) -> LEDPatternSpec { (try? LEDPatternSpec.parse(text).get()) ?? .fixed(.off) }
    return LEDPatternMap(
      modem: [
        .absent: spec(modemAbsent), .searching: spec(modemSearching), .pinProblem: spec(modemPin),
        .weak: spec(modemWeak), .good: spec(modemGood),
      ],
      networkUp: spec(networkUp), networkDown: spec(networkDown), networkNone: spec(networkNone),
      networkUnknown: spec(networkUnknown),
      alertOpen: spec(alertOpen), alertNone: spec(alertNone), activityIdle: spec(activityIdle))
  }
}

public struct StatusConfig: ConfigSection {
  public var enabled = true
  public var listen = ""
  public var metrics = true
  public var history = Duration.seconds(86_400)
  public var adminPasswordFile = ""
  public init() {}
  public static let fields: [ConfigField<StatusConfig>] = [
    .init("enabled", \.enabled, doc: "Serve the status page and `/api/status`."),
    .init("listen", \.listen, doc: "Own `host:port`; empty means on the file drop's server."),
    .init("metrics", \.metrics, doc: "Serve Prometheus metrics at `/metrics`."),
    .init("history", \.history, doc: "How much history graphs keep."),
    .init(
      "admin_password_file", \.adminPasswordFile,
      doc: "File (mode 0600) with the password of user `admin` for the page's actions; empty: no actions."),
  ]
}
