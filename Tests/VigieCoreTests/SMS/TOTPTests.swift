import Testing
import VigieCore

@Suite("base32")
struct Base32Tests {
  @Test(
    "RFC 4648 vectors, with and without padding, any case, with spaces",
    arguments: [
      ("MY======", "f"), ("MY", "f"), ("MZXQ====", "fo"), ("MZXW6===", "foo"), ("MZXW6YQ=", "foob"),
      ("MZXW6YTB", "fooba"), ("MZXW6YTBOI======", "foobar"), ("mzxw6ytboi", "foobar"),
      ("MZXW 6YTB OI", "foobar"), (" mzXW6-ytBOI \n", "foobar"),
      ("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "12345678901234567890"),
    ])
  func decode(text: String, decoded: String) throws {
    #expect(try Base32.decode(text).get() == Array(decoded.utf8))
  }

  @Test(
    "clear errors",
    arguments: [
      ("", Base32Error.Code.empty), ("  ", .empty), ("====", .empty),
      ("M", .invalidLength), ("MZX", .invalidLength), ("MZXW6Y", .invalidLength),
      ("MZXW6YTBO", .invalidLength),
      ("MZ=XW6", .invalidPadding), ("MY=", .invalidPadding), ("MZXW6YQ==", .invalidPadding),
      ("MZXW01", .invalidCharacter), ("MZXW8", .invalidCharacter), ("MZ\u{0}XW", .invalidCharacter),
      ("MZXWé", .invalidCharacter), ("MZ_XW", .invalidCharacter),
    ] as [(String, Base32Error.Code)])
  func errors(text: String, code: Base32Error.Code) {
    guard case .failure(let error) = Base32.decode(text) else {
      Issue.record("'\(text)' decoded")
      return
    }
    #expect(error.code == code)
    #expect(!error.message.contains("\u{0}"))
  }

  @Test("a digit that base32 lacks gets a hint")
  func hint() {
    guard case .failure(let error) = Base32.decode("JBSW0Y3D") else { return #expect(Bool(false)) }
    #expect(error.message.contains("no 0, 1, 8 or 9"))
  }

  @Test("encode and decode round-trip")
  func roundTrip() throws {
    var generator = SplitMix64(seed: 3)
    for length in 0..<40 {
      let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
      let padded = Base32.encode(data, padded: true)
      #expect(padded.utf8.count % 8 == 0)
      if length > 0 {
        #expect(try Base32.decode(padded).get() == data)
        #expect(try Base32.decode(Base32.encode(data).lowercased()).get() == data)
      }
    }
    #expect(Base32.encode(Array("foobar".utf8), padded: true) == "MZXW6YTBOI======")
  }
}

@Suite("TOTP")
struct TOTPTests {
  static let rfcSecret = Array("12345678901234567890".utf8)

  @Test(
    "RFC 6238 Appendix B, SHA-1 rows",
    arguments: [
      (Int64(59), "94287082"), (1_111_111_109, "07081804"), (1_111_111_111, "14050471"),
      (1_234_567_890, "89005924"), (2_000_000_000, "69279037"), (20_000_000_000, "65353130"),
    ] as [(Int64, String)])
  func rfc6238(time: Int64, code: String) throws {
    let totp = try TOTP(secret: Self.rfcSecret, digits: 8)
    #expect(totp.code(at: time) == code)
    #expect(totp.verify(code: code, at: time, window: 0) == totp.step(at: time))
  }

  @Test("RFC 4226 Appendix D HOTP values")
  func rfc4226() throws {
    let totp = try TOTP(secret: Self.rfcSecret)
    let expected = [
      "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
      "520489",
    ]
    #expect((0..<10).map { totp.code(step: UInt64($0)) } == expected)
  }

  @Test("a base32 secret as apps show it")
  func base32Secret() throws {
    let totp = try TOTP(base32Secret: "gezd gnbv gy3t qojq gezd gnbv gy3t qojq")
    #expect(totp.code(step: 1) == "287082")
    #expect(totp.code(at: 59) == "287082")
    #expect(totp.code(at: 60) == "359152")
    #expect(!totp.description.contains("GEZD"))
    #expect(!"\(totp)".contains("12345"))
  }

  @Test("verification window and returned step")
  func window() throws {
    let totp = try TOTP(secret: Self.rfcSecret)
    let now: Int64 = 1_700_000_000
    let step = totp.step(at: now)
    #expect(totp.verify(code: totp.code(at: now), at: now) == step)
    #expect(totp.verify(code: totp.code(at: now - 30), at: now) == step - 1)
    #expect(totp.verify(code: totp.code(at: now + 30), at: now) == step + 1)
    #expect(totp.verify(code: totp.code(at: now - 60), at: now) == nil)
    #expect(totp.verify(code: totp.code(at: now - 60), at: now, window: 2) == step - 2)
    #expect(totp.verify(code: totp.code(at: now - 30), at: now, window: 0) == nil)
    #expect(totp.verify(code: totp.code(at: now - 30), at: now, window: -3) == nil)
    // Near the epoch the window does not go below step 0.
    #expect(totp.verify(code: totp.code(step: 0), at: 10, window: 5) == 0)
    #expect(totp.code(at: -100) == totp.code(step: 0))
  }

  @Test(
    "malformed codes are refused",
    arguments: [
      "", "12345", "1234567", "12345a", "١٢٣٤٥٦", " 123456", "123456 ", "+12345", "１２３４５６",
    ])
  func malformed(code: String) throws {
    let totp = try TOTP(secret: Self.rfcSecret)
    #expect(totp.verify(code: code, at: 1_700_000_000, window: 10) == nil)
  }

  @Test("replay guard: a step is accepted once, never after a newer one")
  func replay() throws {
    let totp = try TOTP(secret: Self.rfcSecret)
    let now: Int64 = 1_700_000_000
    var replayGuard = TOTPReplayGuard()
    let current = totp.code(at: now)
    let previous = totp.code(at: now - 30)
    let step = totp.step(at: now)
    #expect(totp.verify(code: current, at: now, replayGuard: &replayGuard) == .accepted(step: step))
    #expect(replayGuard.lastAcceptedStep == step)
    #expect(
      totp.verify(code: current, at: now + 5, replayGuard: &replayGuard) == .replayed(step: step))
    #expect(
      totp.verify(code: previous, at: now, replayGuard: &replayGuard) == .replayed(step: step - 1))
    #expect(
      totp.verify(code: "000000", at: now, replayGuard: &replayGuard) == .rejected
        || current == "000000")
    let next = totp.code(at: now + 30)
    #expect(
      totp.verify(code: next, at: now + 30, replayGuard: &replayGuard) == .accepted(step: step + 1))
    #expect(replayGuard.lastAcceptedStep == step + 1)
    // A guard restored from storage behaves the same.
    var restored = TOTPReplayGuard(lastAcceptedStep: step + 1)
    #expect(!restored.allows(step: step + 1))
    #expect(restored.allows(step: step + 2))
    let older = restored.accept(step: step)
    let newer = restored.accept(step: step + 2)
    #expect(!older && newer)
    #expect(restored.lastAcceptedStep == step + 2)
  }

  @Test("invalid parameters are clear errors")
  func parameters() {
    func code(_ make: () throws(TOTPError) -> TOTP) -> TOTPError.Code? {
      do {
        _ = try make()
        return nil
      } catch {
        return error.code
      }
    }
    #expect(code { () throws(TOTPError) in try TOTP(secret: [1, 2, 3]) } == .secretTooShort)
    #expect(
      code { () throws(TOTPError) in try TOTP(secret: Self.rfcSecret, digits: 5) } == .invalidDigits
    )
    #expect(
      code { () throws(TOTPError) in try TOTP(secret: Self.rfcSecret, digits: 9) } == .invalidDigits
    )
    #expect(
      code { () throws(TOTPError) in try TOTP(secret: Self.rfcSecret, period: 0) } == .invalidPeriod
    )
    #expect(
      code { () throws(TOTPError) in try TOTP(base32Secret: "not base32!") } == .invalidSecret)
    #expect(code { () throws(TOTPError) in try TOTP(base32Secret: "JBSWY3DP") } == .secretTooShort)
    #expect(code { () throws(TOTPError) in try TOTP(base32Secret: "JBSWY3DPEHPK3PXP") } == nil)
  }
}
