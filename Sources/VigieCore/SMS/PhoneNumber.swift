/// Where national numbers are dialled from: the country calling code added to
/// them and the trunk prefix dropped from them.
public struct PhoneRegion: Sendable, Hashable {
  /// Country calling code without `+`, e.g. `"33"` for France; 1 to 3
  /// digits, not starting with 0.
  public var countryCode: String
  /// Digits dialled before a national number inside the country and dropped
  /// in international format: `"0"` in most of Europe, `"1"` in North America,
  /// `""` where there is none (Italy, Spain).
  public var trunkPrefix: String

  /// `nil` when `countryCode` is not 1 to 3 ASCII digits starting with 1-9,
  /// or `trunkPrefix` is not at most 2 ASCII digits.
  public init?(countryCode: String, trunkPrefix: String = "0") {
    guard (1...3).contains(countryCode.utf8.count), countryCode.utf8.allSatisfy(isASCIIDigit),
      countryCode.utf8.first != UInt8(ascii: "0"),
      trunkPrefix.utf8.count <= 2, trunkPrefix.utf8.allSatisfy(isASCIIDigit)
    else { return nil }
    self.countryCode = countryCode
    self.trunkPrefix = trunkPrefix
  }
}

/// Why a text is not a phone number. The message is meant for logs and
/// configuration errors; it quotes the input only in a bounded, printable form.
public struct PhoneNumberError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The kinds of error; more may be added.
  public struct Code: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
      case empty, invalidCharacter, misplacedPlus, tooShort, tooLong, needsCountry,
        invalidCountry
    }
    private let kind: Kind
    private init(_ kind: Kind) { self.kind = kind }
    /// Nothing but spaces and separators.
    public static let empty = Code(.empty)
    /// A letter, a non-ASCII digit, a control character or a symbol.
    public static let invalidCharacter = Code(.invalidCharacter)
    /// `+` anywhere but at the start, or twice.
    public static let misplacedPlus = Code(.misplacedPlus)
    /// Fewer digits than any real number has.
    public static let tooShort = Code(.tooShort)
    /// More than the 15 digits E.164 allows.
    public static let tooLong = Code(.tooLong)
    /// A national number and no default country calling code.
    public static let needsCountry = Code(.needsCountry)
    /// An international number whose country calling code starts with 0.
    public static let invalidCountry = Code(.invalidCountry)
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

/// The type of a number as a modem reports it (the type-of-address octet of
/// 3GPP TS 24.008 §10.5.4.7 / TS 23.040 §9.1.2.5, e.g. `+CMGL` and `+CMT`).
public enum AddressType: Sendable, Hashable {
  /// Type 145 (`0x91`): international, digits without the `+`.
  case international
  /// Type 161 (`0xA1`): national, to complete with the default country code.
  case national
  /// Type 129 (`0x81`): unknown; the digits say which format they are in.
  case unknown
  /// Type 208 (`0xD0`): an alphanumeric sender name.
  case alphanumeric
  /// Network-specific or abbreviated numbers (service short codes).
  case abbreviated

  /// The type of the type-of-address octet `octet` (bits 6-4).
  public init(typeOfAddress octet: Int) {
    switch (octet >> 4) & 0x7 {
    case 1: self = .international
    case 2: self = .national
    case 3, 6: self = .abbreviated
    case 5: self = .alphanumeric
    default: self = .unknown
    }
  }
}

/// A phone number or SMS sender, normalised.
///
/// Only ``international(_:)`` values are numbers one can authorise: an
/// alphanumeric sender (`Orange`, `INFO`) or a short code can be spoofed or
/// shared by many and never ``matches(_:)`` anything.
public enum PhoneNumber: Sendable, Hashable, CustomStringConvertible {
  /// E.164: `+`, country calling code and subscriber number, 7 to 15 digits
  /// (`+33612345678`).
  case international(String)
  /// A sender name (`Orange`, `INFO`), printable characters only, at most
  /// 11 characters as the standard allows (longer names are cut).
  case alphanumeric(String)
  /// A service number of at most 6 digits given in national format (`36665`,
  /// `112`), which has no international form.
  case shortCode(String)

  /// The E.164 form of an international number, `nil` otherwise.
  public var e164: String? {
    if case .international(let number) = self { number } else { nil }
  }

  /// Whether two values are the same authorisable number: both international
  /// and equal. Alphanumeric senders and short codes never match, not even
  /// themselves.
  public func matches(_ other: PhoneNumber) -> Bool {
    guard let a = e164, let b = other.e164 else { return false }
    return a == b
  }

  /// A stable text for keys and logs: the E.164 number, `alnum:NAME` or
  /// `short:DIGITS`.
  public var key: String {
    switch self {
    case .international(let number): number
    case .alphanumeric(let name): "alnum:" + name
    case .shortCode(let digits): "short:" + digits
    }
  }

  /// The number, name or short code as is.
  public var description: String {
    switch self {
    case .international(let number): number
    case .alphanumeric(let name): name
    case .shortCode(let digits): digits
    }
  }

  /// Longest input looked at; anything longer is refused before parsing.
  public static let maximumInputLength = 64

  /// Parses a number as people write it: `+33 6 12 34 56 78`,
  /// `0033612345678`, `+33 (0)6 12 34 56 78`, `+1 (202) 555-0123`, or
  /// national `06 12 34 56 78` completed with `region`. Spaces (also
  /// no-break spaces), `-`, `.`, `/` and parentheses separate digits; a `(0)`
  /// after the country code of an international number is the trunk prefix
  /// and is dropped. A text that starts with a letter and has no `+` is an
  /// alphanumeric sender. Digits other than ASCII `0-9` are refused.
  public static func parse(_ text: String, region: PhoneRegion? = nil) -> Result<
    PhoneNumber, PhoneNumberError
  > {
    let trimmed = trim(text)
    guard !trimmed.isEmpty else {
      return .failure(PhoneNumberError(.empty, "Empty phone number."))
    }
    guard trimmed.unicodeScalars.count <= maximumInputLength else {
      return .failure(
        PhoneNumberError(
          .tooLong,
          "Phone number '\(CommandGrammar.printable(trimmed))' is too long (over \(maximumInputLength) characters)."
        ))
    }
    if let first = trimmed.unicodeScalars.first, isASCIILetter(first) {
      return alphanumeric(trimmed)
    }
    return digits(of: trimmed).flatMap { (international, digits) in
      international
        ? makeInternational(digits, input: trimmed)
        : makeNational(digits, region: region, input: trimmed)
    }
  }

  /// Parses a number as a modem reports it with its type-of-address octet:
  /// 145 (international; the `+` may be missing), 161 (national), 129
  /// (unknown: parsed like ``parse(_:region:)``), 208 (alphanumeric).
  public static func parse(
    modemNumber text: String, typeOfAddress: Int, region: PhoneRegion? = nil
  ) -> Result<PhoneNumber, PhoneNumberError> {
    let trimmed = trim(text)
    switch AddressType(typeOfAddress: typeOfAddress) {
    case .alphanumeric:
      guard !trimmed.isEmpty else {
        return .failure(PhoneNumberError(.empty, "Empty sender name."))
      }
      return alphanumeric(trimmed)
    case .international:
      guard !trimmed.isEmpty else {
        return .failure(PhoneNumberError(.empty, "Empty phone number."))
      }
      return parse(trimmed.hasPrefix("+") ? trimmed : "+" + trimmed, region: region)
    case .abbreviated:
      guard !trimmed.isEmpty else {
        return .failure(PhoneNumberError(.empty, "Empty phone number."))
      }
      guard trimmed.unicodeScalars.count <= maximumInputLength else {
        return parse(trimmed, region: region)  // the same "too long" error
      }
      return digits(of: trimmed).flatMap { (international, digits) in
        if international { return makeInternational(digits, input: trimmed) }
        let shown = CommandGrammar.printable(trimmed)
        if digits.isEmpty {
          return .failure(PhoneNumberError(.empty, "Phone number '\(shown)' has no digits."))
        }
        if digits.utf8.count > 15 {
          return .failure(
            PhoneNumberError(.tooLong, "Short code '\(shown)' is too long (over 15 digits)."))
        }
        return .success(.shortCode(digits))
      }
    case .national, .unknown:
      return parse(trimmed, region: region)
    }
  }

  /// Whether `a` and `b` are the same authorisable number once normalised
  /// with `region`; `false` if either does not parse.
  public static func same(_ a: String, _ b: String, region: PhoneRegion? = nil) -> Bool {
    guard case .success(let x) = parse(a, region: region),
      case .success(let y) = parse(b, region: region)
    else { return false }
    return x.matches(y)
  }

  // MARK: - Parsing steps

  private static func trim(_ text: String) -> String {
    let scalars = text.unicodeScalars
    guard let start = scalars.firstIndex(where: { !isSpace($0) }),
      let last = scalars.lastIndex(where: { !isSpace($0) })
    else { return "" }
    return String(scalars[start...last])
  }

  /// The digits of a number and whether it was written in international form
  /// (`+` or `00`).
  private static func digits(of text: String) -> Result<
    (international: Bool, digits: String), PhoneNumberError
  > {
    var scalars = Array(text.unicodeScalars)
    var international = false
    if scalars.first == "+" {
      international = true
      scalars.removeFirst()
    }
    // Separators go first, except parentheses, so that `( 0 )` reads `(0)`.
    scalars.removeAll { isSpace($0) || $0 == "-" || $0 == "." || $0 == "/" }
    if international || scalars.starts(with: ["0", "0"]) {
      // `+33 (0)6...`: the trunk prefix in parentheses is not dialled.
      var index = 0
      while index + 2 < scalars.count {
        if scalars[index] == "(" && scalars[index + 1] == "0" && scalars[index + 2] == ")" {
          scalars.removeSubrange(index..<(index + 3))
        } else {
          index += 1
        }
      }
    }
    var digits = ""
    for scalar in scalars {
      if isASCIIDigit(scalar) {
        digits.unicodeScalars.append(scalar)
      } else if scalar == "(" || scalar == ")" {
        continue
      } else if scalar == "+" {
        return .failure(
          PhoneNumberError(
            .misplacedPlus,
            "Phone number '\(CommandGrammar.printable(text))' has a '+' that is not at the start."))
      } else {
        let what =
          scalar.properties.numericType != nil
          ? "a digit that is not 0-9"
          : (scalar.value < 0x20 || scalar.value == 0x7F
            ? "a control character" : "'\(scalar.escaped(asASCII: true))'")
        return .failure(
          PhoneNumberError(
            .invalidCharacter,
            "Phone number '\(CommandGrammar.printable(text))' contains \(what); use digits, spaces and a leading '+'."
          ))
      }
    }
    if !international, digits.hasPrefix("00") {
      international = true
      digits.removeFirst(2)
    }
    return .success((international, digits))
  }

  private static func makeInternational(_ digits: String, input: String) -> Result<
    PhoneNumber, PhoneNumberError
  > {
    let shown = CommandGrammar.printable(input)
    if digits.hasPrefix("0") {
      return .failure(
        PhoneNumberError(
          .invalidCountry,
          "Phone number '\(shown)' has no valid country code after '+' or '00' (a country code never starts with 0)."
        ))
    }
    return checkLength(digits, shown: shown).map { .international("+" + digits) }
  }

  private static func makeNational(
    _ digits: String, region: PhoneRegion?, input: String
  ) -> Result<PhoneNumber, PhoneNumberError> {
    let shown = CommandGrammar.printable(input)
    guard !digits.isEmpty else {
      return .failure(PhoneNumberError(.empty, "Phone number '\(shown)' has no digits."))
    }
    if digits.utf8.count <= 6 { return .success(.shortCode(digits)) }
    guard let region else {
      return .failure(
        PhoneNumberError(
          .needsCountry,
          "Phone number '\(shown)' is in national format and no default country code is set; write it as +<country code><number>."
        ))
    }
    var national = Substring(digits)
    if !region.trunkPrefix.isEmpty, national.hasPrefix(region.trunkPrefix) {
      national = national.dropFirst(region.trunkPrefix.count)
    }
    let full = region.countryCode + national
    return checkLength(full, shown: shown).map { .international("+" + full) }
  }

  private static func checkLength(_ digits: String, shown: String) -> Result<
    Void, PhoneNumberError
  > {
    let count = digits.utf8.count
    if count < 7 {
      return .failure(
        PhoneNumberError(
          .tooShort,
          "Phone number '\(shown)' is too short (\(count) digits; at least 7 with the country code)."
        ))
    }
    if count > 15 {
      return .failure(
        PhoneNumberError(
          .tooLong, "Phone number '\(shown)' is too long (\(count) digits; E.164 allows 15)."))
    }
    return .success(())
  }

  private static func alphanumeric(_ text: String) -> Result<PhoneNumber, PhoneNumberError> {
    var cleaned = ""
    cleaned.unicodeScalars.append(
      contentsOf: text.unicodeScalars.filter {
        $0.value >= 0x20 && $0.value != 0x7F && !(0x80..<0xA0).contains($0.value)
      })
    guard !cleaned.isEmpty else {
      return .failure(PhoneNumberError(.empty, "Empty sender name."))
    }
    return .success(.alphanumeric(String(cleaned.prefix(11))))
  }
}

private func isASCIIDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }
private func isASCIIDigit(_ scalar: Unicode.Scalar) -> Bool { (0x30...0x39).contains(scalar.value) }
private func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
  (0x41...0x5A).contains(scalar.value) || (0x61...0x7A).contains(scalar.value)
}
private func isSpace(_ scalar: Unicode.Scalar) -> Bool {
  scalar == " " || scalar == "\t" || scalar == "\u{A0}" || scalar == "\u{202F}"
    || scalar == "\u{2007}"
}
