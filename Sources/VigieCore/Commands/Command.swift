/// Where a command came from. Replies go back on the same transport.
public enum Transport: String, Sendable, Hashable, CaseIterable {
  case sms, irc, xmpp, cli, web
}

/// Who sends a command, as authenticated by the transport, and the highest
/// privilege the configuration grants them.
public struct Principal: Sendable, Hashable, CustomStringConvertible {
  public var transport: Transport
  /// Phone number, JID, IRC account, local user name...
  public var identity: String
  public var level: Privilege

  public init(transport: Transport, identity: String, level: Privilege) {
    self.transport = transport
    self.identity = identity
    self.level = level
  }

  public var description: String { "\(identity) via \(transport.rawValue) (\(level.rawValue))" }
}

/// The grammar of one command's arguments.
public enum ArgumentSpec: Sendable, Hashable {
  /// One word that must be present.
  case required(String)
  /// One word that may be absent.
  case optional(String)
  /// All remaining words, joined by spaces; `required` says if at least one is needed.
  case rest(String, required: Bool)

  public var name: String {
    switch self {
    case .required(let n), .optional(let n), .rest(let n, _): n
    }
  }

  var usage: String {
    switch self {
    case .required(let n): n
    case .optional(let n): "[\(n)]"
    case .rest(let n, true): "\(n)..."
    case .rest(let n, false): "[\(n)...]"
    }
  }
}

/// A command as every transport sees it: name, grammar, help, privilege.
public struct CommandSpec: Sendable, Hashable {
  /// Canonical upper-case name, e.g. `STATUS`.
  public var name: String
  public var arguments: [ArgumentSpec]
  /// One line of help.
  public var summary: String
  public var privilege: Privilege
  /// Destructive commands (REBOOT) run only after `CONFIRM <code>` from the
  /// same sender within the confirmation window.
  public var needsConfirmation: Bool

  public init(
    _ name: String, arguments: [ArgumentSpec] = [], summary: String, privilege: Privilege,
    needsConfirmation: Bool = false
  ) {
    precondition(!name.isEmpty && name == name.uppercased(), "command names are upper-case")
    precondition(
      arguments.dropLast().allSatisfy { if case .rest = $0 { false } else { true } }, "rest must be last")
    self.name = name
    self.arguments = arguments
    self.summary = summary
    self.privilege = privilege
    self.needsConfirmation = needsConfirmation
  }

  /// `PING host`, `HELP [command]`.
  public var usage: String { ([name] + arguments.map(\.usage)).joined(separator: " ") }
}

/// A parsed, authorised command ready to run.
public struct CommandInvocation: Sendable, Hashable {
  public var spec: CommandSpec
  /// Argument values by name; absent optional arguments are missing.
  public var arguments: [String: String]
  public var principal: Principal
  /// The text as received (for the journal and logs).
  public var text: String

  public subscript(argument name: String) -> String? { arguments[name] }
}

/// Why a command text was refused. The message is meant for the sender.
public struct CommandError: Error, Sendable, Hashable, CustomStringConvertible {
  public struct Code: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable { case empty, malformed, unknownCommand, usage, denied, failed }
    let kind: Kind
    public static let empty = Code(kind: .empty)
    public static let malformed = Code(kind: .malformed)
    public static let unknownCommand = Code(kind: .unknownCommand)
    public static let usage = Code(kind: .usage)
    public static let denied = Code(kind: .denied)
    /// The command ran and failed.
    public static let failed = Code(kind: .failed)
    public var description: String { "\(kind)" }
  }

  public var code: Code
  public var message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}

/// Parsing and authorisation of command texts, shared by every transport.
public struct CommandGrammar: Sendable {
  /// Longest command text accepted (an SMS is at most a few hundred characters).
  public static let maximumLength = 1024

  public private(set) var specs: [CommandSpec]

  public init(_ specs: [CommandSpec]) {
    var seen: Set<String> = []
    for spec in specs { precondition(seen.insert(spec.name).inserted, "duplicate command \(spec.name)") }
    self.specs = specs
  }

  public func spec(named name: String) -> CommandSpec? {
    let upper = name.uppercased()
    return specs.first { $0.name == upper }
  }

  /// Splits `text` into words. Double quotes group words (`SHARE "my file.pdf"`),
  /// a backslash escapes a quote inside quotes. Control characters are refused.
  public static func tokenize(_ text: String) -> Result<[String], CommandError> {
    guard text.utf8.count <= maximumLength else {
      return .failure(CommandError(.malformed, "Command too long (over \(maximumLength) bytes)."))
    }
    if text.unicodeScalars.contains(where: {
      ($0.value < 0x20 && $0 != "\t" && $0 != "\n" && $0 != "\r") || $0.value == 0x7F
    }) {
      return .failure(CommandError(.malformed, "Command contains control characters."))
    }
    var words: [String] = []
    var current = ""
    var inWord = false
    var quoted = false
    var iterator = text.makeIterator()
    while let c = iterator.next() {
      if quoted {
        if c == "\\" {
          guard let next = iterator.next() else { break }
          current.append(next)
        } else if c == "\"" {
          quoted = false
        } else {
          current.append(c)
        }
      } else if c == "\"" {
        quoted = true
        inWord = true
      } else if c.isWhitespace {
        if inWord { words.append(current) }
        current = ""
        inWord = false
      } else {
        current.append(c)
        inWord = true
      }
    }
    if quoted { return .failure(CommandError(.malformed, "Unclosed quote in command.")) }
    if inWord { words.append(current) }
    return .success(words)
  }

  /// Parses and authorises `text` for `principal`.
  public func parse(_ text: String, principal: Principal) -> Result<CommandInvocation, CommandError> {
    let words: [String]
    switch Self.tokenize(text) {
    case .failure(let error): return .failure(error)
    case .success(let w): words = w
    }
    guard let name = words.first else {
      return .failure(CommandError(.empty, "Empty command. Send HELP for the list of commands."))
    }
    guard let spec = spec(named: name) else {
      let visible = specs.filter { $0.privilege <= principal.level }.map(\.name)
      var message = "Unknown command '\(Self.printable(name))'."
      if let hint = Suggest.closest(to: name.uppercased(), in: visible) { message += " Did you mean \(hint)?" }
      message += " Send HELP for the list."
      return .failure(CommandError(.unknownCommand, message))
    }
    guard spec.privilege <= principal.level else {
      return .failure(
        CommandError(
          .denied,
          "Permission denied: \(spec.name) needs the \(spec.privilege.rawValue) level; \(principal.identity) has \(principal.level.rawValue)."
        ))
    }
    var values: [String: String] = [:]
    var remaining = words.dropFirst()
    for argument in spec.arguments {
      switch argument {
      case .required(let n):
        guard let word = remaining.popFirst() else {
          return .failure(CommandError(.usage, "Missing \(n). Usage: \(spec.usage)"))
        }
        values[n] = word
      case .optional(let n):
        if let word = remaining.popFirst() { values[n] = word }
      case .rest(let n, let required):
        if remaining.isEmpty {
          if required { return .failure(CommandError(.usage, "Missing \(n). Usage: \(spec.usage)")) }
        } else {
          values[n] = remaining.joined(separator: " ")
          remaining = []
        }
      }
    }
    guard remaining.isEmpty else {
      return .failure(
        CommandError(
          .usage, "Too many arguments (\(Self.printable(remaining.joined(separator: " ")))). Usage: \(spec.usage)"))
    }
    return .success(CommandInvocation(spec: spec, arguments: values, principal: principal, text: text))
  }

  /// `HELP` and `HELP command` texts, listing only what `level` may run.
  public func help(topic: String?, level: Privilege) -> Result<String, CommandError> {
    let visible = specs.filter { $0.privilege <= level }
    if let topic {
      guard let spec = spec(named: topic), spec.privilege <= level else {
        var message = "No command '\(Self.printable(topic))'."
        if let hint = Suggest.closest(to: topic.uppercased(), in: visible.map(\.name)) {
          message += " Did you mean \(hint)?"
        }
        return .failure(CommandError(.unknownCommand, message))
      }
      return .success("\(spec.usage): \(spec.summary) (level \(spec.privilege.rawValue))")
    }
    let list = visible.map(\.usage).joined(separator: ", ")
    return .success("Commands: \(list). Send HELP <command> for details.")
  }

  /// Echoes untrusted words back in replies without control characters and
  /// with a bounded length.
  public static func printable(_ text: String) -> String {
    let cleaned = String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
    return cleaned.count > 32 ? String(cleaned.prefix(31)) + "…" : cleaned
  }
}
