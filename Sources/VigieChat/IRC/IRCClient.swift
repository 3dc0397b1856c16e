import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import VigieCore

/// What the IRC client needs to know.
public struct IRCClientConfiguration: Sendable {
  public var host: String
  public var port: Int
  public var tls: Bool
  /// PEM file of trusted CAs; nil means the system's trust store.
  public var caFile: String?
  /// SHA-256 digests of accepted server public keys (SPKI); when not
  /// empty, a matching key is required and replaces the CA checks.
  public var pins: [[UInt8]] = []
  public var nick: String
  public var user: String
  public var realname: String
  /// SASL PLAIN password; nil means no SASL.
  public var password: String?
  public var saslAccount: String
  /// PEM client certificate and key for TLS; with no password, SASL
  /// EXTERNAL logs in with the certificate.
  public var clientCertificate: String?
  public var clientKey: String?
  /// The SASL mechanism used: PLAIN with a password, EXTERNAL with a
  /// client certificate alone, none otherwise.
  public var saslMechanism: String? {
    if password != nil { return "PLAIN" }
    if clientCertificate != nil && tls { return "EXTERNAL" }
    return nil
  }
  /// Channel names and their keys.
  public var channels: [(name: String, key: String?)]
  public var floodBurst: Int
  public var floodInterval: Duration
  public var pingInterval: Duration
  public var pingTimeout: Duration
  public var reconnect: Backoff
  /// How often a taken primary nick is asked for again.
  public var reclaimInterval: Duration = .seconds(60)
  /// Wait before rejoining after a KICK.
  public var rejoinDelay: Duration = .seconds(5)
  /// Wait before trying again a channel we could not join (banned, full, wrong key).
  public var joinRetry: Duration = .seconds(60)
  public var connectTimeout: Duration = .seconds(15)
  /// Answer to CTCP VERSION.
  public var version: String

  public init(
    host: String, port: Int, tls: Bool, caFile: String? = nil, nick: String, user: String = "vigie",
    realname: String = "Vigie monitoring", password: String? = nil, saslAccount: String = "",
    channels: [(name: String, key: String?)] = [], floodBurst: Int = 4, floodInterval: Duration = .seconds(1),
    pingInterval: Duration = .seconds(90), pingTimeout: Duration = .seconds(60),
    reconnect: Backoff = Backoff(base: .seconds(2), factor: 2, cap: .seconds(300), jitter: 0.3),
    version: String = "vigie"
  ) {
    self.host = host
    self.port = port
    self.tls = tls
    self.caFile = caFile
    self.nick = nick
    self.user = user
    self.realname = realname
    self.password = password
    self.saslAccount = saslAccount
    self.channels = channels
    self.floodBurst = floodBurst
    self.floodInterval = floodInterval
    self.pingInterval = pingInterval
    self.pingTimeout = pingTimeout
    self.reconnect = reconnect
    self.version = version
  }

  /// `"#chan key"` entries of `[irc] channels` as names and keys.
  public static func channels(_ entries: [String]) -> [(name: String, key: String?)] {
    entries.map { entry in
      let words = entry.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
      return (words.first ?? entry, words.count > 1 ? words[1] : nil)
    }
  }
}

/// A message someone sent us or a channel we are in.
public struct IRCIncomingMessage: Sendable, Hashable {
  public var source: IRCSource
  /// The channel, or our nick for a private message.
  public var target: String
  public var text: String
  /// The sender's services account: the IRCv3 `account` tag, else what
  /// account-notify, extended-join or WHOIS told us; nil when not logged in
  /// or unknown.
  public var account: String?
  public var isPrivate: Bool
  /// Where an answer goes: the channel, or the sender for a private message.
  public var replyTarget: String { isPrivate ? source.nick : target }
  /// Our nick when the message arrived (to recognise mentions).
  public var ourNick: String
}

public enum IRCClientError: Error, Sendable, Hashable, CustomStringConvertible {
  case notConnected
  case disconnected(String)
  case invalidTarget(String)

  public var description: String {
    switch self {
    case .notConnected: "not connected to IRC"
    case .disconnected(let reason): "the IRC connection was lost before the message went out (\(reason))"
    case .invalidTarget(let target): "'\(IRCMessage.printable(target))' is not a channel or nick"
    }
  }
}

/// The live state of the link, for STATUS and the alert router.
public struct IRCLinkStatus: Sendable, Hashable {
  public var registered = false
  public var nick: String?
  public var joined: [String] = []
  /// When the link last went down (seconds since 1970); nil while up.
  public var downSince: Int?
  public var lastError: String?
  public var capabilities: [String] = []
  public var account: String?
}

/// An IRC client on SwiftNIO: TLS (verified) or plain TCP, IRCv3 CAP
/// negotiation (sasl, server-time, account-tag, account-notify,
/// extended-join), SASL PLAIN, registration with alternate nicks and
/// reclaim, JOIN with keys and rejoin after KICK or reconnect, PING/PONG
/// both ways with a deadline, reconnect with backoff and jitter, flood
/// control, UTF-8-safe splitting, CTCP VERSION/PING.
public final class IRCClient: Sendable {
  public let configuration: IRCClientConfiguration
  let logger: Logger
  let onMessage: @Sendable (IRCIncomingMessage, IRCClient) async -> String?
  let onStatus: @Sendable (IRCLinkStatus) -> Void
  private let events: AsyncStream<Event>
  private let continuation: AsyncStream<Event>.Continuation
  private let statusBox: Mutex<IRCLinkStatus>

  struct Outgoing: Sendable {
    var command: String
    var target: String
    var text: String
    var done: CheckedContinuation<Void, any Error>
  }

  enum Event: Sendable {
    case inbound(generation: Int, IRCInbound)
    case closed(generation: Int, reason: String)
    case tick
    case send(Outgoing)
    case raw(IRCMessage)
    case whois(String, CheckedContinuation<String?, Never>)
  }

  public init(
    configuration: IRCClientConfiguration, logger: Logger,
    onMessage: @escaping @Sendable (IRCIncomingMessage, IRCClient) async -> String? = { _, _ in nil },
    onStatus: @escaping @Sendable (IRCLinkStatus) -> Void = { _ in }
  ) {
    self.configuration = configuration
    self.logger = logger
    self.onMessage = onMessage
    self.onStatus = onStatus
    (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
    var initial = IRCLinkStatus()
    initial.downSince = Int(Date().timeIntervalSince1970)
    statusBox = Mutex(initial)
  }

  public var status: IRCLinkStatus { statusBox.withLock { $0 } }

  func updateStatus(_ change: (inout IRCLinkStatus) -> Void) {
    let status = statusBox.withLock { status in
      change(&status)
      return status
    }
    onStatus(status)
  }

  /// Sends `text` to `target` (a channel or nick), split to fit, paced by
  /// flood control; returns once every line is written to the connection.
  /// `notice` is for automatic messages (alerts): bots never answer NOTICEs.
  public func send(_ text: String, to target: String, notice: Bool = false) async throws {
    guard !target.isEmpty, !target.contains(where: { " ,\r\n\0".contains($0) }) else {
      throw IRCClientError.invalidTarget(target)
    }
    guard status.registered else { throw IRCClientError.notConnected }
    try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
      let outgoing = Outgoing(command: notice ? "NOTICE" : "PRIVMSG", target: target, text: text, done: done)
      if case .terminated = continuation.yield(.send(outgoing)) { done.resume(throwing: IRCClientError.notConnected) }
    }
  }

  /// The services account of `nick`: what the server already told us
  /// (account-notify, extended-join, an earlier WHOIS), else a WHOIS (330);
  /// nil when not logged in, unknown within 5 s, or not connected.
  public func account(of nick: String) async -> String? {
    guard status.registered, !nick.isEmpty, !nick.contains(where: { " ,\r\n\0".contains($0) }) else { return nil }
    return await withCheckedContinuation { (done: CheckedContinuation<String?, Never>) in
      if case .terminated = continuation.yield(.whois(nick, done)) { done.resume(returning: nil) }
    }
  }

  /// Sends a raw command, paced like the others; no error if down.
  public func sendRaw(_ message: IRCMessage) { continuation.yield(.raw(message)) }

  /// Connects, and reconnects with backoff, until cancelled.
  public func run() async throws {
    let ticker = Task { [continuation] in
      while !Task.isCancelled {
        try? await Task.sleep(for: .milliseconds(200))
        continuation.yield(.tick)
      }
    }
    var iterator = events.makeAsyncIterator()
    var failure: (any Error)?
    do {
      try await loop(&iterator)
    } catch {
      failure = error
    }
    ticker.cancel()
    markDown()
    // Nobody will read the stream again: fail the sends still waiting in it.
    continuation.finish()
    while let event = await iterator.next() {
      if case .send(let outgoing) = event { outgoing.done.resume(throwing: IRCClientError.notConnected) }
      if case .whois(_, let done) = event { done.resume(returning: nil) }
    }
    if let failure, !(failure is CancellationError) { throw failure }
  }

  private func loop(_ iterator: inout AsyncStream<Event>.Iterator) async throws {
    let sslContext: NIOSSLContext? = try configuration.tls ? makeSSLContext() : nil
    var attempt = 0
    var generation = 0
    while !Task.isCancelled {
      generation += 1
      let started = ContinuousClock.now
      var registered = false
      do {
        registered = try await session(generation: generation, ssl: sslContext, iterator: &iterator)
      } catch is CancellationError {
        break
      } catch {
        logger.warning("IRC connection failed", metadata: ["error": "\(error)"])
        updateStatus { $0.lastError = "\(error)" }
      }
      markDown()
      if Task.isCancelled { break }
      // A connection that stayed registered a while resets the backoff.
      attempt = registered && started.duration(to: .now) > .seconds(60) ? 1 : attempt + 1
      let delay = configuration.reconnect.delay(attempt: attempt)
      logger.info("IRC reconnecting", metadata: ["in": "\(delay)", "attempt": "\(attempt)"])
      let deadline = ContinuousClock.now.advanced(by: delay)
      // Wait, failing sends that arrive meanwhile (ticks wake us up).
      while ContinuousClock.now < deadline, !Task.isCancelled {
        guard let event = await iterator.next() else { return }
        if case .send(let outgoing) = event { outgoing.done.resume(throwing: IRCClientError.notConnected) }
        if case .whois(_, let done) = event { done.resume(returning: nil) }
      }
    }
  }

  func markDown() {
    updateStatus { status in
      if status.downSince == nil { status.downSince = Int(Date().timeIntervalSince1970) }
      status.registered = false
      status.joined = []
    }
  }

  func makeSSLContext() throws -> NIOSSLContext {
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.certificateVerification = .fullVerification
    tls.minimumTLSVersion = .tlsv12
    if let caFile = configuration.caFile, !caFile.isEmpty { tls.trustRoots = .file(caFile) }
    if let certificate = configuration.clientCertificate, let key = configuration.clientKey {
      tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
      tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
    }
    return try NIOSSLContext(configuration: tls)
  }

  /// One connection, from connect to close. Returns whether it got registered.
  private func session(
    generation: Int, ssl: NIOSSLContext?, iterator: inout AsyncStream<Event>.Iterator
  ) async throws -> Bool {
    let host = configuration.host
    let isAddress = host.contains(":") || host.split(separator: ".").allSatisfy { Int($0) != nil }
    let sniName: String? = isAddress ? nil : host
    let pins = configuration.pins
    logger.info("IRC connecting", metadata: ["server": "\(host):\(configuration.port)", "tls": "\(ssl != nil)"])
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connectTimeout(.milliseconds(Int64(configuration.connectTimeout.seconds * 1000)))
      .connect(host: host, port: configuration.port) { channel in
        channel.eventLoop.makeCompletedFuture {
          if let ssl {
            if pins.isEmpty {
              try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: ssl, serverHostname: sniName))
            } else {
              // Pinning: the leaf's public key must match; this replaces the
              // CA and host name checks (for self-signed servers).
              let handler = try NIOSSLClientHandler(context: ssl, serverHostname: sniName) { certificates, promise in
                guard let leaf = certificates.first, let spki = try? leaf.extractPublicKey().toSPKIBytes(),
                  CertificatePin.matches(spki: spki, pins: pins)
                else {
                  promise.succeed(.failed)
                  return
                }
                promise.succeed(.certificateVerified)
              }
              try channel.pipeline.syncOperations.addHandler(handler)
            }
          }
          try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(IRCLineDecoder()))
          return try NIOAsyncChannel<IRCInbound, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
      }
    var session = IRCSession(configuration: configuration, now: .now)
    let continuation = self.continuation
    return try await channel.executeThenClose { inbound, outbound in
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          do {
            for try await item in inbound { continuation.yield(.inbound(generation: generation, item)) }
            continuation.yield(.closed(generation: generation, reason: "the server closed the connection"))
          } catch {
            continuation.yield(.closed(generation: generation, reason: "\(error)"))
          }
        }
        defer { group.cancelAll() }
        session.start()
        var closeReason: String?
        while closeReason == nil {
          try await flush(&session, outbound)
          guard let event = await iterator.next() else { break }
          if Task.isCancelled {
            session.quit("shutting down")
            try? await flush(&session, outbound, force: true)
            throw CancellationError()
          }
          switch event {
          case .inbound(let g, let item) where g == generation:
            switch item {
            case .line(let bytes):
              switch IRCMessage.parse(bytes) {
              case .success(let message):
                let effects = session.handle(message, now: .now)
                apply(effects)
              case .failure(let error):
                session.badLines += 1
                logger.warning("IRC line rejected", metadata: ["reason": "\(error)"])
              }
            case .oversized(let count):
              session.badLines += 1
              logger.warning("IRC line rejected", metadata: ["reason": "line of \(count) bytes is too long"])
            }
          case .inbound: continue
          case .closed(let g, let reason) where g == generation: closeReason = reason
          case .closed: continue
          case .tick:
            if let reason = session.tick(now: .now) {
              closeReason = reason
              session.quit(reason)
            }
          case .send(let outgoing):
            if session.registered {
              session.enqueue(outgoing)
            } else {
              outgoing.done.resume(throwing: IRCClientError.notConnected)
            }
          case .whois(let nick, let done):
            if session.registered { session.whois(nick, done: done, now: .now) } else { done.resume(returning: nil) }
          case .raw(let message):
            if session.registered { session.enqueue(message) }
          }
          publish(session)
        }
        try? await flush(&session, outbound, force: true)
        logger.warning("IRC disconnected", metadata: ["reason": "\(closeReason ?? "stream ended")"])
        updateStatus { $0.lastError = closeReason }
        session.failPending(IRCClientError.disconnected(closeReason ?? "closed"))
        session.endWhois(all: true, now: .now)
        return session.everRegistered
      }
    }
  }

  private func publish(_ session: IRCSession) {
    let joined = session.joined.sorted()
    let registered = session.registered
    let nick = session.nick
    let capabilities = session.enabledCaps.sorted()
    let account = session.account
    let changed = statusBox.withLock { status in
      status.registered != registered || status.nick != nick || status.joined != joined
        || status.capabilities != capabilities || status.account != account
    }
    guard changed else { return }
    updateStatus { status in
      status.registered = registered
      status.nick = nick
      status.joined = joined
      status.capabilities = capabilities
      status.account = account
      if registered { status.downSince = nil }
    }
  }

  private func apply(_ effects: [IRCSession.Effect]) {
    for effect in effects {
      switch effect {
      case .log(let level, let text): logger.log(level: level, "\(text)")
      case .deliver(let message):
        let onMessage = self.onMessage
        // Commands run beside the protocol loop; the reply goes where the
        // command came from, as a PRIVMSG (a person asked).
        // Not a child of the session's group: a reply waiting for a session
        // that ends would keep the group from finishing.
        Task { [self] in
          guard let reply = await onMessage(message, self) else { return }
          do {
            try await send(reply, to: message.replyTarget)
          } catch {
            logger.warning("IRC reply not sent", metadata: ["to": "\(message.replyTarget)", "error": "\(error)"])
          }
        }
      }
    }
  }

  /// Writes what flood control lets out now; `force` ignores it (QUIT on the way out).
  private func flush(
    _ session: inout IRCSession, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, force: Bool = false
  ) async throws {
    while let line = session.nextLine(now: .now, force: force) {
      do {
        try await outbound.write(ByteBuffer(bytes: line.bytes))
        line.done?.resume()
      } catch {
        line.done?.resume(throwing: IRCClientError.disconnected("\(error)"))
        throw error
      }
    }
  }
}

/// The protocol state of one connection, without I/O: fed messages and
/// ticks, it queues lines to write and tells what to deliver.
struct IRCSession {
  enum Effect {
    case log(Logger.Level, String)
    case deliver(IRCIncomingMessage)
  }

  struct Line {
    var bytes: [UInt8]
    var done: CheckedContinuation<Void, any Error>?
    var priority: Bool
  }

  let configuration: IRCClientConfiguration
  var nick: String
  var nickAttempt = 0
  var user: String?
  var host: String?
  var registered = false
  var everRegistered = false
  var joined: Set<String> = []
  /// Channel (folded) → when to try joining again.
  var rejoinAt: [String: ContinuousClock.Instant] = [:]
  var lastReceived: ContinuousClock.Instant
  var pingSentAt: ContinuousClock.Instant?
  var pingCounter = 0
  var nextReclaim: ContinuousClock.Instant?
  let connectedAt: ContinuousClock.Instant
  var capLS: [String] = []
  var capNegotiating = false
  var enabledCaps: Set<String> = []
  var account: String?
  /// Folded nick → services account, from account-notify, extended-join and WHOIS.
  var accounts: [String: String] = [:]
  var bucket: TokenBucket<ContinuousClock.Instant>
  var queue: [Line] = []
  var badLines = 0
  /// WHOIS asked, by folded nick: who waits, until when.
  var whoisWaiters: [String: (deadline: ContinuousClock.Instant, waiting: [CheckedContinuation<String?, Never>])] = [:]

  mutating func whois(_ nick: String, done: CheckedContinuation<String?, Never>, now: ContinuousClock.Instant) {
    let folded = IRCText.fold(nick)
    if let known = accounts[folded] {
      done.resume(returning: known)
      return
    }
    if var entry = whoisWaiters[folded] {
      entry.waiting.append(done)
      whoisWaiters[folded] = entry
      return
    }
    whoisWaiters[folded] = (now.advanced(by: .seconds(5)), [done])
    enqueue(IRCMessage("WHOIS", nick))
  }

  /// Answers the WHOIS waiters whose reply ended (`nick`), timed out, or all.
  mutating func endWhois(nick: String? = nil, all: Bool = false, now: ContinuousClock.Instant) {
    for (folded, entry) in whoisWaiters where all || folded == nick.map(IRCText.fold) || entry.deadline <= now {
      whoisWaiters[folded] = nil
      for done in entry.waiting { done.resume(returning: accounts[folded]) }
    }
  }

  init(configuration: IRCClientConfiguration, now: ContinuousClock.Instant) {
    self.configuration = configuration
    self.nick = configuration.nick
    self.lastReceived = now
    self.connectedAt = now
    self.bucket = TokenBucket(burst: configuration.floodBurst, interval: configuration.floodInterval, now: now)
  }

  static let wantedCaps: Set<String> = [
    "sasl", "server-time", "account-tag", "account-notify", "extended-join", "message-tags",
  ]

  mutating func start() {
    capNegotiating = true
    enqueue(IRCMessage("CAP", "LS", "302"), priority: true)
    enqueue(IRCMessage("NICK", nick), priority: true)
    enqueue(IRCMessage("USER", configuration.user, "0", "*", configuration.realname), priority: true)
  }

  mutating func quit(_ reason: String) {
    enqueue(IRCMessage("QUIT", reason), priority: true)
  }

  mutating func enqueue(
    _ message: IRCMessage, priority: Bool = false, done: CheckedContinuation<Void, any Error>? = nil
  ) {
    do {
      let bytes = try message.serialized()
      let line = Line(bytes: bytes, done: done, priority: priority)
      if priority, let index = queue.firstIndex(where: { !$0.priority }) {
        queue.insert(line, at: index)
      } else {
        queue.append(line)
      }
    } catch {
      done?.resume(throwing: error)
    }
  }

  mutating func enqueue(_ outgoing: IRCClient.Outgoing) {
    let budget = IRCText.budget(
      command: outgoing.command, target: outgoing.target, nick: nick, user: user, host: host)
    let lines = IRCText.split(outgoing.text, budget: budget)
    if lines.isEmpty {
      outgoing.done.resume()
      return
    }
    for (index, line) in lines.enumerated() {
      enqueue(
        IRCMessage(command: outgoing.command, params: [outgoing.target, line]),
        done: index == lines.count - 1 ? outgoing.done : nil)
    }
  }

  /// The next line flood control lets out, if any.
  mutating func nextLine(now: ContinuousClock.Instant, force: Bool) -> Line? {
    guard let first = queue.first else { return nil }
    if !force && !first.priority && bucket.take(at: now) != nil { return nil }
    if first.priority { _ = bucket.take(at: now) }
    return queue.removeFirst()
  }

  mutating func failPending(_ error: any Error) {
    for line in queue { line.done?.resume(throwing: error) }
    queue.removeAll()
  }

  /// Timers: our PING and its deadline, nick reclaim, rejoins. Returns a
  /// reason to drop the connection.
  mutating func tick(now: ContinuousClock.Instant) -> String? {
    if !registered, connectedAt.duration(to: now) > configuration.pingTimeout + .seconds(30) {
      return "registration timed out"
    }
    if let sent = pingSentAt {
      if sent.duration(to: now) > configuration.pingTimeout {
        return "ping timeout: no answer within \(configuration.pingTimeout)"
      }
    } else if lastReceived.duration(to: now) > configuration.pingInterval {
      pingCounter += 1
      pingSentAt = now
      enqueue(IRCMessage("PING", "vigie-\(pingCounter)"), priority: true)
    }
    guard registered else { return nil }
    if !whoisWaiters.isEmpty { endWhois(now: now) }
    if nick != configuration.nick, let at = nextReclaim, at <= now {
      enqueue(IRCMessage("NICK", configuration.nick))
      nextReclaim = now.advanced(by: configuration.reclaimInterval)
    }
    let due = rejoinAt.filter { $0.value <= now }.map(\.key)
    if !due.isEmpty {
      for folded in due { rejoinAt[folded] = nil }
      join(configuration.channels.filter { due.contains(IRCText.fold($0.name)) })
    }
    return nil
  }

  mutating func join(_ channels: [(name: String, key: String?)]) {
    // Keyed channels first: JOIN #a,#b,#c keyA,keyB.
    let keyed = channels.filter { $0.key != nil }
    let open = channels.filter { $0.key == nil }
    let ordered = keyed + open
    guard !ordered.isEmpty else { return }
    var params = [ordered.map(\.name).joined(separator: ",")]
    if !keyed.isEmpty { params.append(keyed.map { $0.key! }.joined(separator: ",")) }
    enqueue(IRCMessage(command: "JOIN", params: params))
  }

  func isUs(_ name: String?) -> Bool { name.map { IRCText.fold($0) == IRCText.fold(nick) } ?? false }

  mutating func handle(_ message: IRCMessage, now: ContinuousClock.Instant) -> [Effect] {
    lastReceived = now
    pingSentAt = nil
    let p = message.params
    var effects: [Effect] = []
    switch message.command {
    case "PING":
      enqueue(IRCMessage(command: "PONG", params: p.isEmpty ? ["vigie"] : [p[p.count - 1]]), priority: true)
    case "PONG":
      break
    case "CAP":
      effects += handleCAP(p)
    case "AUTHENTICATE":
      if p.first == "+", configuration.saslMechanism == "EXTERNAL" {
        // The certificate speaks for us: an empty authorisation identity.
        enqueue(IRCMessage("AUTHENTICATE", "+"), priority: true)
      } else if p.first == "+", let password = configuration.password {
        let account = configuration.saslAccount.isEmpty ? configuration.nick : configuration.saslAccount
        let payload = Data("\(account)\0\(account)\0\(password)".utf8).base64EncodedString()
        var chunks: [String] = []
        var rest = Substring(payload)
        while rest.count >= 400 {
          chunks.append(String(rest.prefix(400)))
          rest = rest.dropFirst(400)
        }
        chunks.append(rest.isEmpty ? "+" : String(rest))
        for chunk in chunks { enqueue(IRCMessage("AUTHENTICATE", chunk), priority: true) }
      }
    case "900":
      if p.count >= 3 { account = p[2] }
      effects.append(.log(.info, "IRC: logged in as \(p.count >= 3 ? p[2] : "?")"))
    case "903":
      effects.append(.log(.notice, "IRC: SASL authentication succeeded"))
      endCAP()
    case "902", "904", "905", "906", "907", "908":
      effects.append(
        .log(.error, "IRC: SASL authentication failed (\(message.command) \(p.last ?? "")); continuing without it"))
      endCAP()
    case "001":
      registered = true
      everRegistered = true
      if let first = p.first { nick = first }
      capNegotiating = false
      if nick != configuration.nick { nextReclaim = now.advanced(by: configuration.reclaimInterval) }
      effects.append(.log(.notice, "IRC registered as \(nick)"))
      join(configuration.channels)
    case "433", "432", "436", "437":
      if !registered {
        nickAttempt += 1
        let next = IRCText.alternateNick(configuration.nick, attempt: nickAttempt)
        effects.append(.log(.warning, "IRC: nick \(nick) unavailable (\(message.command)); trying \(next)"))
        nick = next
        enqueue(IRCMessage("NICK", next), priority: true)
      }
    case "NICK":
      if isUs(message.source?.nick), let new = p.first {
        nick = new
        if IRCText.fold(new) == IRCText.fold(configuration.nick) {
          nextReclaim = nil
          effects.append(.log(.notice, "IRC: nick \(new) reclaimed"))
        }
      } else if let old = message.source?.nick, let new = p.first {
        if let account = accounts.removeValue(forKey: IRCText.fold(old)) { accounts[IRCText.fold(new)] = account }
        if IRCText.fold(old) == IRCText.fold(configuration.nick), nick != configuration.nick {
          enqueue(IRCMessage("NICK", configuration.nick))
        }
      }
    case "QUIT":
      if let old = message.source?.nick {
        accounts[IRCText.fold(old)] = nil
        if IRCText.fold(old) == IRCText.fold(configuration.nick), registered, nick != configuration.nick {
          enqueue(IRCMessage("NICK", configuration.nick))
        }
      }
    case "JOIN":
      guard let channel = p.first else { break }
      if isUs(message.source?.nick) {
        joined.insert(IRCText.fold(channel))
        user = message.source?.user ?? user
        host = message.source?.host ?? host
        effects.append(.log(.info, "IRC joined \(channel)"))
      } else if let who = message.source?.nick, enabledCaps.contains("extended-join"), p.count >= 2 {
        accounts[IRCText.fold(who)] = p[1] == "*" ? nil : p[1]
      }
    case "ACCOUNT":
      if let who = message.source?.nick, let account = p.first {
        accounts[IRCText.fold(who)] = account == "*" ? nil : account
      }
    case "330":
      // RPL_WHOISACCOUNT: <us> <nick> <account> :is logged in as
      if p.count >= 3 { accounts[IRCText.fold(p[1])] = p[2] }
    case "318", "401":
      // End of WHOIS, or no such nick.
      if p.count >= 2 { endWhois(nick: p[1], now: now) }
    case "PART":
      if isUs(message.source?.nick), let channel = p.first { joined.remove(IRCText.fold(channel)) }
    case "KICK":
      if p.count >= 2, isUs(p[1]) {
        joined.remove(IRCText.fold(p[0]))
        rejoinAt[IRCText.fold(p[0])] = now.advanced(by: configuration.rejoinDelay)
        effects.append(
          .log(.warning, "IRC: kicked from \(p[0]) by \(message.source?.nick ?? "?") (\(p.count > 2 ? p[2] : ""))"))
      }
    case "471", "473", "474", "475", "477", "403", "405":
      if p.count >= 2 {
        rejoinAt[IRCText.fold(p[1])] = now.advanced(by: configuration.joinRetry)
        effects.append(.log(.warning, "IRC: cannot join \(p[1]): \(p.last ?? message.command)"))
      }
    case "PRIVMSG":
      guard p.count >= 2, let source = message.source else { break }
      let text = p[1]
      if let ctcp = IRCText.CTCP.parse(text) {
        guard !IRCText.isChannel(p[0]) || ctcp.command != "ACTION" else { break }
        switch ctcp.command {
        case "VERSION":
          enqueue(
            IRCMessage("NOTICE", source.nick, IRCText.CTCP(command: "VERSION", argument: configuration.version).text))
        case "PING":
          enqueue(
            IRCMessage(
              "NOTICE", source.nick, IRCText.CTCP(command: "PING", argument: String(ctcp.argument.prefix(64))).text))
        default: break
        }
        break
      }
      let account = message.tag("account") ?? accounts[IRCText.fold(source.nick)]
      effects.append(
        .deliver(
          IRCIncomingMessage(
            source: source, target: p[0], text: text, account: account, isPrivate: !IRCText.isChannel(p[0]),
            ourNick: nick)))
    case "ERROR":
      effects.append(.log(.warning, "IRC server error: \(p.last ?? "")"))
    default:
      break
    }
    return effects
  }

  mutating func handleCAP(_ p: [String]) -> [Effect] {
    guard p.count >= 3 else { return [] }
    let sub = p[1].uppercased()
    switch sub {
    case "LS":
      let more = p.count >= 4 && p[2] == "*"
      capLS += (p.last ?? "").split(separator: " ").map { String($0.split(separator: "=").first ?? $0) }
      if more { return [] }
      var wanted = Set(capLS).intersection(Self.wantedCaps)
      if configuration.saslMechanism == nil { wanted.remove("sasl") }
      if wanted.isEmpty {
        endCAP()
      } else {
        enqueue(IRCMessage("CAP", "REQ", wanted.sorted().joined(separator: " ")), priority: true)
      }
      return [.log(.info, "IRC server capabilities: \(capLS.joined(separator: " "))")]
    case "ACK":
      let acked = (p.last ?? "").split(separator: " ").map(String.init)
      enabledCaps.formUnion(acked.filter { !$0.hasPrefix("-") })
      if acked.contains("sasl"), let mechanism = configuration.saslMechanism {
        enqueue(IRCMessage("AUTHENTICATE", mechanism), priority: true)
      } else if capNegotiating {
        endCAP()
      }
      return []
    case "NAK":
      if capNegotiating { endCAP() }
      return [.log(.warning, "IRC server refused capabilities: \(p.last ?? "")")]
    case "NEW", "DEL":
      if sub == "DEL" { enabledCaps.subtract((p.last ?? "").split(separator: " ").map(String.init)) }
      return []
    default:
      return []
    }
  }

  mutating func endCAP() {
    guard capNegotiating else { return }
    capNegotiating = false
    enqueue(IRCMessage("CAP", "END"), priority: true)
  }
}
