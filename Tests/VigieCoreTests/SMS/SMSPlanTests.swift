import Testing
import VigieCore

/// Checks every invariant of a plan of `text` (untruncated).
func checkPlan(_ plan: SMSPlan, of text: String, sourceLocation: SourceLocation = #_sourceLocation) {
  #expect(
    plan.text.unicodeScalars.elementsEqual(text.unicodeScalars), "parts re-join to the input",
    sourceLocation: sourceLocation)
  checkLimits(plan, sourceLocation: sourceLocation)
  #expect(
    (plan.encoding == .gsm7) == GSMAlphabet.canEncode(text), "GSM-7 exactly when possible",
    sourceLocation: sourceLocation)
}

func checkLimits(_ plan: SMSPlan, sourceLocation: SourceLocation = #_sourceLocation) {
  #expect(!plan.parts.isEmpty, sourceLocation: sourceLocation)
  let capacity =
    plan.isMultipart ? plan.encoding.multipartCapacity : plan.encoding.singlePartCapacity
  for part in plan.parts {
    #expect(part.units <= capacity, "part of \(part.units) units", sourceLocation: sourceLocation)
    #expect(plan.encoding.units(of: part.text) == part.units, sourceLocation: sourceLocation)
    if plan.isMultipart { #expect(!part.text.isEmpty, sourceLocation: sourceLocation) }
  }
  // Greedy: merging a part with the next one's first character would
  // overflow it (so no plan has more parts than needed for its cuts).
  if plan.isMultipart {
    for (part, next) in zip(plan.parts, plan.parts.dropFirst()) {
      if let first = next.text.first, let cost = plan.encoding.units(of: first), cost <= capacity {
        #expect(part.units + cost > capacity, sourceLocation: sourceLocation)
      }
    }
  }
}

func repeated(_ s: String, _ n: Int) -> String { String(repeating: s, count: n) }

@Suite("SMS segmentation")
struct SMSPlanTests {
  @Test(
    "part counts at the boundaries",
    arguments: [
      ("", SMSEncoding.gsm7, [0]),
      (repeated("a", 160), .gsm7, [160]),
      (repeated("a", 161), .gsm7, [153, 8]),
      (repeated("a", 306), .gsm7, [153, 153]),
      (repeated("a", 307), .gsm7, [153, 153, 1]),
      (repeated("a", 153 * 3), .gsm7, [153, 153, 153]),
      (repeated("a", 153 * 3 + 1), .gsm7, [153, 153, 153, 1]),
      (repeated("€", 80), .gsm7, [160]),
      (repeated("€", 80) + "a", .gsm7, [152, 9]),
      // An escape pair at the boundary moves to the next part whole.
      (repeated("a", 152) + "€" + repeated("a", 10), .gsm7, [152, 12]),
      (repeated("a", 151) + "€" + repeated("a", 10), .gsm7, [153, 10]),
      (repeated("ç", 70), .ucs2, [70]),
      (repeated("ç", 71), .ucs2, [67, 4]),
      (repeated("ç", 134), .ucs2, [67, 67]),
      (repeated("😀", 35), .ucs2, [70]),
      (repeated("😀", 36), .ucs2, [66, 6]),
      // A surrogate pair at the boundary moves whole.
      (repeated("ç", 66) + "😀" + repeated("ç", 10), .ucs2, [66, 12]),
      // A flag (two regional indicators, 4 units) and a thumb with a skin
      // tone (4 units) are not cut either.
      (repeated("ç", 65) + "🇫🇷" + repeated("ç", 10), .ucs2, [65, 14]),
      (repeated("ç", 64) + "👍🏽" + repeated("ç", 10), .ucs2, [64, 14]),
      (repeated("ç", 63) + "👍🏽" + repeated("ç", 10), .ucs2, [67, 10]),
      // CR LF is one character: it stays in one part.
      (repeated("a", 152) + "\r\n" + repeated("a", 10), .gsm7, [152, 12]),
    ] as [(String, SMSEncoding, [Int])])
  func boundaries(text: String, encoding: SMSEncoding, units: [Int]) {
    let plan = SMSPlan.make(text: text)
    #expect(plan.encoding == encoding)
    #expect(plan.parts.map(\.units) == units)
    #expect(!plan.isTruncated)
    checkPlan(plan, of: text)
  }

  @Test("one non-GSM character anywhere makes the whole text UCS-2")
  func ucs2Switch() {
    let text = repeated("a", 100) + "ç"
    let plan = SMSPlan.make(text: text)
    #expect(plan.encoding == .ucs2)
    #expect(plan.parts.map(\.units) == [67, 34])
    #expect(SMSPlan.make(text: text, encoding: .gsm7) == nil)
    #expect(SMSPlan.make(text: repeated("a", 100), encoding: .ucs2)?.parts.count == 2)
  }

  @Test(
    "a single character longer than a part is cut between scalars, never inside a surrogate pair")
  func giantClusters() {
    let zalgo = "e" + repeated("\u{301}", 100) + "x"
    #expect(zalgo.count == 2)
    let zalgoPlan = SMSPlan.make(text: zalgo)
    #expect(zalgoPlan.parts.map(\.units) == [67, 35])
    checkPlan(zalgoPlan, of: zalgo)

    // 30 men joined by ZWJ: one grapheme cluster of 90 UTF-16 units.
    let family = Array(repeating: "👨", count: 30).joined(separator: "\u{200D}")
    #expect(family.count == 1)
    let plan = SMSPlan.make(text: "ab" + family)
    checkPlan(plan, of: "ab" + family)
    for part in plan.parts {
      // Whole scalars only: the UTF-16 of each part is valid on its own.
      #expect(String(decoding: Array(part.text.utf16), as: UTF16.self) == part.text)
    }
  }

  @Test("an empty text is one empty part")
  func empty() {
    let plan = SMSPlan.make(text: "")
    #expect(plan.parts == [SMSPlan.Part(text: "", units: 0)])
    #expect(plan.encoding == .gsm7)
  }

  static let alphabet: [String] = [
    "a", "b", "Z", "0", " ", ".", "\n", "\r\n", "€", "^", "{", "}", "\\", "[", "~", "]", "|",
    "\u{0C}",
    "é", "Ç", "Δ", "ß", "ç", "ê", "œ", "…", "😀", "🇫🇷", "👍🏽", "👨‍👩‍👧‍👦", "e\u{301}", "\u{301}", "中", "𝄞",
  ]

  static func randomText(
    _ generator: inout SplitMix64, maxLength: Int, gsmOnly: Bool = false
  ) -> String {
    let alphabet = gsmOnly ? Self.alphabet.filter { GSMAlphabet.canEncode($0) } : Self.alphabet
    let length = Int.random(in: 0...maxLength, using: &generator)
    var text = ""
    for _ in 0..<length {
      // Mostly plain letters, so that both encodings and all sizes occur.
      text += Bool.random(using: &generator) ? "a" : alphabet.randomElement(using: &generator)!
    }
    return text
  }

  @Test("random texts always satisfy the limits and re-join exactly", arguments: [1, 2, 3])
  func random(seed: UInt64) {
    var generator = SplitMix64(seed: seed)
    for round in 0..<300 {
      let text = Self.randomText(&generator, maxLength: 700, gsmOnly: round % 2 == 0)
      let plan = SMSPlan.make(text: text)
      checkPlan(plan, of: text)
      // No grapheme cluster is cut (none here is longer than a part).
      #expect(plan.parts.reduce(0) { $0 + $1.text.count } == text.count)
    }
  }
}

@Suite("SMS truncation")
struct SMSCappedTests {
  /// The text kept before the marker, checked to be a prefix of `text` cut
  /// between characters.
  func kept(
    _ plan: SMSPlan, of text: String, marker: String,
    sourceLocation: SourceLocation = #_sourceLocation
  )
    -> String
  {
    let whole = plan.text
    #expect(whole.hasSuffix(marker), sourceLocation: sourceLocation)
    let keptText = String(whole.unicodeScalars.dropLast(marker.unicodeScalars.count))
    #expect(
      text.unicodeScalars.starts(with: keptText.unicodeScalars), sourceLocation: sourceLocation)
    #expect(text.hasPrefix(keptText), sourceLocation: sourceLocation)
    return keptText
  }

  @Test("a text that fits is not touched")
  func fits() {
    let text = repeated("a", 459)
    let plan = SMSPlan.capped(text: text, maxParts: 3)
    #expect(!plan.isTruncated)
    #expect(plan == SMSPlan.make(text: text))
  }

  @Test(
    "GSM-7 texts end with the ASCII marker, UCS-2 texts with the ellipsis",
    arguments: [
      (repeated("a", 460), 3, SMSEncoding.gsm7, "...(truncated)", 459 - 14),
      (repeated("a", 1000), 3, .gsm7, "...(truncated)", 459 - 14),
      (repeated("a", 1000), 1, .gsm7, "...(truncated)", 160 - 14),
      (repeated("a", 1000), 2, .gsm7, "...(truncated)", 306 - 14),
      (repeated("ç", 1000), 3, .ucs2, "…(truncated)", 201 - 12),
      (repeated("ç", 1000), 1, .ucs2, "…(truncated)", 70 - 12),
      // A long report with an emoji near the end: GSM-7 keeps far more.
      (repeated("a", 1000) + "😀", 3, .gsm7, "...(truncated)", 459 - 14),
      // An emoji at the start: only UCS-2 keeps anything.
      ("😀" + repeated("a", 1000), 3, .ucs2, "…(truncated)", 201 - 12 - 1),
      // maxParts below 1 means 1.
      (repeated("a", 1000), 0, .gsm7, "...(truncated)", 146),
      (repeated("a", 1000), -5, .gsm7, "...(truncated)", 146),
    ] as [(String, Int, SMSEncoding, String, Int)])
  func truncated(text: String, maxParts: Int, encoding: SMSEncoding, marker: String, keptCount: Int) {
    let plan = SMSPlan.capped(text: text, maxParts: maxParts)
    #expect(plan.isTruncated)
    #expect(plan.encoding == encoding)
    #expect(plan.parts.count == max(1, maxParts))
    checkLimits(plan)
    #expect(kept(plan, of: text, marker: marker).count == keptCount)
  }

  @Test("escape pairs and emoji at the cut")
  func cutsBetweenCharacters() {
    let euros = repeated("€", 300)
    let plan = SMSPlan.capped(text: euros, maxParts: 2)
    #expect(plan.encoding == .gsm7)
    checkLimits(plan)
    // Part 1 holds 76 euros (152 septets: the 77th pair would straddle the
    // boundary), part 2 holds 69 (138) and the 14-septet marker.
    #expect(plan.parts.map(\.units) == [152, 152])
    #expect(kept(plan, of: euros, marker: SMSPlan.defaultGSMMarker).count == 145)

    let thumbs = repeated("👍🏽", 100)
    let thumbPlan = SMSPlan.capped(text: thumbs, maxParts: 2)
    checkLimits(thumbPlan)
    let keptThumbs = kept(thumbPlan, of: thumbs, marker: SMSPlan.defaultMarker)
    #expect(keptThumbs == repeated("👍🏽", keptThumbs.count))
    #expect(keptThumbs.unicodeScalars.count % 2 == 0)
  }

  @Test("custom markers")
  func customMarkers() {
    let text = repeated("a", 500)
    let bracket = SMSPlan.capped(text: text, maxParts: 1, marker: "[cut]")
    #expect(bracket.encoding == .gsm7)
    // "[" and "]" take 2 septets each.
    #expect(kept(bracket, of: text, marker: "[cut]").count == 160 - 7)
    // A marker outside the GSM alphabet is used as given: UCS-2.
    let scissors = SMSPlan.capped(text: text, maxParts: 1, marker: "✂")
    #expect(scissors.encoding == .ucs2)
    #expect(kept(scissors, of: text, marker: "✂").count == 69)
    // An empty marker just cuts.
    let bare = SMSPlan.capped(text: text, maxParts: 1, marker: "")
    #expect(bare.text == repeated("a", 160))
    // A marker that cannot fit on its own is dropped.
    let huge = SMSPlan.capped(text: text, maxParts: 1, marker: repeated("x", 200))
    #expect(huge.text == repeated("a", 160))
    #expect(huge.isTruncated)
  }

  @Test("random texts capped to 1 to 4 parts", arguments: [11, 12])
  func random(seed: UInt64) {
    var generator = SplitMix64(seed: seed)
    for round in 0..<200 {
      let text = SMSPlanTests.randomText(&generator, maxLength: 900, gsmOnly: round % 3 == 0)
      let maxParts = Int.random(in: 1...4, using: &generator)
      let plan = SMSPlan.capped(text: text, maxParts: maxParts)
      #expect(plan.parts.count <= maxParts)
      checkLimits(plan)
      if plan.isTruncated {
        let marker = plan.encoding == .gsm7 ? SMSPlan.defaultGSMMarker : SMSPlan.defaultMarker
        _ = kept(plan, of: text, marker: marker)
        #expect(SMSPlan.make(text: text).parts.count > maxParts)
      } else {
        #expect(plan.text.unicodeScalars.elementsEqual(text.unicodeScalars))
      }
    }
  }
}
