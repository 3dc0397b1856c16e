/// A JSON value (RFC 8259), parsed strictly and without Foundation.
///
/// Google's answers are parsed with it: the Drive client never trusts their
/// shape, so every accessor returns an optional and the parser rejects
/// garbage with the byte offset of the fault. Numbers keep their text, so a
/// huge number is not rounded silently; `int64` refuses what does not fit.
public enum JSONValue: Sendable, Hashable {
  case null
  case bool(Bool)
  /// The number's text, as written (validated against the JSON grammar).
  case number(String)
  case string(String)
  case array([JSONValue])
  /// Members in document order; a repeated key keeps its last value in `subscript`.
  case object([(String, JSONValue)])

  public static func == (a: JSONValue, b: JSONValue) -> Bool {
    switch (a, b) {
    case (.null, .null): true
    case (.bool(let x), .bool(let y)): x == y
    case (.number(let x), .number(let y)): x == y
    case (.string(let x), .string(let y)): x == y
    case (.array(let x), .array(let y)): x == y
    case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    default: false
    }
  }

  public func hash(into hasher: inout Hasher) {
    switch self {
    case .null: hasher.combine(0)
    case .bool(let b): hasher.combine(b)
    case .number(let n): hasher.combine(n)
    case .string(let s): hasher.combine(s)
    case .array(let a): hasher.combine(a)
    case .object(let o):
      for (k, v) in o {
        hasher.combine(k)
        hasher.combine(v)
      }
    }
  }

  /// The member `key` of an object (the last one if repeated), nil otherwise.
  public subscript(key: String) -> JSONValue? {
    guard case .object(let members) = self else { return nil }
    return members.last(where: { $0.0 == key })?.1
  }

  public var string: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  public var bool: Bool? {
    if case .bool(let b) = self { return b }
    return nil
  }

  public var array: [JSONValue]? {
    if case .array(let a) = self { return a }
    return nil
  }

  public var members: [(String, JSONValue)]? {
    if case .object(let o) = self { return o }
    return nil
  }

  /// An integral number that fits in Int64, or a string holding one (Drive
  /// sends `size` and `version` as strings). Nil for fractions, exponents,
  /// overflow and anything else.
  public var int64: Int64? {
    switch self {
    case .number(let text), .string(let text):
      guard !text.isEmpty, text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) else { return nil }
      return Int64(text)
    default: return nil
    }
  }

  /// A number as a Double (may be approximate), or nil.
  public var double: Double? {
    if case .number(let text) = self { return Double(text) }
    return nil
  }
}

/// Why a text is not JSON.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
  public var offset: Int
  public var reason: String
  public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

extension JSONValue {
  /// Deepest nesting accepted (a hostile `[[[[…` must not exhaust the stack).
  public static let maxDepth = 64

  /// Parses `text` (UTF-8); the whole input must be one value, surrounded only
  /// by whitespace.
  public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
    try parse(Array(text.utf8))
  }

  public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
    var parser = JSONParser(bytes: bytes)
    parser.skipSpace()
    let value = try parser.value(depth: 0)
    parser.skipSpace()
    guard parser.pos == bytes.count else { throw parser.fail("trailing characters after the value") }
    return value
  }

  /// The value as compact JSON text (object members in order).
  public var serialized: String {
    var out = ""
    write(into: &out)
    return out
  }

  private func write(into out: inout String) {
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .number(let n): out += n
    case .string(let s): out += Self.quote(s)
    case .array(let a):
      out += "["
      for (i, v) in a.enumerated() {
        if i > 0 { out += "," }
        v.write(into: &out)
      }
      out += "]"
    case .object(let o):
      out += "{"
      for (i, (k, v)) in o.enumerated() {
        if i > 0 { out += "," }
        out += Self.quote(k)
        out += ":"
        v.write(into: &out)
      }
      out += "}"
    }
  }

  /// `s` as a JSON string literal.
  public static func quote(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }

  /// An integer number value.
  public static func int(_ n: some BinaryInteger) -> JSONValue { .number(String(n)) }
}

private struct JSONParser {
  let bytes: [UInt8]
  var pos = 0

  func fail(_ reason: String) -> JSONParseError { JSONParseError(offset: pos, reason: reason) }

  mutating func skipSpace() {
    while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
  }

  mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
    guard depth < JSONValue.maxDepth else { throw fail("nested deeper than \(JSONValue.maxDepth) levels") }
    guard pos < bytes.count else { throw fail("unexpected end of input") }
    switch bytes[pos] {
    case UInt8(ascii: "{"): return try object(depth: depth)
    case UInt8(ascii: "["): return try array(depth: depth)
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "t"): return try literal("true", .bool(true))
    case UInt8(ascii: "f"): return try literal("false", .bool(false))
    case UInt8(ascii: "n"): return try literal("null", .null)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
    default: throw fail("unexpected character \(Self.show(bytes[pos]))")
    }
  }

  static func show(_ byte: UInt8) -> String {
    (0x21...0x7E).contains(byte) ? "'\(Character(UnicodeScalar(byte)))'" : "0x\(String(byte, radix: 16))"
  }

  mutating func literal(_ word: String, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
    let w = Array(word.utf8)
    guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else {
      throw fail("expected '\(word)'")
    }
    pos += w.count
    return value
  }

  mutating func number() throws(JSONParseError) -> JSONValue {
    let start = pos
    func digits(_ p: inout Int, _ bytes: [UInt8]) -> Int {
      let s = p
      while p < bytes.count, (0x30...0x39).contains(bytes[p]) { p += 1 }
      return p - s
    }
    if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
    guard pos < bytes.count, (0x30...0x39).contains(bytes[pos]) else { throw fail("a number needs digits") }
    if bytes[pos] == UInt8(ascii: "0") {
      pos += 1
      if pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { throw fail("leading zero in a number") }
    } else {
      _ = digits(&pos, bytes)
    }
    if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
      pos += 1
      guard digits(&pos, bytes) > 0 else { throw fail("a fraction needs digits") }
    }
    if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
      pos += 1
      if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
      guard digits(&pos, bytes) > 0 else { throw fail("an exponent needs digits") }
    }
    guard pos - start <= 400 else { throw JSONParseError(offset: start, reason: "number longer than 400 characters") }
    return .number(String(decoding: bytes[start..<pos], as: UTF8.self))
  }

  mutating func hex4() throws(JSONParseError) -> UInt32 {
    guard pos + 4 <= bytes.count else { throw fail("truncated \\u escape") }
    var v: UInt32 = 0
    for _ in 0..<4 {
      let c = bytes[pos]
      let d: UInt32
      switch c {
      case 0x30...0x39: d = UInt32(c - 0x30)
      case 0x41...0x46: d = UInt32(c - 0x41 + 10)
      case 0x61...0x66: d = UInt32(c - 0x61 + 10)
      default: throw fail("bad hex digit in \\u escape")
      }
      v = v * 16 + d
      pos += 1
    }
    return v
  }

  mutating func string() throws(JSONParseError) -> String {
    pos += 1  // opening quote
    var out: [UInt8] = []
    while true {
      guard pos < bytes.count else { throw fail("unterminated string") }
      let c = bytes[pos]
      switch c {
      case UInt8(ascii: "\""):
        pos += 1
        // Validate UTF-8: String(validating:) refuses ill-formed sequences.
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return s
      case UInt8(ascii: "\\"):
        pos += 1
        guard pos < bytes.count else { throw fail("unterminated escape") }
        let e = bytes[pos]
        pos += 1
        switch e {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "/"): out.append(0x2F)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
          var code = try hex4()
          if (0xD800...0xDBFF).contains(code) {
            guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
              throw fail("lone high surrogate")
            }
            pos += 2
            let low = try hex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw fail("bad low surrogate") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
          } else if (0xDC00...0xDFFF).contains(code) {
            throw fail("lone low surrogate")
          }
          guard let scalar = UnicodeScalar(code) else { throw fail("bad code point") }
          out += Array(String(Character(scalar)).utf8)
        default: throw fail("bad escape \\\(Self.show(e))")
        }
      case 0..<0x20:
        throw fail("control character in a string")
      default:
        out.append(c)
        pos += 1
      }
    }
  }

  mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
    pos += 1
    var items: [JSONValue] = []
    skipSpace()
    if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
      pos += 1
      return .array(items)
    }
    while true {
      skipSpace()
      items.append(try value(depth: depth + 1))
      skipSpace()
      guard pos < bytes.count else { throw fail("unterminated array") }
      if bytes[pos] == UInt8(ascii: ",") {
        pos += 1
        continue
      }
      guard bytes[pos] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
      pos += 1
      return .array(items)
    }
  }

  mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
    pos += 1
    var members: [(String, JSONValue)] = []
    skipSpace()
    if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
      pos += 1
      return .object(members)
    }
    while true {
      skipSpace()
      guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
      let key = try string()
      skipSpace()
      guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':'") }
      pos += 1
      skipSpace()
      members.append((key, try value(depth: depth + 1)))
      skipSpace()
      guard pos < bytes.count else { throw fail("unterminated object") }
      if bytes[pos] == UInt8(ascii: ",") {
        pos += 1
        continue
      }
      guard bytes[pos] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
      pos += 1
      return .object(members)
    }
  }
}
