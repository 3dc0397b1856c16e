import Testing
import VigieCore

@Suite("phone numbers")
struct PhoneNumberTests {
  static let france = PhoneRegion(countryCode: "33")!
  static let usa = PhoneRegion(countryCode: "1", trunkPrefix: "1")!
  static let italy = PhoneRegion(countryCode: "39", trunkPrefix: "")!

  @Test(
    "accepted forms",
    arguments: [
      ("+33612345678", nil, PhoneNumber.international("+33612345678")),
      ("+33 6 12 34 56 78", nil, .international("+33612345678")),
      ("0033612345678", nil, .international("+33612345678")),
      ("00 33 6 12 34 56 78", nil, .international("+33612345678")),
      ("+33 (0)6 12 34 56 78", nil, .international("+33612345678")),
      ("+33(0)612345678", nil, .international("+33612345678")),
      ("+33 ( 0 ) 6 12 34 56 78", nil, .international("+33612345678")),
      ("0033 (0)6 12 34 56 78", nil, .international("+33612345678")),
      ("\u{A0}+33\u{A0}6\u{202F}12 34 56 78\t", nil, .international("+33612345678")),
      ("0612345678", france, .international("+33612345678")),
      ("06 12 34 56 78", france, .international("+33612345678")),
      ("06.12.34.56.78", france, .international("+33612345678")),
      ("06-12-34-56-78", france, .international("+33612345678")),
      ("(0)6 12 34 56 78", france, .international("+33612345678")),
      ("612345678", france, .international("+33612345678")),
      ("+33612345678", france, .international("+33612345678")),
      ("+44 20 7946 0958", france, .international("+442079460958")),
      ("+1 (202) 555-0123", nil, .international("+12025550123")),
      ("1 202 555 0123", usa, .international("+12025550123")),
      ("(202) 555-0123", usa, .international("+12025550123")),
      ("06 1234 5678", italy, .international("+390612345678")),
      ("+123456789012345", nil, .international("+123456789012345")),  // 15 digits
      ("+6834002", nil, .international("+6834002")),  // Niue: 7 digits
      ("36665", france, .shortCode("36665")),
      ("112", nil, .shortCode("112")),
      ("Orange", nil, .alphanumeric("Orange")),
      ("INFO", france, .alphanumeric("INFO")),
      ("Free Mobile", nil, .alphanumeric("Free Mobile")),
      ("VeryLongSenderName", nil, .alphanumeric("VeryLongSen")),
    ] as [(String, PhoneRegion?, PhoneNumber)])
  func accepted(text: String, region: PhoneRegion?, expected: PhoneNumber) throws {
    let number = try PhoneNumber.parse(text, region: region).get()
    #expect(number == expected)
  }

  @Test(
    "refused forms, with a reason",
    arguments: [
      ("", nil, PhoneNumberError.Code.empty),
      ("   ", nil, .empty),
      ("\u{A0}", nil, .empty),
      ("0612345678", nil, .needsCountry),
      ("+33 6 12 AB", nil, .invalidCharacter),
      ("06 12 AB 56 78", france, .invalidCharacter),
      ("٠٦١٢٣٤٥٦٧٨", france, .invalidCharacter),  // Arabic-Indic digits
      ("+٣٣٦١٢٣٤٥٦٧٨", nil, .invalidCharacter),
      ("０６１２３４５６７８", france, .invalidCharacter),  // full-width digits
      ("+336\u{0}12345678", nil, .invalidCharacter),
      ("+33612345678\u{0}", nil, .invalidCharacter),
      ("+33\n612345678", nil, .invalidCharacter),
      ("*#06#", france, .invalidCharacter),
      ("+33612345678;ext=2", nil, .invalidCharacter),
      ("33+612345678", nil, .misplacedPlus),
      ("++33612345678", nil, .misplacedPlus),
      ("+33612345678+", nil, .misplacedPlus),
      ("+", nil, .tooShort),
      ("+123", nil, .tooShort),
      ("00", nil, .tooShort),
      ("+" + String(repeating: "1", count: 40), nil, .tooLong),
      (String(repeating: "1", count: 40), france, .tooLong),
      ("+1234567890123456", nil, .tooLong),  // 16 digits
      (String(repeating: "x", count: 100), nil, .tooLong),
      ("+0612345678", nil, .invalidCountry),
      ("000612345678", nil, .invalidCountry),
    ] as [(String, PhoneRegion?, PhoneNumberError.Code)])
  func refused(text: String, region: PhoneRegion?, code: PhoneNumberError.Code) {
    guard case .failure(let error) = PhoneNumber.parse(text, region: region) else {
      Issue.record("'\(text)' parsed")
      return
    }
    #expect(error.code == code)
    #expect(!error.message.isEmpty)
    #expect(!error.message.contains("\u{0}"))
    #expect(error.message.count < 200)
  }

  @Test(
    "numbers as modems report them, with the type of address",
    arguments: [
      ("33612345678", 145, nil, PhoneNumber.international("+33612345678")),
      ("+33612345678", 145, nil, .international("+33612345678")),
      ("0612345678", 129, france, .international("+33612345678")),
      ("+33612345678", 129, nil, .international("+33612345678")),
      ("0033612345678", 129, nil, .international("+33612345678")),
      ("612345678", 161, france, .international("+33612345678")),
      ("0612345678", 161, france, .international("+33612345678")),
      ("Orange", 208, nil, .alphanumeric("Orange")),
      ("INFO\u{0}", 208, nil, .alphanumeric("INFO")),
      ("1&1", 208, nil, .alphanumeric("1&1")),
      ("36665", 0xB1, france, .shortCode("36665")),
      ("36665", 129, france, .shortCode("36665")),
    ] as [(String, Int, PhoneRegion?, PhoneNumber)])
  func modem(text: String, type: Int, region: PhoneRegion?, expected: PhoneNumber) throws {
    #expect(
      try PhoneNumber.parse(modemNumber: text, typeOfAddress: type, region: region).get()
        == expected)
  }

  @Test("modem numbers that are refused")
  func modemRefused() {
    for (text, type) in [
      ("", 145), ("", 208), ("\u{0}", 208), ("33 6 AB", 145), ("", 129), ("0612345678", 129),
      ("()", 0xB1),
      (String(repeating: "1", count: 16), 0xB1), (String(repeating: "1", count: 70), 0xB1),
    ] {
      guard case .failure = PhoneNumber.parse(modemNumber: text, typeOfAddress: type) else {
        Issue.record("'\(text)' type \(type) parsed")
        continue
      }
    }
  }

  @Test("type-of-address octets")
  func addressTypes() {
    #expect(AddressType(typeOfAddress: 145) == .international)
    #expect(AddressType(typeOfAddress: 129) == .unknown)
    #expect(AddressType(typeOfAddress: 161) == .national)
    #expect(AddressType(typeOfAddress: 208) == .alphanumeric)
    #expect(AddressType(typeOfAddress: 0xB1) == .abbreviated)
    #expect(AddressType(typeOfAddress: -1) == .unknown)  // any value, no trap
    #expect(AddressType(typeOfAddress: Int.max) == .unknown)
  }

  @Test("comparison after normalisation; names and short codes never match")
  func matching() throws {
    #expect(PhoneNumber.same("+33 6 12 34 56 78", "0612345678", region: Self.france))
    #expect(PhoneNumber.same("0033612345678", "+33 (0)6 12 34 56 78"))
    #expect(!PhoneNumber.same("+33612345678", "+33612345679"))
    #expect(!PhoneNumber.same("0612345678", "+33612345678"))  // no region: unparseable
    #expect(!PhoneNumber.same("Orange", "Orange"))
    #expect(!PhoneNumber.same("36665", "36665", region: Self.france))
    let orange = try PhoneNumber.parse("Orange").get()
    #expect(!orange.matches(orange))
    #expect(orange.e164 == nil)
    let number = try PhoneNumber.parse("+33612345678").get()
    #expect(number.matches(number))
    #expect(number.e164 == "+33612345678")
    #expect(!number.matches(orange) && !orange.matches(number))
    // An alphanumeric sender spelling a number is still a name.
    let spoof = try PhoneNumber.parse(modemNumber: "+33612345678", typeOfAddress: 208).get()
    #expect(spoof == .alphanumeric("+3361234567"))  // names are 11 characters at most
    #expect(!spoof.matches(number))
    #expect(spoof.key != number.key)
  }

  @Test("regions are validated")
  func regions() {
    for code in ["", "0", "01", "1234", "3a", "٣٣"] {
      #expect(PhoneRegion(countryCode: code) == nil)
    }
    #expect(PhoneRegion(countryCode: "33", trunkPrefix: "0a") == nil)
    #expect(PhoneRegion(countryCode: "33", trunkPrefix: "000") == nil)
    #expect(PhoneRegion(countryCode: "358", trunkPrefix: "") != nil)
  }

  @Test("random input never traps")
  func fuzz() {
    var generator = SplitMix64(seed: 99)
    let pieces = [
      "+", "0", "3", "6", " ", "(", ")", "-", ".", "a", "٣", "\u{0}", "0", "1", "9", "(0)",
    ]
    for _ in 0..<2000 {
      let count = Int.random(in: 0..<30, using: &generator)
      let text = (0..<count).map { _ in pieces.randomElement(using: &generator)! }.joined()
      if case .success(.international(let e164)) = PhoneNumber.parse(text, region: Self.france) {
        #expect(e164.hasPrefix("+"))
        #expect((8...16).contains(e164.utf8.count))
        #expect(e164.dropFirst().allSatisfy { $0.isASCII && $0.isNumber })
      }
    }
  }
}
