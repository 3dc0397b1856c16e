import Logging
import Synchronization
import VigieCore

/// The answer to a command, sent back on the transport it came from.
public struct CommandReply: Sendable, Hashable, Codable {
  public var ok: Bool
  public var text: String

  public init(ok: Bool, text: String) {
    self.ok = ok
    self.text = text
  }
}

/// The one command registry shared by SMS, IRC, XMPP, the CLI and the web
/// page: parse, authorise, run, reply. `HELP` is built in.
public final class CommandRegistry: Sendable {
  public typealias Handler = @Sendable (CommandInvocation) async throws -> String

  public let grammar: CommandGrammar
  private let handlers: [String: Handler]
  private let logger: Logger

  public static let helpSpec = CommandSpec(
    "HELP", arguments: [.optional("command")], summary: "List the commands you may use, or explain one.",
    privilege: .read)
  public static let confirmSpec = CommandSpec(
    "CONFIRM", arguments: [.required("code")],
    summary: "Confirm a destructive command with the code it replied with.", privilege: .read)

  /// How long a confirmation code stays valid.
  public let confirmationWindow: Duration
  private let pending = Mutex<[PendingConfirmation]>([])

  struct PendingConfirmation {
    var code: String
    var invocation: CommandInvocation
    var expires: ContinuousClock.Instant
  }

  public init(
    _ commands: [(spec: CommandSpec, handler: Handler)], confirmationWindow: Duration = .seconds(120), logger: Logger
  ) {
    self.confirmationWindow = confirmationWindow
    var specs = [Self.helpSpec, Self.confirmSpec]
    var handlers: [String: Handler] = [:]
    for command in commands {
      specs.append(command.spec)
      handlers[command.spec.name] = command.handler
    }
    let grammar = CommandGrammar(specs)
    self.grammar = grammar
    handlers["HELP"] = { invocation in
      switch grammar.help(topic: invocation[argument: "command"], level: invocation.principal.level) {
      case .success(let text): return text
      case .failure(let error): throw error
      }
    }
    self.handlers = handlers
    self.logger = logger
  }

  /// Parses, authorises and runs `text` for `principal`. Never throws: every
  /// failure becomes a reply the sender can act on.
  public func execute(_ text: String, as principal: Principal) async -> CommandReply {
    let invocation: CommandInvocation
    switch grammar.parse(text, principal: principal) {
    case .failure(let error):
      logger.notice(
        "command refused",
        metadata: ["from": "\(principal)", "text": "\(text)", "reason": "\(error.code)"])
      return CommandReply(ok: false, text: error.message)
    case .success(let parsed):
      invocation = parsed
    }
    if invocation.spec.name == "CONFIRM" {
      return await confirm(code: invocation[argument: "code"]!, principal: principal)
    }
    if invocation.spec.needsConfirmation {
      let code = String(UInt16.random(in: 1000...9999))
      pending.withLock { list in
        list.removeAll { $0.invocation.principal == principal || $0.expires < .now }
        list.append(
          PendingConfirmation(code: code, invocation: invocation, expires: .now.advanced(by: confirmationWindow)))
      }
      logger.notice("confirmation asked", metadata: ["from": "\(principal)", "command": "\(invocation.spec.name)"])
      let minutes = max(1, Int(confirmationWindow.components.seconds / 60))
      return CommandReply(
        ok: true,
        text: "Send CONFIRM \(code) within \(minutes) minute\(minutes == 1 ? "" : "s") to run \(invocation.spec.name).")
    }
    return await run(invocation)
  }

  /// Runs the pending command `code` belongs to, if the same principal asked
  /// for it and it has not expired. A code works once.
  func confirm(code: String, principal: Principal) async -> CommandReply {
    let match = pending.withLock { list -> CommandInvocation? in
      list.removeAll { $0.expires < .now }
      guard let index = list.firstIndex(where: { $0.code == code && $0.invocation.principal == principal }) else {
        return nil
      }
      return list.remove(at: index).invocation
    }
    guard let invocation = match else {
      logger.notice("confirmation refused", metadata: ["from": "\(principal)"])
      let minutes = max(1, Int(confirmationWindow.components.seconds / 60))
      return CommandReply(
        ok: false,
        text: "No command waits for that code (codes expire after \(minutes) minute\(minutes == 1 ? "" : "s")).")
    }
    return await run(invocation)
  }

  private func run(_ invocation: CommandInvocation) async -> CommandReply {
    let principal = invocation.principal
    guard let handler = handlers[invocation.spec.name] else {
      return CommandReply(ok: false, text: "\(invocation.spec.name) is not available in this build.")
    }
    logger.notice("command", metadata: ["from": "\(principal)", "command": "\(invocation.spec.name)"])
    do {
      return CommandReply(ok: true, text: try await handler(invocation))
    } catch let error as CommandError {
      return CommandReply(ok: false, text: error.message)
    } catch {
      logger.warning("command failed", metadata: ["command": "\(invocation.spec.name)", "error": "\(error)"])
      return CommandReply(ok: false, text: "\(invocation.spec.name) failed: \(error)")
    }
  }
}
