import Foundation
import GRDB
import Logging
import ServiceLifecycle
import VigieCore

/// Settings of the SMS gateway, resolved from `[sms]` (secrets read).
public struct SMSGatewayConfiguration: Sendable {
  public var allow: [SMSSender]
  public var region: PhoneRegion?
  public var totp: TOTP?
  public var passphrase: String?
  public var maxReplyParts: Int
  public var dailyBudget: Int
  public var maxCommandAge: Duration
  public var multipartTimeout: Duration
  public var lockout: SenderLockout.Policy

  public init(_ section: SMSConfig) throws {
    allow = section.allow
    region = section.region
    totp =
      section.totpSecretFile.isEmpty ? nil : try TOTP(base32Secret: SecretFile.read(section.totpSecretFile))
    passphrase = section.passphraseFile.isEmpty ? nil : try SecretFile.read(section.passphraseFile)
    maxReplyParts = section.maxReplyParts
    dailyBudget = section.dailyBudget
    maxCommandAge = section.maxCommandAge
    multipartTimeout = section.multipartTimeout
    lockout = SenderLockout.Policy(
      maxFailures: section.lockoutFailures, window: section.lockoutWindow, lockout: section.lockoutDuration)
  }
}

/// The SMS command gateway: turns stored SMS parts into messages, decides
/// who may command what, journals each command before it runs (so REBOOT
/// runs once even if the process dies right after), runs it through the
/// shared registry, and queues the reply in the durable SMS outbox.
///
/// It never talks to the modem: the modem service fills `sms_parts` and
/// drains the `sms` outbox queue. Either can restart without the other.
public final class SMSGatewayService: Service, Sendable {
  let configuration: SMSGatewayConfiguration
  let store: SMSStore
  let registry: CommandRegistry
  let logger: Logger
  /// Whether the system clock can be trusted to judge command age.
  let clockIsSynchronised: @Sendable () -> Bool

  public init(
    configuration: SMSGatewayConfiguration, store: SMSStore, registry: CommandRegistry, logger: Logger,
    clockIsSynchronised: @escaping @Sendable () -> Bool = SystemClock.isSynchronised
  ) {
    self.configuration = configuration
    self.store = store
    self.registry = registry
    var logger = logger
    logger[metadataKey: "service"] = "sms"
    self.logger = logger
    self.clockIsSynchronised = clockIsSynchronised
  }

  public func run() async throws {
    let interrupted = try await store.markInterrupted()
    for message in interrupted {
      logger.warning(
        "a command was interrupted by a restart and is not run again",
        metadata: ["from": "\(message.sender)", "command": "\(message.redacted)"])
    }
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      let now = Int(Date().timeIntervalSince1970)
      let assembled = try await store.assemble(now: now, timeout: configuration.multipartTimeout)
      if assembled > 0 { logger.debug("messages assembled", metadata: ["count": "\(assembled)"]) }
      while let message = try await store.nextNew() {
        await handle(message)
      }
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
    }
  }

  // MARK: One message

  func handle(_ message: SMSStore.Message) async {
    do {
      try await process(message)
    } catch {
      logger.error("SMS handling failed; it is kept for a person to look at", metadata: ["error": "\(error)"])
      _ = try? await store.finish(message.id, state: "failed", outcome: "\(error)", reply: nil)
    }
  }

  func process(_ message: SMSStore.Message) async throws {
    let grammar = registry.grammar
    let redacted = SMSSecret.redacted(message.text, grammar: grammar)
    // 1. Who is it? Unknown senders are never answered.
    guard case .success(let number) = PhoneNumber.parse(message.sender, region: configuration.region),
      let e164 = number.e164,
      let entry = configuration.allow.first(where: {
        PhoneNumber.same($0.number, e164, region: configuration.region)
      })
    else {
      logger.notice(
        "SMS from an unknown sender ignored", metadata: ["from": "\(message.sender)", "text": "\(redacted)"])
      try await store.finish(message.id, state: "ignored", outcome: "unknown sender", reply: nil, redacted: redacted)
      return
    }
    let principal = Principal(transport: .sms, identity: e164, level: entry.level)
    let now = Int64(Date().timeIntervalSince1970)

    // 2. Locked out after wrong codes?
    var lockout = try await store.lockout(policy: configuration.lockout)
    if case .locked(let until) = lockout.status(of: e164, at: now) {
      logger.notice("SMS from a locked-out sender ignored", metadata: ["from": "\(e164)", "until": "\(until)"])
      try await store.finish(message.id, state: "refused", outcome: "locked out", reply: nil, redacted: redacted)
      return
    }

    // 3. Too old? (only when our clock can be trusted: a Pi has no RTC)
    if let sentAt = message.smscUnix, clockIsSynchronised() {
      switch CommandAge(maxAge: configuration.maxCommandAge).check(sentAt: sentAt, now: now) {
      case .tooOld(let age):
        let reply =
          "Ignored \"\(redacted)\": sent \(StatusReport.formatDuration(Int(age.components.seconds))) ago, older than \(configuration.maxCommandAge.configText)."
        try await finish(message, state: "refused", outcome: "too old", reply: reply, redacted: redacted, to: e164)
        return
      case .fromTheFuture, .fresh:
        break
      }
    }

    // 4. Operate/admin commands need a code as their last word.
    let commandText: String
    switch SMSSecret.split(message.text, grammar: grammar) {
    case .notRequired(let command):
      commandText = command
    case .missing(let command):
      let name = command.split(separator: " ").first.map(String.init) ?? command
      try await finish(
        message, state: "refused", outcome: "code missing",
        reply: "\(name.uppercased()) needs your code as the last word, e.g. \(command.uppercased()) 123456.",
        redacted: redacted, to: e164)
      return
    case .provided(let command, let secret):
      var guardState = try await store.replayGuard()
      let verdict = SMSSecret.Verifier(totp: configuration.totp, passphrase: configuration.passphrase)
        .verify(secret, at: now, replayGuard: &guardState)
      switch verdict {
      case .totp, .passphrase:
        lockout.recordSuccess(of: e164)
        try await store.save(lockout: lockout, replayGuard: guardState)
        commandText = command
      case .replayed:
        try await finish(
          message, state: "refused", outcome: "code replayed",
          reply: "That code was already used; wait for the next one.", redacted: redacted, to: e164)
        return
      case .notConfigured:
        try await finish(
          message, state: "refused", outcome: "no code configured",
          reply: "No code is configured for this command on the box ([sms] totp_secret_file).", redacted: redacted,
          to: e164)
        return
      case .wrong:
        let status = lockout.recordFailure(of: e164, at: now)
        try await store.save(lockout: lockout, replayGuard: guardState)
        logger.warning("wrong code by SMS", metadata: ["from": "\(e164)", "status": "\(status)"])
        let reply: String? =
          switch status {
          case .locked: nil  // say nothing more to someone guessing
          case .allowed(let remaining): "Wrong code (\(remaining) attempt\(remaining == 1 ? "" : "s") left)."
          }
        try await finish(message, state: "refused", outcome: "wrong code", reply: reply, redacted: redacted, to: e164)
        return
      }
    }

    // 5. Journal, then run. A crash from here on leaves the message
    //    'running': it is never run again (see markInterrupted).
    try await store.markRunning(message.id, redacted: redacted)
    let reply = await registry.execute(commandText, as: principal)
    try await finish(
      message, state: "done", outcome: reply.ok ? "ok" : "refused by the command", reply: reply.text,
      redacted: redacted, to: e164)
  }

  /// Records the outcome and queues the reply (capped to the configured
  /// parts, within the daily budget) in one transaction.
  func finish(
    _ message: SMSStore.Message, state: String, outcome: String, reply: String?, redacted: String, to number: String
  ) async throws {
    guard let reply else {
      try await store.finish(message.id, state: state, outcome: outcome, reply: nil, redacted: redacted)
      return
    }
    let plan = SMSPlan.capped(text: reply, maxParts: configuration.maxReplyParts)
    let queued = try await store.finish(
      message.id, state: state, outcome: outcome,
      reply: SMSStore.Reply(to: number, plan: plan, budget: configuration.dailyBudget), redacted: redacted)
    if !queued {
      logger.warning(
        "daily SMS budget reached: reply not sent",
        metadata: ["to": "\(number)", "budget": "\(configuration.dailyBudget)"])
    }
  }
}

/// The system clock's synchronisation state (adjtimex): a Pi has no RTC and
/// boots in the past until NTP or the network sets the time.
public enum SystemClock {
  /// adjtimex(2) with `modes = 0` only reads the kernel's NTP state; it
  /// returns TIME_ERROR (5) while the clock is unsynchronised. Glibc's
  /// module does not import it, so it is looked up with dlsym and called
  /// through a C function pointer; `struct timex` is 208 bytes on 64-bit
  /// Linux, and a zeroed 512-byte buffer covers it.
  @Sendable public static func isSynchronised() -> Bool {
    typealias AdjTimex = @convention(c) (UnsafeMutableRawPointer) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "adjtimex") else { return true }
    let adjtimex = unsafeBitCast(symbol, to: AdjTimex.self)
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
    defer { buffer.deallocate() }
    buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 512)
    return adjtimex(buffer) != 5
  }
}
