/// Why a base32 text could not be decoded.
public struct Base32Error: Error, Sendable, Hashable, CustomStringConvertible {
  /// The kinds of error; more may be added.
  public struct Code: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
      case empty, invalidCharacter, invalidLength, invalidPadding
    }
    private let kind: Kind
    private init(_ kind: Kind) { self.kind = kind }
    /// Nothing but spaces and padding.
    public static let empty = Code(.empty)
    /// A character outside `A-Z`, `a-z`, `2-7`, spaces and final `=`.
    public static let invalidCharacter = Code(.invalidCharacter)
    /// A number of characters no byte string encodes to (1, 3 or 6 after the
    /// last full group of 8).
    public static let invalidLength = Code(.invalidLength)
    /// `=` before the end, or a padded text whose length is not a multiple of 8.
    public static let invalidPadding = Code(.invalidPadding)
    /// The code's name, for logs.
    public var description: String { "\(kind)" }
  }

  /// What went wrong, for programs.
  public var code: Code
  /// What went wrong and what to do, for people.
  public var message: String

  /// An error with its code and message.
  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  /// The message.
  public var description: String { message }
}

/// Base32 of RFC 4648 §6, the encoding of authenticator-app secrets.
public enum Base32 {
  private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

  /// Decodes `text`: letters in either case, spaces (and tabs, newlines,
  /// dashes) anywhere, `=` padding optional but only at the end. Bits left
  /// over after the last whole byte are ignored.
  public static func decode(_ text: String) -> Result<[UInt8], Base32Error> {
    var values: [UInt8] = []
    var padding = 0
    var position = 0
    for scalar in text.unicodeScalars {
      position += 1
      let v = scalar.value
      if scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar == "-" {
        continue
      }
      if scalar == "=" {
        padding += 1
        continue
      }
      guard padding == 0 else {
        return .failure(
          Base32Error(
            .invalidPadding, "Base32 text has '=' before its end (character \(position)).")
        )
      }
      switch v {
      case 0x41...0x5A: values.append(UInt8(v - 0x41))
      case 0x61...0x7A: values.append(UInt8(v - 0x61))
      case 0x32...0x37: values.append(UInt8(v - 0x32 + 26))
      default:
        let shown =
          v >= 0x20 && v < 0x7F
          ? "'\(Character(scalar))'" : "U+\(String(v, radix: 16, uppercase: true))"
        let hint =
          (v == 0x30 || v == 0x31 || v == 0x38 || v == 0x39) ? " (base32 has no 0, 1, 8 or 9)" : ""
        return .failure(
          Base32Error(
            .invalidCharacter,
            "Base32 text has an invalid character \(shown) at character \(position)\(hint).")
        )
      }
    }
    guard !values.isEmpty else {
      return .failure(Base32Error(.empty, "Base32 text is empty."))
    }
    if padding > 0, (values.count + padding) % 8 != 0 || padding > 6 {
      return .failure(
        Base32Error(
          .invalidPadding,
          "Base32 text has \(padding) '=' for \(values.count) characters; padded text comes in groups of 8."
        ))
    }
    guard ![1, 3, 6].contains(values.count % 8) else {
      return .failure(
        Base32Error(
          .invalidLength,
          "Base32 text has \(values.count) characters, a length no data encodes to; a character is missing or extra."
        ))
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(values.count * 5 / 8)
    var accumulator: UInt32 = 0
    var bits = 0
    for value in values {
      accumulator = (accumulator << 5) | UInt32(value)
      bits += 5
      if bits >= 8 {
        bits -= 8
        bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
        accumulator &= (1 << UInt32(bits)) - 1
      }
    }
    return .success(bytes)
  }

  /// Encodes `bytes` in upper case, with `=` padding if `padded`.
  public static func encode(_ bytes: some Sequence<UInt8>, padded: Bool = false) -> String {
    var result: [UInt8] = []
    var accumulator: UInt32 = 0
    var bits = 0
    for byte in bytes {
      accumulator = (accumulator << 8) | UInt32(byte)
      bits += 8
      while bits >= 5 {
        bits -= 5
        result.append(alphabet[Int((accumulator >> UInt32(bits)) & 0x1F)])
      }
      accumulator &= (1 << UInt32(bits)) - 1
    }
    if bits > 0 { result.append(alphabet[Int((accumulator << UInt32(5 - bits)) & 0x1F)]) }
    if padded { while result.count % 8 != 0 { result.append(UInt8(ascii: "=")) } }
    return String(decoding: result, as: UTF8.self)
  }
}
