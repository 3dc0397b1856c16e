import Logging
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

  public init(_ commands: [(spec: CommandSpec, handler: Handler)], logger: Logger) {
    var specs = [Self.helpSpec]
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
