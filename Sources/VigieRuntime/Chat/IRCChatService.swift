import Foundation
import Logging
import ServiceLifecycle
import VigieChat
import VigieCore

/// The IRC side of Vigie: runs the IRC client, delivers the alerts the
/// router queued in `chat.irc` (grouped, paced, marked with their age when
/// late), and runs commands from channels (prefix or mention) and private
/// messages through the shared registry.
public final class IRCChatService: Service, Sendable {
  public static let queue = "chat.irc"
  /// Most alerts listed in one grouped message; the rest are counted.
  static let maxListed = 10

  let config: IRCConfig
  let alerts: AlertsConfig
  let sms: SMSConfig
  let password: String?
  let outbox: Outbox
  let smsStore: SMSStore
  let registry: CommandRegistry
  let board: ChatBoard
  let logger: Logger

  public init(
    config: IRCConfig, alerts: AlertsConfig, sms: SMSConfig, outbox: Outbox, smsStore: SMSStore,
    registry: CommandRegistry, board: ChatBoard, logger: Logger
  ) throws {
    self.config = config
    self.alerts = alerts
    self.sms = sms
    self.password =
      !config.passwordFile.isEmpty
      ? try SecretFile.read(config.passwordFile) : config.password.isEmpty ? nil : config.password
    self.outbox = outbox
    self.smsStore = smsStore
    self.registry = registry
    self.board = board
    var logger = logger
    logger[metadataKey: "service"] = "irc"
    self.logger = logger
  }

  var clientConfiguration: IRCClientConfiguration {
    var configuration = IRCClientConfiguration(
      host: config.server, port: config.port, tls: config.tls, caFile: config.caFile.isEmpty ? nil : config.caFile,
      nick: config.nick, user: config.user, realname: config.realname, password: password,
      saslAccount: config.saslAccount, channels: IRCClientConfiguration.channels(config.channels),
      floodBurst: config.floodBurst, floodInterval: config.floodInterval, pingInterval: config.pingInterval,
      pingTimeout: config.pingTimeout,
      reconnect: Backoff(base: .seconds(1), factor: 2, cap: config.reconnectMax, jitter: 0.3),
      version: "vigie \(VigieVersion.string)")
    configuration.reclaimInterval = .seconds(30)
    configuration.pins = config.pinSHA256.compactMap(CertificatePin.parse)
    if !config.clientCert.isEmpty && !config.clientKey.isEmpty {
      configuration.clientCertificate = config.clientCert
      configuration.clientKey = config.clientKey
    }
    return configuration
  }

  public func run() async throws {
    let board = self.board
    let client = IRCClient(
      configuration: clientConfiguration, logger: logger,
      onMessage: { [self] message, client in await self.handle(message, client: client) },
      onStatus: { status in board.setIRC(status) })
    board.setIRC(client.status)
    defer { board.setIRC(client.status) }
    try await cancelWhenGracefulShutdown {
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await client.run() }
        group.addTask { try await self.deliver(through: client) }
        try await group.next()
        group.cancelAll()
      }
    }
  }

  // MARK: Alerts

  struct Pending: Sendable {
    var item: OutboxItem
    var delivery: ChatDelivery
  }

  /// Claims queued alerts while the link is up and sends them, grouped per
  /// target within `[alerts] group_window`.
  func deliver(through client: IRCClient) async throws {
    var batcher = AlertBatcher<Pending, ContinuousClock.Instant>(window: alerts.groupWindow)
    let channels = Set(IRCClientConfiguration.channels(config.channels).map { IRCText.fold($0.name) })
    var registeredAt: ContinuousClock.Instant?
    while !Task.isCancelled {
      let status = client.status
      if status.registered {
        if registeredAt == nil { registeredAt = .now }
      } else {
        registeredAt = nil
      }
      // Ready: every channel joined, or a while after registration (a
      // channel we cannot join must not hold back the others).
      let joinedAll = channels.isSubset(of: Set(status.joined))
      if let since = registeredAt, joinedAll || since.duration(to: .now) > .seconds(30) {
        let items = try await outbox.claim(queue: Self.queue, owner: "irc", lease: .seconds(900), limit: 100)
        for item in items {
          guard let delivery = try? JSONDecoder().decode(ChatDelivery.self, from: item.payload) else {
            try await outbox.fail(item, reason: "unreadable chat payload", retryable: false)
            continue
          }
          batcher.add(Pending(item: item, delivery: delivery), destination: delivery.target, at: .now)
        }
      }
      for (target, batch) in batcher.due(at: .now) {
        let now = Int(Date().timeIntervalSince1970)
        var shown = batch.prefix(Self.maxListed).map(\.delivery.alert)
        var text = AlertRouting.chatText(Array(shown), now: now)
        if batch.count > Self.maxListed {
          shown = []
          text = text.replacingOccurrences(
            of: "\(Self.maxListed) alerts:", with: "\(batch.count) alerts (\(Self.maxListed) shown):")
          text += "\n… and \(batch.count - Self.maxListed) more (ALERTS lists the open problems)"
        }
        do {
          try await client.send(text, to: target, notice: true)
          for pending in batch { try await outbox.ack(pending.item) }
          logger.info("alerts delivered", metadata: ["to": "\(target)", "count": "\(batch.count)"])
        } catch {
          logger.warning("alerts not delivered; they wait", metadata: ["to": "\(target)", "error": "\(error)"])
          for pending in batch { try await outbox.fail(pending.item, reason: "\(error)", retryable: true) }
        }
      }
      try await Task.sleep(for: .milliseconds(200))
    }
  }

  // MARK: Commands

  /// The command in `message`, if it is one for us: a private message, a
  /// channel message starting with the prefix, or one addressed to our nick.
  func commandText(of message: IRCIncomingMessage) -> String? {
    var text = message.text.trimmingCharacters(in: .whitespaces)
    if !message.isPrivate {
      let nick = message.ourNick
      if !config.commandPrefix.isEmpty, text.hasPrefix(config.commandPrefix) {
        text.removeFirst(config.commandPrefix.count)
      } else if text.count > nick.count, IRCText.fold(String(text.prefix(nick.count))) == IRCText.fold(nick),
        let next = text.dropFirst(nick.count).first, ":, ".contains(next)
      {
        text = String(text.dropFirst(nick.count + 1))
      } else {
        return nil
      }
    } else if !config.commandPrefix.isEmpty, text.hasPrefix(config.commandPrefix) {
      text.removeFirst(config.commandPrefix.count)
    }
    text = text.trimmingCharacters(in: .whitespaces)
    return text.isEmpty ? nil : text
  }

  /// Who may command: a services account (IRCv3 account tag, what the
  /// server told us, or a WHOIS) or, only if configured, a hostmask.
  func allowed(_ message: IRCIncomingMessage, client: IRCClient?) async -> (entry: ChatPrincipal, identity: String)? {
    var account = message.account
    if account == nil, let client, config.allow.contains(where: { !$0.account.isEmpty }) {
      account = await client.account(of: message.source.nick)
    }
    if let account {
      if let entry = config.allow.first(where: {
        !$0.account.isEmpty && IRCText.fold($0.account) == IRCText.fold(account)
      }) {
        return (entry, "account:\(account)")
      }
    }
    let mask = message.source.description
    if let entry = config.allow.first(where: { !$0.hostmask.isEmpty && IRCText.maskMatches($0.hostmask, mask) }) {
      return (entry, mask)
    }
    return nil
  }

  func handle(_ message: IRCIncomingMessage, client: IRCClient? = nil) async -> String? {
    guard let text = commandText(of: message) else { return nil }
    let address = message.isPrivate ? "" : "\(message.source.nick): "
    guard let (entry, identity) = await allowed(message, client: client) else {
      logger.notice(
        "IRC command from someone not allowed",
        metadata: [
          "from": "\(message.source)", "account": "\(message.account ?? "none")",
          "text": "\(IRCMessage.printable(text))",
        ])
      return address
        + "You may not command this box (log in to services with an account listed in [[irc.allow]])."
    }
    let principal = Principal(transport: .irc, identity: identity, level: entry.level)
    let commandText: String
    switch SMSSecret.split(text, grammar: registry.grammar) {
    case .notRequired(let command):
      commandText = command
    case .missing(let command):
      let name = command.split(separator: " ").first.map(String.init) ?? command
      return address
        + "\(name.uppercased()) needs your code as the last word (better in a private message), e.g. \(command.uppercased()) 123456."
    case .provided(let command, let secret):
      do {
        let configuration = try SMSGatewayConfiguration(sms)
        let now = Int64(Date().timeIntervalSince1970)
        var lockout = try await smsStore.lockout(policy: configuration.lockout)
        if case .locked = lockout.status(of: identity, at: now) { return nil }
        var guardState = try await smsStore.replayGuard()
        let verdict = SMSSecret.Verifier(totp: configuration.totp, passphrase: configuration.passphrase)
          .verify(secret, at: now, replayGuard: &guardState)
        switch verdict {
        case .totp, .passphrase:
          lockout.recordSuccess(of: identity)
          try await smsStore.save(lockout: lockout, replayGuard: guardState)
          commandText = command
        case .replayed:
          return address + "That code was already used; wait for the next one."
        case .notConfigured:
          return address + "No code is configured on the box ([sms] totp_secret_file or passphrase_file)."
        case .wrong:
          let status = lockout.recordFailure(of: identity, at: now)
          try await smsStore.save(lockout: lockout, replayGuard: guardState)
          logger.warning("wrong code over IRC", metadata: ["from": "\(identity)"])
          if case .allowed(let remaining) = status {
            return address + "Wrong code (\(remaining) attempt\(remaining == 1 ? "" : "s") left)."
          }
          return nil
        }
      } catch {
        logger.error("cannot check the code", metadata: ["error": "\(error)"])
        return address + "Cannot check the code now: \(error)"
      }
    }
    let reply = await registry.execute(commandText, as: principal)
    return address + reply.text
  }
}
