import Testing
import VigieCore

func hex(_ bytes: [UInt8]) -> String {
  bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("SHA-1 and HMAC-SHA1")
struct SHA1Tests {
  @Test(
    "FIPS 180 vectors and padding boundaries",
    arguments: [
      ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
      ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
      (
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
      ),
      (
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "a49b2446a02c645bf419f995b67091253a04a259"
      ),
      (String(repeating: "a", count: 55), "c1c8bbdc22796e28c0e15163d20899b65621d65a"),
      (String(repeating: "a", count: 56), "c2db330f6083854c99d4b5bfb6e8f29f201be699"),
      (String(repeating: "a", count: 63), "03f09f5b158a7a8cdad920bddc29b81c18a551f5"),
      (String(repeating: "a", count: 64), "0098ba824b5c16427bd7a1122a5a442a25ec644d"),
    ])
  func vectors(message: String, digest: String) {
    #expect(hex(SHA1.hash(message)) == digest)
  }

  @Test("one million 'a'")
  func million() {
    var sha = SHA1()
    let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
    for _ in 0..<1000 { sha.update(chunk) }
    #expect(hex(sha.finalize()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
  }

  @Test("fed byte by byte or in random chunks, the digest is the same")
  func incremental() {
    var generator = SplitMix64(seed: 5)
    for length in [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 300] {
      let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
      let expected = SHA1.hash(message)
      var byByte = SHA1()
      for byte in message { byByte.update([byte]) }
      #expect(byByte.finalize() == expected)
      var chunked = SHA1()
      var rest = message[...]
      while !rest.isEmpty {
        let n = Int.random(in: 1...70, using: &generator)
        chunked.update(rest.prefix(n))
        rest = rest.dropFirst(n)
      }
      #expect(chunked.finalize() == expected)
    }
  }

  @Test(
    "RFC 2202 HMAC-SHA1 test cases",
    arguments: [
      (
        [UInt8](repeating: 0x0B, count: 20), bytes("Hi There"),
        "b617318655057264e28bc0b6fb378c8ef146be00"
      ),
      (
        bytes("Jefe"), bytes("what do ya want for nothing?"),
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
      ),
      (
        [UInt8](repeating: 0xAA, count: 20), [UInt8](repeating: 0xDD, count: 50),
        "125d7342b9ac11cd91a39af48aa17b4f63f175d3"
      ),
      (
        Array(1...25), [UInt8](repeating: 0xCD, count: 50),
        "4c9007f4026250c6bc8414f9bf50c86c2d7235da"
      ),
      (
        [UInt8](repeating: 0x0C, count: 20), bytes("Test With Truncation"),
        "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"
      ),
      (
        [UInt8](repeating: 0xAA, count: 80),
        bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
        "aa4ae5e15272d00e95705637ce8a3b55ed402112"
      ),
      (
        [UInt8](repeating: 0xAA, count: 80),
        bytes("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"),
        "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"
      ),
    ] as [([UInt8], [UInt8], String)])
  func hmac(key: [UInt8], message: [UInt8], mac: String) {
    #expect(hex(HMACSHA1.authenticationCode(for: message, key: key)) == mac)
  }

  @Test("constant-time comparison")
  func constantTime() {
    #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
    #expect(!ConstantTime.equal([1, 2, 3], [1, 2, 4]))
    #expect(!ConstantTime.equal([1, 2, 3], [1, 2]))
    #expect(!ConstantTime.equal([1, 2], [1, 2, 0]))
    #expect(!ConstantTime.equal([], [0]))
    #expect(ConstantTime.equal([UInt8](), []))
    #expect(ConstantTime.equalSecrets("correct horse", "correct horse"))
    #expect(!ConstantTime.equalSecrets("correct horse", "correct hors"))
  }
}
