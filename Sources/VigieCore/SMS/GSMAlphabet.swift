/// The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038
/// §6.2.1 and §6.2.1.1), the character set of a GSM-7 SMS.
///
/// A septet is a 7-bit code in `0x00...0x7F`. Characters of the default table
/// take one septet; those of the extension table (`^ { } \ [ ~ ] | €` and form
/// feed) take two: the escape septet `0x1B` and their code.
///
/// Lookups work on `Character`s and so follow Swift's canonical equivalence:
/// a decomposed `e` + U+0301 is the same character as `é` and encodes to the
/// same septet. A `Character` that the tables lack is still encodable when
/// each of its Unicode scalars is (the one case is `"\r\n"`, a single
/// `Character` in Swift and two septets in GSM-7). Nothing is transliterated:
/// `ç` is not in the alphabet (only the capital `Ç` is), so a text with `ç`
/// cannot be sent as GSM-7.
public enum GSMAlphabet {
  /// The escape septet that introduces a character of the extension table.
  public static let escape: UInt8 = 0x1B

  /// The 128 characters of the default alphabet by septet; position `0x1B`
  /// (the escape) holds a placeholder that is never used.
  static let defaultTable: [Character] = [
    // 0x00
    "@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å",
    // 0x10
    "Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", "\u{1B}", "Æ", "æ", "ß", "É",
    // 0x20
    " ", "!", "\"", "#", "¤", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/",
    // 0x30
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?",
    // 0x40
    "¡", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",
    // 0x50
    "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "Ä", "Ö", "Ñ", "Ü", "§",
    // 0x60
    "¿", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
    // 0x70
    "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "ä", "ö", "ñ", "ü", "à",
  ]

  /// The characters of the extension table by the septet that follows the
  /// escape. `0x0D` (CR2) and `0x1B` (escape to a further table) are reserved
  /// and have no character.
  static let extensionTable: [UInt8: Character] = [
    0x0A: "\u{0C}", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~",
    0x3E: "]", 0x40: "|", 0x65: "€",
  ]

  static let defaultCodes: [Character: UInt8] = {
    var codes: [Character: UInt8] = [:]
    for (index, character) in defaultTable.enumerated() where index != Int(escape) {
      codes[character] = UInt8(index)
    }
    return codes
  }()

  static let extensionCodes: [Character: UInt8] = {
    var codes: [Character: UInt8] = [:]
    for (code, character) in extensionTable { codes[character] = code }
    return codes
  }()

  /// The character of the default alphabet at `septet`, or `nil` for the
  /// escape (`0x1B`) and for values above `0x7F`.
  public static func defaultCharacter(at septet: UInt8) -> Character? {
    guard septet < 0x80, septet != escape else { return nil }
    return defaultTable[Int(septet)]
  }

  /// The character of the extension table that `escape, septet` stands for,
  /// or `nil` where the table has none.
  public static func extensionCharacter(at septet: UInt8) -> Character? {
    extensionTable[septet]
  }

  /// The septets of one character: one for the default table, two (escape
  /// first) for the extension table, one per scalar for a multi-scalar
  /// character whose scalars all encode (`"\r\n"`); `nil` if it cannot be
  /// encoded.
  public static func septets(of character: Character) -> [UInt8]? {
    if let code = defaultCodes[character] { return [code] }
    if let code = extensionCodes[character] { return [escape, code] }
    let scalars = character.unicodeScalars
    guard scalars.count > 1 else { return nil }
    var result: [UInt8] = []
    for scalar in scalars {
      guard let septets = septets(of: Character(scalar)) else { return nil }
      result += septets
    }
    return result
  }

  /// How many septets `character` takes (1 or 2, more only for multi-scalar
  /// characters such as `"\r\n"`), or `nil` if it cannot be encoded.
  public static func septetCount(of character: Character) -> Int? {
    if defaultCodes[character] != nil { return 1 }
    if extensionCodes[character] != nil { return 2 }
    return septets(of: character)?.count
  }

  /// Whether `character` can be sent in GSM-7.
  public static func canEncode(_ character: Character) -> Bool {
    septetCount(of: character) != nil
  }

  /// Whether every character of `text` can be sent in GSM-7.
  public static func canEncode(_ text: some StringProtocol) -> Bool {
    text.allSatisfy { canEncode($0) }
  }

  /// How many septets `text` takes in GSM-7, escapes counted, or `nil` if a
  /// character cannot be encoded.
  public static func septets(for text: some StringProtocol) -> Int? {
    var total = 0
    for character in text {
      guard let count = septetCount(of: character) else { return nil }
      total += count
    }
    return total
  }

  /// The septets of `text` (one value in `0...0x7F` per septet, unpacked),
  /// or `nil` if a character cannot be encoded.
  public static func encode(_ text: some StringProtocol) -> [UInt8]? {
    var result: [UInt8] = []
    result.reserveCapacity(text.utf8.count)
    for character in text {
      guard let septets = septets(of: character) else { return nil }
      result += septets
    }
    return result
  }

  /// The text of unpacked `septets`. Never traps: a value above `0x7F`, an
  /// escape followed by a code the extension table lacks (including the
  /// reserved `0x0D` and `0x1B`) and an escape at the very end each decode
  /// to `replacement`, and the septet after an escape is consumed with it.
  ///
  /// TS 23.038 lets a phone show the default-table character for an unknown
  /// extension code, or a space for a reserved one; a visible replacement is
  /// preferred here so that a damaged command never silently reads as a
  /// different command.
  public static func decode(
    _ septets: some Sequence<UInt8>, replacement: Character = "\u{FFFD}"
  ) -> String {
    var result = ""
    var escaped = false
    for septet in septets {
      if escaped {
        escaped = false
        result.append(extensionTable[septet] ?? replacement)
      } else if septet == escape {
        escaped = true
      } else if let character = defaultCharacter(at: septet) {
        result.append(character)
      } else {
        result.append(replacement)
      }
    }
    if escaped { result.append(replacement) }
    return result
  }

  /// Packs septets into octets as in a GSM-7 SMS PDU (TS 23.038 §6.1.2.1.1):
  /// least significant bits first, 8 septets in 7 octets. `fillBits` zero
  /// bits come first (a user data header ends on an octet boundary, the text
  /// starts on a septet boundary: 1 fill bit after a 6-octet header). Only
  /// the low 7 bits of each septet are used; `fillBits` is taken modulo 7.
  public static func pack(_ septets: some Sequence<UInt8>, fillBits: Int = 0) -> [UInt8] {
    var result: [UInt8] = []
    var accumulator: UInt32 = 0
    var bits = ((fillBits % 7) + 7) % 7
    for septet in septets {
      accumulator |= UInt32(septet & 0x7F) << UInt32(bits)
      bits += 7
      while bits >= 8 {
        result.append(UInt8(truncatingIfNeeded: accumulator))
        accumulator >>= 8
        bits -= 8
      }
    }
    if bits > 0 { result.append(UInt8(truncatingIfNeeded: accumulator)) }
    return result
  }

  /// Unpacks `count` septets from PDU octets, skipping `fillBits` leading
  /// bits. Stops early, without trapping, when the octets run out.
  public static func unpack(_ octets: some Sequence<UInt8>, count: Int, fillBits: Int = 0)
    -> [UInt8]
  {
    var result: [UInt8] = []
    guard count > 0 else { return result }
    result.reserveCapacity(count)
    var accumulator: UInt32 = 0
    var bits = 0
    var skip = ((fillBits % 7) + 7) % 7
    for octet in octets {
      accumulator |= UInt32(octet) << UInt32(bits)
      bits += 8
      if skip > 0 {
        accumulator >>= UInt32(skip)
        bits -= skip
        skip = 0
      }
      while bits >= 7 {
        result.append(UInt8(accumulator & 0x7F))
        accumulator >>= 7
        bits -= 7
        if result.count == count { return result }
      }
    }
    return result
  }
}
