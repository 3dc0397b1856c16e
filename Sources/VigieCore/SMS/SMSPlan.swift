/// The data coding of an SMS text.
public enum SMSEncoding: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
  /// The GSM 7-bit default alphabet (``GSMAlphabet``); lengths in septets.
  case gsm7
  /// UCS-2 as phones really use it: UTF-16, surrogate pairs included;
  /// lengths in UTF-16 code units.
  case ucs2

  /// The most units one SMS holds when it is alone: 160 septets or 70
  /// UTF-16 units (140 octets).
  public var singlePartCapacity: Int {
    switch self {
    case .gsm7: 160
    case .ucs2: 70
    }
  }

  /// The most units one part of a concatenated SMS holds, after the 6-octet
  /// user data header (8-bit reference): 153 septets or 67 UTF-16 units.
  public var multipartCapacity: Int {
    switch self {
    case .gsm7: 153
    case .ucs2: 67
    }
  }

  /// The length of `character` in this encoding's units, or `nil` if it
  /// cannot be encoded (only in GSM-7).
  public func units(of character: Character) -> Int? {
    switch self {
    case .gsm7: GSMAlphabet.septetCount(of: character)
    case .ucs2: character.utf16.count
    }
  }

  /// The length of `text` in this encoding's units, or `nil` if it cannot be
  /// encoded (only in GSM-7).
  public func units(of text: some StringProtocol) -> Int? {
    switch self {
    case .gsm7: GSMAlphabet.septets(for: text)
    case .ucs2: text.utf16.count
    }
  }

  /// `GSM-7` or `UCS-2`.
  public var description: String {
    switch self {
    case .gsm7: "GSM-7"
    case .ucs2: "UCS-2"
    }
  }
}

/// How a text is sent as SMS: its encoding and its parts.
///
/// Splitting rules: parts are cut between characters (grapheme clusters), so
/// neither a GSM-7 escape pair, nor a surrogate pair, nor an emoji with a skin
/// tone or a flag is split. Only a single character longer than a whole part
/// (a long emoji sequence, a letter with dozens of combining marks) is cut,
/// and then between Unicode scalars, never inside a surrogate pair. The texts
/// of the parts always concatenate back to the input, scalar for scalar.
public struct SMSPlan: Sendable, Hashable {
  /// One SMS of the plan.
  public struct Part: Sendable, Hashable {
    /// The slice of the text this part carries.
    public var text: String
    /// Its length in septets (GSM-7) or UTF-16 units (UCS-2).
    public var units: Int

    /// A part carrying `text`, `units` long.
    public init(text: String, units: Int) {
      self.text = text
      self.units = units
    }
  }

  /// The default marker that ends a truncated text (``capped(text:maxParts:marker:)``).
  public static let defaultMarker = "…(truncated)"
  /// The marker used instead of ``defaultMarker`` for GSM-7 texts: `…` is not
  /// in the GSM alphabet and would turn the whole text into UCS-2.
  public static let defaultGSMMarker = "...(truncated)"

  /// How every part is coded.
  public var encoding: SMSEncoding
  /// At least one part; an empty text has one empty part.
  public var parts: [Part]
  /// Whether ``capped(text:maxParts:marker:)`` cut the text and appended a
  /// marker.
  public var isTruncated: Bool

  /// The text sent: the parts' texts joined.
  public var text: String { parts.map(\.text).joined() }
  /// Whether the text is sent as a concatenated (multipart) SMS.
  public var isMultipart: Bool { parts.count > 1 }
  /// The length of the text in the encoding's units.
  public var units: Int { parts.reduce(0) { $0 + $1.units } }

  /// The plan for `text`: GSM-7 when every character is in the GSM alphabet,
  /// UCS-2 otherwise.
  public static func make(text: String) -> SMSPlan {
    if let plan = make(text: text, encoding: .gsm7) { return plan }
    let parts = split(text, encoding: .ucs2) ?? [Part(text: text, units: text.utf16.count)]
    return SMSPlan(encoding: .ucs2, parts: parts, isTruncated: false)
  }

  /// The plan for `text` in `encoding`, or `nil` if GSM-7 was asked for and a
  /// character is not in the GSM alphabet.
  public static func make(text: String, encoding: SMSEncoding) -> SMSPlan? {
    guard let parts = split(text, encoding: encoding) else { return nil }
    return SMSPlan(encoding: encoding, parts: parts, isTruncated: false)
  }

  /// The plan for `text` in at most `maxParts` parts (at least 1 is used).
  ///
  /// A text that fits is planned as ``make(text:)`` does. A longer text is
  /// cut between characters and `marker` is appended so that the whole fits.
  /// Without a `marker`, a GSM-7 result ends with ``defaultGSMMarker`` and a
  /// UCS-2 one with ``defaultMarker``; a given marker that is not in the GSM
  /// alphabet is used as given and makes the result UCS-2.
  ///
  /// Both encodings are tried and the one that keeps more of the text wins
  /// (GSM-7 on a tie): GSM-7 keeps the longest prefix that is in the GSM
  /// alphabet, so a long ASCII report with an emoji near its end loses the
  /// emoji and its tail but keeps more than twice as much text as UCS-2
  /// would. A marker that does not fit at all on its own is dropped.
  public static func capped(text: String, maxParts: Int, marker: String? = nil) -> SMSPlan {
    let maxParts = max(1, maxParts)
    let full = make(text: text)
    if full.parts.count <= maxParts { return full }

    var best: (plan: SMSPlan, kept: Int)?
    for encoding in SMSEncoding.allCases {
      var candidateMarker = marker ?? (encoding == .gsm7 ? defaultGSMMarker : defaultMarker)
      if encoding == .gsm7 && !GSMAlphabet.canEncode(candidateMarker) { continue }
      let capacity =
        maxParts == 1
        ? encoding.singlePartCapacity : encoding.multipartCapacity * maxParts
      guard let markerUnits = encoding.units(of: candidateMarker) else { continue }
      if markerUnits > capacity { candidateMarker = "" }
      guard
        let candidate = longestPrefix(
          of: text, encoding: encoding, marker: candidateMarker, maxParts: maxParts)
      else { continue }
      if let current = best, current.kept >= candidate.kept { continue }
      best = candidate
    }
    // UCS-2 can encode everything, so there is always a candidate; keep a
    // safe answer anyway rather than trap.
    guard let best else {
      return SMSPlan(encoding: .ucs2, parts: [Part(text: "", units: 0)], isTruncated: true)
    }
    return best.plan
  }

  /// The longest prefix of `text` (in characters) that, followed by
  /// `marker`, fits `maxParts` parts of `encoding`, and its plan. `nil` when
  /// the marker alone does not fit.
  private static func longestPrefix(
    of text: String, encoding: SMSEncoding, marker: String, maxParts: Int
  ) -> (plan: SMSPlan, kept: Int)? {
    // First estimate: pack greedily as `split` would, reserving the marker's
    // room in the last part.
    guard let markerUnits = encoding.units(of: marker) else { return nil }
    let capacity = maxParts == 1 ? encoding.singlePartCapacity : encoding.multipartCapacity
    var part = 1
    var used = 0
    var end = text.startIndex
    var kept = 0
    for index in text.indices {
      guard let cost = encoding.units(of: text[index]) else { break }
      let room = part == maxParts ? capacity - markerUnits : capacity
      if used + cost > room {
        guard part < maxParts else { break }
        part += 1
        used = 0
        let lastRoom = part == maxParts ? capacity - markerUnits : capacity
        if cost > lastRoom { break }
      }
      used += cost
      end = text.index(after: index)
      kept += 1
    }
    // Then make sure: the marker may join the last character into a new
    // cluster, or a giant cluster may have been split; drop characters until
    // the real plan fits.
    var prefix = text[..<end]
    while true {
      let candidate = String(prefix) + marker
      if let parts = split(candidate, encoding: encoding), parts.count <= maxParts {
        return (SMSPlan(encoding: encoding, parts: parts, isTruncated: true), kept)
      }
      guard !prefix.isEmpty else { return nil }
      prefix = prefix.dropLast()
      kept -= 1
    }
  }

  /// Splits `text` into parts of `encoding`; `nil` if a character cannot be
  /// encoded.
  static func split(_ text: String, encoding: SMSEncoding) -> [Part]? {
    guard let total = encoding.units(of: text) else { return nil }
    if total <= encoding.singlePartCapacity { return [Part(text: text, units: total)] }
    let capacity = encoding.multipartCapacity
    let scalars = text.unicodeScalars
    var parts: [Part] = []
    var start = text.startIndex
    var used = 0

    func cut(at index: String.Index) {
      parts.append(Part(text: String(scalars[start..<index]), units: used))
      start = index
      used = 0
    }

    var index = text.startIndex
    while index < text.endIndex {
      let next = text.index(after: index)
      let character = text[index]
      // Known to be encodable: the whole text was measured above.
      let cost = encoding.units(of: character) ?? 0
      if cost <= capacity {
        if used + cost > capacity { cut(at: index) }
        used += cost
      } else {
        // A single character longer than a part: cut it between scalars.
        var scalarIndex = index
        while scalarIndex < next {
          let scalar = scalars[scalarIndex]
          let scalarCost =
            encoding == .ucs2
            ? scalar.utf16.count : (GSMAlphabet.septetCount(of: Character(scalar)) ?? 1)
          if used + scalarCost > capacity { cut(at: scalarIndex) }
          used += scalarCost
          scalarIndex = scalars.index(after: scalarIndex)
        }
      }
      index = next
    }
    if used > 0 || parts.isEmpty { cut(at: text.endIndex) }
    return parts
  }
}
