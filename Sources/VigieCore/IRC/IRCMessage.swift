/// One IRC message (RFC 1459/2812 framing with IRCv3 message tags):
/// `[@tags ][:source ]COMMAND[ params...][ :trailing]`.
///
/// Parsing faces the network: every malformed line is rejected with a
/// precise `IRCParseError`, never a crash. Serialising refuses what the
/// server would misread (a line break smuggled into a parameter, a space in
/// a middle parameter, a line over 512 bytes), so text from alerts or chat
/// can never inject a second command.
public struct IRCMessage: Sendable, Hashable, CustomStringConvertible {
  /// IRCv3 message tags, in the order they came; values unescaped
  /// (`nil` for a tag without `=`).
  public var tags: [IRCTag]
  /// `nick!user@host` or a server name; nil when absent.
  public var source: IRCSource?
  /// Upper-cased command word or three-digit numeric.
  public var command: String
  public var params: [String]

  /// Most bytes of a line without tags, CR LF included (RFC 1459).
  public static let maxLineBytes = 512
  /// Most bytes of the tag part, `@` and the space after it included (IRCv3).
  public static let maxTagBytes = 8191
  /// Most parameters a message may have (RFC 2812).
  public static let maxParams = 15

  public init(tags: [IRCTag] = [], source: IRCSource? = nil, command: String, params: [String] = []) {
    self.tags = tags
    self.source = source
    self.command = command
    self.params = params
  }

  public init(_ command: String, _ params: String...) {
    self.init(command: command, params: params)
  }

  /// The value of tag `key` (`""` for a tag without a value), nil when absent.
  public func tag(_ key: String) -> String? {
    tags.first { $0.key == key }.map { $0.value ?? "" }
  }

  public var description: String {
    var parts: [String] = []
    if !tags.isEmpty { parts.append("@" + tags.map(\.description).joined(separator: ";")) }
    if let source { parts.append(":" + source.description) }
    parts.append(command)
    for (index, param) in params.enumerated() {
      parts.append(
        index == params.count - 1 && (param.isEmpty || param.contains(" ") || param.hasPrefix(":"))
          ? ":" + param : param)
    }
    return parts.joined(separator: " ")
  }
}

/// One IRCv3 tag.
public struct IRCTag: Sendable, Hashable, CustomStringConvertible {
  public var key: String
  public var value: String?
  public init(_ key: String, _ value: String?) {
    self.key = key
    self.value = value
  }
  public var description: String {
    guard let value else { return key }
    return key + "=" + IRCTag.escape(value)
  }

  /// IRCv3 tag value escaping: `;` → `\:`, space → `\s`, `\` → `\\`, CR → `\r`, LF → `\n`.
  public static func escape(_ value: String) -> String {
    var out = ""
    for c in value.unicodeScalars {
      switch c {
      case ";": out += "\\:"
      case " ": out += "\\s"
      case "\\": out += "\\\\"
      case "\r": out += "\\r"
      case "\n": out += "\\n"
      default: out.unicodeScalars.append(c)
      }
    }
    return out
  }

  /// The reverse of `escape`; an unknown escape drops the backslash, a
  /// trailing lone backslash is dropped (as the specification says).
  public static func unescape(_ value: Substring) -> String {
    var out = ""
    var escaping = false
    for c in value.unicodeScalars {
      if escaping {
        switch c {
        case ":": out += ";"
        case "s": out += " "
        case "\\": out += "\\"
        case "r": out += "\r"
        case "n": out += "\n"
        default: out.unicodeScalars.append(c)
        }
        escaping = false
      } else if c == "\\" {
        escaping = true
      } else {
        out.unicodeScalars.append(c)
      }
    }
    return out
  }
}

/// The source of a message: `nick!user@host` for users, a name for servers.
public struct IRCSource: Sendable, Hashable, CustomStringConvertible {
  public var nick: String
  public var user: String?
  public var host: String?

  public init(nick: String, user: String? = nil, host: String? = nil) {
    self.nick = nick
    self.user = user
    self.host = host
  }

  public init(parsing text: Substring) {
    var rest = text
    var host: String?
    var user: String?
    if let at = rest.firstIndex(of: "@") {
      host = String(rest[rest.index(after: at)...])
      rest = rest[..<at]
    }
    if let bang = rest.firstIndex(of: "!") {
      user = String(rest[rest.index(after: bang)...])
      rest = rest[..<bang]
    }
    self.init(nick: String(rest), user: user, host: host)
  }

  public var description: String {
    nick + (user.map { "!" + $0 } ?? "") + (host.map { "@" + $0 } ?? "")
  }
}

/// Why a line was rejected; `description` says where and what.
public enum IRCParseError: Error, Sendable, Hashable, CustomStringConvertible {
  case empty
  /// The line (without tags) is longer than 512 bytes with CR LF.
  case lineTooLong(bytes: Int, limit: Int)
  /// The tag part is longer than 8191 bytes.
  case tagsTooLong(bytes: Int, limit: Int)
  /// A NUL byte at this offset.
  case nulByte(offset: Int)
  /// A CR or LF inside the line (a framing error or an injection attempt).
  case lineBreak(offset: Int)
  case missingCommand
  case invalidCommand(String)
  case emptyTagKey
  case invalidTagKey(String)
  case emptySource
  case tooManyParams(count: Int, limit: Int)
  /// A middle parameter that is empty, holds a space or starts with `:`.
  case invalidMiddleParam(index: Int)

  public var description: String {
    switch self {
    case .empty: "empty line"
    case .lineTooLong(let bytes, let limit): "line of \(bytes) bytes is longer than the \(limit)-byte limit"
    case .tagsTooLong(let bytes, let limit): "tags of \(bytes) bytes are longer than the \(limit)-byte limit"
    case .nulByte(let offset): "NUL byte at offset \(offset)"
    case .lineBreak(let offset): "line break (CR or LF) at offset \(offset)"
    case .missingCommand: "no command"
    case .invalidCommand(let command): "invalid command '\(IRCMessage.printable(command))'"
    case .emptyTagKey: "empty tag key"
    case .invalidTagKey(let key): "invalid tag key '\(IRCMessage.printable(key))'"
    case .emptySource: "empty source after ':'"
    case .tooManyParams(let count, let limit): "\(count) parameters, more than the \(limit) allowed"
    case .invalidMiddleParam(let index):
      "parameter \(index + 1) is empty, holds a space or starts with ':' but is not the last"
    }
  }
}

extension IRCMessage {
  /// Parses one line received from the network, without its CR LF (a
  /// trailing CR or CR LF is tolerated and removed). Bytes that are not
  /// UTF-8 are read as Latin-1, as many IRC clients still send it.
  public static func parse(_ line: some Collection<UInt8>) -> Result<IRCMessage, IRCParseError> {
    var bytes = Array(line)
    if bytes.last == 0x0A { bytes.removeLast() }
    if bytes.last == 0x0D { bytes.removeLast() }
    if bytes.isEmpty { return .failure(.empty) }
    for (offset, byte) in bytes.enumerated() {
      if byte == 0 { return .failure(.nulByte(offset: offset)) }
      if byte == 0x0D || byte == 0x0A { return .failure(.lineBreak(offset: offset)) }
    }
    var index = 0
    var tags: [IRCTag] = []
    if bytes[0] == UInt8(ascii: "@") {
      let end = bytes.firstIndex(of: 0x20) ?? bytes.count
      // `@`, the tags and the space that ends them.
      let tagBytes = end + 1
      if tagBytes > maxTagBytes { return .failure(.tagsTooLong(bytes: tagBytes, limit: maxTagBytes)) }
      let text = decode(bytes[1..<end])
      for item in text.split(separator: ";", omittingEmptySubsequences: true) {
        let key: Substring
        let value: String?
        if let eq = item.firstIndex(of: "=") {
          key = item[..<eq]
          value = IRCTag.unescape(item[item.index(after: eq)...])
        } else {
          key = item
          value = nil
        }
        if key.isEmpty { return .failure(.emptyTagKey) }
        if !isValidTagKey(key) { return .failure(.invalidTagKey(String(key))) }
        // A repeated key: the last one wins (IRCv3).
        tags.removeAll { $0.key == key }
        tags.append(IRCTag(String(key), value.flatMap { $0.isEmpty ? nil : $0 }))
      }
      index = end
      while index < bytes.count && bytes[index] == 0x20 { index += 1 }
    }
    let restBytes = bytes.count - index + 2
    if restBytes > maxLineBytes { return .failure(.lineTooLong(bytes: restBytes, limit: maxLineBytes)) }
    var source: IRCSource?
    if index < bytes.count && bytes[index] == UInt8(ascii: ":") {
      let end = bytes[index...].firstIndex(of: 0x20) ?? bytes.count
      let text = decode(bytes[(index + 1)..<end])
      if text.isEmpty { return .failure(.emptySource) }
      source = IRCSource(parsing: Substring(text))
      index = end
      while index < bytes.count && bytes[index] == 0x20 { index += 1 }
    }
    guard index < bytes.count else { return .failure(.missingCommand) }
    let commandEnd = bytes[index...].firstIndex(of: 0x20) ?? bytes.count
    let command = decode(bytes[index..<commandEnd])
    guard isValidCommand(command) else { return .failure(.invalidCommand(command)) }
    index = commandEnd
    var params: [String] = []
    while index < bytes.count {
      while index < bytes.count && bytes[index] == 0x20 { index += 1 }
      guard index < bytes.count else { break }
      if bytes[index] == UInt8(ascii: ":") {
        params.append(decode(bytes[(index + 1)...]))
        index = bytes.count
      } else {
        let end = bytes[index...].firstIndex(of: 0x20) ?? bytes.count
        params.append(decode(bytes[index..<end]))
        index = end
      }
      if params.count > maxParams { return .failure(.tooManyParams(count: params.count, limit: maxParams)) }
    }
    return .success(IRCMessage(tags: tags, source: source, command: command.uppercased(), params: params))
  }

  /// The line to send, CR LF included. Throws rather than send something the
  /// server would read differently.
  public func serialized() throws(IRCParseError) -> [UInt8] {
    guard Self.isValidCommand(command) else { throw .invalidCommand(command) }
    if params.count > Self.maxParams { throw .tooManyParams(count: params.count, limit: Self.maxParams) }
    var tagPart: [UInt8] = []
    if !tags.isEmpty {
      for tag in tags {
        if tag.key.isEmpty { throw .emptyTagKey }
        if !Self.isValidTagKey(Substring(tag.key)) { throw .invalidTagKey(tag.key) }
      }
      tagPart = Array(("@" + tags.map(\.description).joined(separator: ";") + " ").utf8)
      if tagPart.count > Self.maxTagBytes { throw .tagsTooLong(bytes: tagPart.count, limit: Self.maxTagBytes) }
    }
    var line: [UInt8] = []
    if let source {
      let text = source.description
      if text.isEmpty { throw .emptySource }
      line += Array((":" + text + " ").utf8)
    }
    line += Array(command.utf8)
    for (index, param) in params.enumerated() {
      let bytes = Array(param.utf8)
      line.append(0x20)
      let last = index == params.count - 1
      if !last && (bytes.isEmpty || bytes.contains(0x20) || bytes.first == UInt8(ascii: ":")) {
        throw .invalidMiddleParam(index: index)
      }
      if last && (bytes.isEmpty || bytes.contains(0x20) || bytes.first == UInt8(ascii: ":")) {
        line.append(UInt8(ascii: ":"))
      }
      let offset = line.count
      for (i, byte) in bytes.enumerated() {
        if byte == 0 { throw .nulByte(offset: offset + i) }
        if byte == 0x0D || byte == 0x0A { throw .lineBreak(offset: offset + i) }
      }
      line += bytes
    }
    line += [0x0D, 0x0A]
    if line.count > Self.maxLineBytes { throw .lineTooLong(bytes: line.count, limit: Self.maxLineBytes) }
    return tagPart + line
  }

  static func decode(_ bytes: some Collection<UInt8>) -> String {
    if let text = String(validating: bytes, as: UTF8.self) { return text }
    // Latin-1: every byte is the code point of the same value.
    var text = ""
    text.unicodeScalars.append(contentsOf: bytes.map { Unicode.Scalar($0) })
    return text
  }

  static func isValidCommand(_ command: String) -> Bool {
    guard !command.isEmpty, command.utf8.count <= 32 else { return false }
    if command.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return command.utf8.count == 3 }
    return command.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
  }

  /// `[+][vendor/]name` with letters, digits, `-`, `.` and `/`.
  static func isValidTagKey(_ key: Substring) -> Bool {
    var body = key.utf8[...]
    if body.first == UInt8(ascii: "+") { body = body.dropFirst() }
    guard !body.isEmpty else { return false }
    return body.allSatisfy { byte in
      (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
        || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/")
    }
  }

  /// `text` with control characters shown as `\xNN`, for error messages and logs.
  public static func printable(_ text: String, limit: Int = 80) -> String {
    var out = ""
    for scalar in text.unicodeScalars.prefix(limit) {
      if scalar.value < 0x20 || scalar.value == 0x7F {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
    return text.unicodeScalars.count > limit ? out + "…" : out
  }
}
