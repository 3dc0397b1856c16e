import Testing
import VigieCore

@Suite("RFC 1071 Internet checksum")
struct ChecksumTests {
  /// The example of RFC 1071 section 3: the sum of `00 01 f2 03 f4 f5 f6 f7`
  /// is `ddf2`, so the checksum is `220d`.
  static let rfcExample: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]

  @Test func rfc1071Example() {
    var checksum = InternetChecksum()
    checksum.add(Self.rfcExample)
    #expect(checksum.sum16 == 0xDDF2)
    #expect(checksum.value == 0x220D)
    #expect(InternetChecksum.checksum(Self.rfcExample) == 0x220D)
  }

  /// RFC 1071 section 2(B): the sum is independent of byte order: summing
  /// byte-swapped words gives the byte-swapped sum.
  @Test func byteOrderIndependence() {
    var swapped: [UInt8] = []
    for index in stride(from: 0, to: Self.rfcExample.count, by: 2) {
      swapped += [Self.rfcExample[index + 1], Self.rfcExample[index]]
    }
    var checksum = InternetChecksum()
    checksum.add(swapped)
    #expect(checksum.sum16 == 0xF2DD)
  }

  @Test func emptyAndZeros() {
    #expect(InternetChecksum().sum16 == 0)
    #expect(InternetChecksum().value == 0xFFFF)
    #expect(InternetChecksum.checksum([0, 0, 0]) == 0xFFFF)
  }

  /// An odd final byte counts as the high byte of a word padded with zero.
  @Test(
    arguments: [
      ([0xAB] as [UInt8], 0x54FF as UInt16),
      ([0x00, 0x01, 0xF2], 0x0DFE),  // ~(0x0001 + 0xF200)
      ([0xFF, 0xFF, 0xFF], 0x00FF),  // 0xFFFF + 0xFF00 = 0x1FEFF -> 0xFF00
    ] as [([UInt8], UInt16)])
  func oddLength(bytes: [UInt8], expected: UInt16) {
    #expect(InternetChecksum.checksum(bytes) == expected)
  }

  /// Adding the same bytes in two pieces, cut anywhere (odd cuts included),
  /// gives the same sum as adding them at once.
  @Test func incrementalAtEveryCut() {
    var generator = SeededGenerator(seed: 1071)
    for length in [0, 1, 2, 3, 7, 8, 63, 64, 65, 1500] {
      let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
      let whole = InternetChecksum.checksum(bytes)
      for cut in 0...length {
        var checksum = InternetChecksum()
        checksum.add(bytes[..<cut])
        checksum.add(bytes[cut...])
        #expect(checksum.value == whole, "length \(length), cut at \(cut)")
      }
      var byteByByte = InternetChecksum()
      for byte in bytes { byteByByte.add(CollectionOfOne(byte)) }
      #expect(byteByByte.value == whole)
    }
  }

  /// Big inputs of 0xFF bytes do not overflow the accumulator.
  @Test func largeInputFolds() {
    let bytes = [UInt8](repeating: 0xFF, count: 1 << 20)
    #expect(InternetChecksum.checksum(bytes) == 0)
    var checksum = InternetChecksum()
    checksum.add(bytes + [0x00, 0x01])
    // 0xFFFF (folded) + 1 = 0x10000 -> 0x0001.
    #expect(checksum.sum16 == 0x0001)
  }

  @Test func wordAndDoubleWordAreBigEndian() {
    var words = InternetChecksum()
    words.add(UInt16(0x0001))
    words.add(UInt32(0xF203_F4F5))
    words.add(UInt16(0xF6F7))
    #expect(words.value == 0x220D)
    // After an odd byte, a word continues at the odd position.
    var shifted = InternetChecksum()
    shifted.add([0x00])
    shifted.add(UInt16(0x01F2))
    shifted.add([0x03, 0xF4, 0xF5, 0xF6, 0xF7])
    #expect(shifted.value == 0x220D)
  }

  @Test func validation() {
    var packet = Self.rfcExample + [0x22, 0x0D]
    #expect(InternetChecksum.isValid(packet))
    packet[3] ^= 0x01
    #expect(!InternetChecksum.isValid(packet))
  }

  /// RFC 1624's update gives the same checksum as summing again.
  @Test func incrementalUpdateMatchesRecomputation() {
    var generator = SeededGenerator(seed: 1624)
    for _ in 0..<500 {
      var bytes = (0..<20).map { _ in UInt8.random(in: 0...255, using: &generator) }
      bytes[10] = 0
      bytes[11] = 0
      let checksum = InternetChecksum.checksum(bytes)
      let offset = 2 * Int.random(in: 0..<10, using: &generator)
      guard offset != 10 else { continue }
      let old = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
      let new = UInt16.random(in: 0...UInt16.max, using: &generator)
      bytes[offset] = UInt8(new >> 8)
      bytes[offset + 1] = UInt8(new & 0xFF)
      let recomputed = InternetChecksum.checksum(bytes)
      let updated = InternetChecksum.updated(checksum, replacing: old, with: new)
      // One's complement has two zeros; both mean the same sum.
      #expect(
        updated == recomputed || (updated | recomputed == 0xFFFF && updated & recomputed == 0))
    }
  }

  /// The IPv6 pseudo-header, summed by hand for ::1 -> ::1, 12 bytes of ICMPv6:
  /// 0x0001 + 0x0001 + 0x000C + 0x003A = 0x0048.
  @Test func ipv6PseudoHeader() {
    let pseudo = InternetChecksum.ipv6PseudoHeader(
      source: .loopback, destination: .loopback, upperLayerLength: 12, nextHeader: 58)
    #expect(pseudo.sum16 == 0x0048)
    // Adding to it continues the same sum: an echo request `80 00 0000 0001
    // 0001 61626364` from fe80::1 to fe80::2 has checksum bdeb (scapy agrees).
    let source = IPv6Address(high: 0xFE80_0000_0000_0000, low: 1)
    let destination = IPv6Address(high: 0xFE80_0000_0000_0000, low: 2)
    var checksum = InternetChecksum.ipv6PseudoHeader(
      source: source, destination: destination, upperLayerLength: 12, nextHeader: 58)
    checksum.add([0x80, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64])
    #expect(checksum.value == 0xBDEB)
  }

  /// The IPv4 pseudo-header of TCP and UDP: 10.0.0.1 -> 10.0.0.2, UDP, 8 bytes:
  /// 0x0A00 + 0x0001 + 0x0A00 + 0x0002 + 0x0011 + 0x0008 = 0x141C.
  @Test func ipv4PseudoHeader() {
    let pseudo = InternetChecksum.ipv4PseudoHeader(
      source: IPv4Address(10, 0, 0, 1), destination: IPv4Address(10, 0, 0, 2), protocol: 17,
      length: 8)
    #expect(pseudo.sum16 == 0x141C)
  }
}

/// SplitMix64: a small seeded generator, so that random tests repeat.
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
