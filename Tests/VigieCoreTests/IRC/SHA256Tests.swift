import Testing
import VigieCore

@Suite("SHA-256 and certificate pins")
struct SHA256Tests {
  func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

  @Test("FIPS 180-4 test vectors")
  func vectors() {
    #expect(hex(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
      hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(
      hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)))
        == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test("pins: 64 hex digits, colons and case ignored; anything else refused")
  func pins() {
    let digest = SHA256.hash(Array("key".utf8))
    let text = hex(digest)
    #expect(CertificatePin.parse(text) == digest)
    #expect(CertificatePin.parse(text.uppercased()) == digest)
    let colons = stride(from: 0, to: 64, by: 2).map { i in
      String(text[text.index(text.startIndex, offsetBy: i)..<text.index(text.startIndex, offsetBy: i + 2)])
    }.joined(separator: ":")
    #expect(CertificatePin.parse(colons) == digest)
    #expect(CertificatePin.parse(String(text.dropLast())) == nil)
    #expect(CertificatePin.parse(String(text.dropLast()) + "g") == nil)
    #expect(CertificatePin.parse("") == nil)
    #expect(CertificatePin.matches(spki: Array("key".utf8), pins: [digest]))
    #expect(!CertificatePin.matches(spki: Array("other".utf8), pins: [digest]))
  }
}
