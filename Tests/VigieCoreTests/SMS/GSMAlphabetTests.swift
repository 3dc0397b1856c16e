import Testing
import VigieCore

@Suite("GSM 7-bit alphabet")
struct GSMAlphabetTests {
  /// 3GPP TS 23.038 §6.2.1, written as Unicode code points (independently
  /// of the implementation's table of characters); `nil` at 0x1B (escape).
  static let standard: [UInt32?] = [
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,
    0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,
    0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
    0x03A3, 0x0398, 0x039E, nil, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
    0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,
    0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,
    0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,
    0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,
    0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
    0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
    0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,
    0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
  ]

  /// TS 23.038 §6.2.1.1, the extension table.
  static let standardExtension: [UInt8: UInt32] = [
    0x0A: 0x000C, 0x14: 0x005E, 0x28: 0x007B, 0x29: 0x007D, 0x2F: 0x005C,
    0x3C: 0x005B, 0x3D: 0x007E, 0x3E: 0x005D, 0x40: 0x007C, 0x65: 0x20AC,
  ]

  @Test("all 128 positions of the default alphabet match the standard")
  func defaultTable() {
    #expect(Self.standard.count == 128)
    for septet in UInt8(0)..<128 {
      let expected = Self.standard[Int(septet)].map { Character(Unicode.Scalar($0)!) }
      let actual = GSMAlphabet.defaultCharacter(at: septet)
      #expect(actual == expected, "septet 0x\(String(septet, radix: 16))")
      if let actual {
        #expect(actual.unicodeScalars.count == 1)
        #expect(actual.unicodeScalars.first!.value == Self.standard[Int(septet)])
        #expect(GSMAlphabet.encode(String(actual)) == [septet])
      }
    }
    #expect(GSMAlphabet.defaultCharacter(at: 0x80) == nil)
    #expect(GSMAlphabet.defaultCharacter(at: 0xFF) == nil)
  }

  @Test("the extension table has exactly the standard's ten characters")
  func extensionTable() {
    for septet in UInt8(0)...255 {
      let expected = Self.standardExtension[septet].map { Character(Unicode.Scalar($0)!) }
      #expect(
        GSMAlphabet.extensionCharacter(at: septet) == expected,
        "escape 0x\(String(septet, radix: 16))")
      if let expected {
        #expect(GSMAlphabet.encode(String(expected)) == [0x1B, septet])
        #expect(GSMAlphabet.septetCount(of: expected) == 2)
      }
    }
  }

  @Test(
    "septet counts",
    arguments: [
      ("", 0), ("Hello", 5), ("€", 2), ("^{}\\[~]|€\u{0C}", 20), ("Ç", 1), ("@£$¥", 4),
      ("e\u{301}", 1),  // decomposed é is é
      ("\r\n", 2), ("Ω", 1), ("\u{2126}", 1),  // the ohm sign is canonically Ω
      ("ΔΦΓΛΩΠΨΣΘΞ", 10), ("ÆæßÉÄÖÑÜ§¿äöñüà", 15),
    ] as [(String, Int)])
  func septetCounts(text: String, count: Int) {
    #expect(GSMAlphabet.septets(for: text) == count)
    #expect(GSMAlphabet.canEncode(text))
    #expect(GSMAlphabet.encode(text)?.count == count)
  }

  @Test(
    "characters outside the alphabet",
    arguments: [
      "ç", "ê", "â", "œ", "…", "’", "«", "😀", "🇫🇷", "\t", "\u{0}", "\u{1B}", "`", "Ç\u{301}",
      "a\u{301}", "Α",  // Greek capital alpha looks like A but is not in the table
      "ı", "\u{FFFD}",
    ])
  func notEncodable(text: String) {
    #expect(!GSMAlphabet.canEncode(text))
    #expect(GSMAlphabet.septets(for: text) == nil)
    #expect(GSMAlphabet.encode(text) == nil)
    #expect(GSMAlphabet.septets(for: "abc" + text + "def") == nil)
  }

  @Test("every encodable character decodes back to itself")
  func roundTrip() {
    var all = ""
    for septet in UInt8(0)..<128 {
      if let c = GSMAlphabet.defaultCharacter(at: septet) { all.append(c) }
      if let c = GSMAlphabet.extensionCharacter(at: septet) { all.append(c) }
    }
    #expect(all.unicodeScalars.count == 127 + 10)
    let septets = GSMAlphabet.encode(all)!
    #expect(septets.count == 127 + 20)
    #expect(septets.allSatisfy { $0 < 0x80 })
    #expect(GSMAlphabet.decode(septets).unicodeScalars.elementsEqual(all.unicodeScalars))
    // CR LF is one Character in Swift and two septets.
    #expect(GSMAlphabet.encode("a\r\nb") == [0x61, 0x0D, 0x0A, 0x62])
    #expect(GSMAlphabet.decode([0x61, 0x0D, 0x0A, 0x62]) == "a\r\nb")
  }

  @Test(
    "damaged septets decode to the replacement, never trap",
    arguments: [
      ([0x1B], "\u{FFFD}"),  // escape at the end
      ([0x41, 0x1B], "A\u{FFFD}"),
      ([0x1B, 0x1B], "\u{FFFD}"),  // reserved: escape to another table
      ([0x1B, 0x1B, 0x41], "\u{FFFD}A"),
      ([0x1B, 0x0D], "\u{FFFD}"),  // reserved CR2
      ([0x1B, 0x41], "\u{FFFD}"),  // no extension character
      ([0x80], "\u{FFFD}"), ([0xFF, 0x41], "\u{FFFD}A"), ([0x1B, 0xE5], "\u{FFFD}"),
      ([0x1B, 0x65, 0x31], "€1"), ([0x00], "@"),
    ] as [([UInt8], String)])
  func damaged(septets: [UInt8], text: String) {
    #expect(GSMAlphabet.decode(septets) == text)
  }

  @Test("a custom replacement")
  func customReplacement() {
    #expect(GSMAlphabet.decode([0x48, 0x1B, 0x41, 0x49], replacement: "?") == "H?I")
  }

  @Test("random septets never trap and only decode to alphabet characters or the replacement")
  func fuzzDecode() {
    var generator = SplitMix64(seed: 7)
    for _ in 0..<500 {
      let length = Int.random(in: 0..<200, using: &generator)
      let septets = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
      let text = GSMAlphabet.decode(septets)
      for character in text where character != "\u{FFFD}" {
        #expect(GSMAlphabet.canEncode(character))
      }
    }
  }

  @Test("7-bit packing as in a PDU")
  func packing() {
    // The classic example of TS 23.038: "hellohello" packs to E8329BFD4697D9EC37.
    let septets = GSMAlphabet.encode("hellohello")!
    let packed = GSMAlphabet.pack(septets)
    #expect(packed == [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37])
    #expect(GSMAlphabet.unpack(packed, count: septets.count) == septets)
    // Eight septets fill seven octets exactly.
    #expect(
      GSMAlphabet.pack([UInt8](repeating: 0x7F, count: 8)) == [UInt8](repeating: 0xFF, count: 7))
    #expect(GSMAlphabet.pack([]) == [])
    #expect(GSMAlphabet.unpack([], count: 5) == [])
    #expect(GSMAlphabet.unpack([0xFF], count: 0) == [])
  }

  @Test("packing with fill bits after a user data header round-trips", arguments: 0..<7)
  func fillBits(fill: Int) {
    var generator = SplitMix64(seed: UInt64(fill))
    for length in [1, 7, 8, 9, 153, 160] {
      let septets = (0..<length).map { _ in UInt8.random(in: 0..<128, using: &generator) }
      let packed = GSMAlphabet.pack(septets, fillBits: fill)
      #expect(packed.count == (fill + 7 * length + 7) / 8)
      #expect(GSMAlphabet.unpack(packed, count: length, fillBits: fill) == septets)
    }
    // One fill bit (after a 6-octet header): the first bit is zero.
    #expect(GSMAlphabet.pack([0x7F], fillBits: 1) == [0xFE])
  }
}
