/// The Internet checksum of RFC 1071: the 16-bit one's complement of the one's
/// complement sum of the data taken as big-endian 16-bit words, an odd final
/// byte being padded with a zero byte.
///
/// The sum is incremental: bytes may be added in any number of pieces, of any
/// lengths, odd ones included; the result is the same as for the
/// concatenation. IPv4, ICMPv4, ICMPv6, TCP and UDP all use it; ICMPv6, TCP and
/// UDP also cover a pseudo-header (see ``ipv6PseudoHeader(source:destination:upperLayerLength:nextHeader:)``).
///
/// ```swift
/// var checksum = InternetChecksum()
/// checksum.add(header)
/// checksum.add(payload)
/// let value = checksum.value  // store big-endian in the checksum field
/// ```
public struct InternetChecksum: Sendable, Hashable {
  /// Running sum, folded after every `add` so that it never overflows.
  private var sum: UInt32 = 0
  /// Whether an odd number of bytes has been added: the next byte is then
  /// the low byte of a word whose high byte is already in `sum`.
  private var odd = false

  /// An empty sum.
  public init() {}

  /// Adds bytes to the sum, continuing where the previous bytes ended (an odd
  /// previous length is handled).
  public mutating func add(_ bytes: some Sequence<UInt8>) {
    var sum = self.sum
    var odd = self.odd
    for byte in bytes {
      sum &+= odd ? UInt32(byte) : UInt32(byte) << 8
      odd.toggle()
      // Fold well before the 32-bit accumulator could overflow.
      if sum >= 0xFFFF_0000 { sum = (sum & 0xFFFF) &+ (sum >> 16) }
    }
    self.sum = Self.fold(sum)
    self.odd = odd
  }

  /// Adds a 16-bit value as two big-endian bytes.
  public mutating func add(_ value: UInt16) {
    add(CollectionOfOne(UInt8(truncatingIfNeeded: value >> 8)))
    add(CollectionOfOne(UInt8(truncatingIfNeeded: value)))
  }

  /// Adds a 32-bit value as four big-endian bytes.
  public mutating func add(_ value: UInt32) {
    add(UInt16(truncatingIfNeeded: value >> 16))
    add(UInt16(truncatingIfNeeded: value))
  }

  /// The folded one's complement sum of everything added so far (a trailing
  /// odd byte counts as padded with zero). A packet whose checksum field is
  /// correct sums to `0xFFFF`.
  public var sum16: UInt16 { UInt16(truncatingIfNeeded: Self.fold(sum)) }

  /// The checksum to store, big-endian, in the packet's checksum field (with
  /// that field taken as zero while summing): the complement of ``sum16``.
  public var value: UInt16 { ~sum16 }

  /// The checksum of `bytes`.
  public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt16 {
    var checksum = InternetChecksum()
    checksum.add(bytes)
    return checksum.value
  }

  /// Whether `bytes`, checksum field included, sum to `0xFFFF`: true when
  /// the stored checksum is correct.
  public static func isValid(_ bytes: some Sequence<UInt8>) -> Bool {
    var checksum = InternetChecksum()
    checksum.add(bytes)
    return checksum.sum16 == 0xFFFF
  }

  /// A sum started with the IPv6 pseudo-header of RFC 8200 section 8.1:
  /// source and destination addresses, the 32-bit upper-layer packet length,
  /// three zero bytes and the next-header value (58 for ICMPv6, 6 for TCP,
  /// 17 for UDP). Add the upper-layer packet (checksum field zero) to it.
  public static func ipv6PseudoHeader(
    source: IPv6Address, destination: IPv6Address, upperLayerLength: UInt32, nextHeader: UInt8
  ) -> InternetChecksum {
    var checksum = InternetChecksum()
    checksum.add(source.bytes)
    checksum.add(destination.bytes)
    checksum.add(upperLayerLength)
    checksum.add([0, 0, 0, nextHeader])
    return checksum
  }

  /// A sum started with the IPv4 pseudo-header of TCP and UDP (RFC 793,
  /// RFC 768): source, destination, a zero byte, the protocol and the 16-bit
  /// TCP or UDP length.
  public static func ipv4PseudoHeader(
    source: IPv4Address, destination: IPv4Address, protocol: UInt8, length: UInt16
  ) -> InternetChecksum {
    var checksum = InternetChecksum()
    checksum.add(source.value)
    checksum.add(destination.value)
    checksum.add([0, `protocol`])
    checksum.add(length)
    return checksum
  }

  /// The checksum after one 16-bit word of the covered data changed from
  /// `old` to `new`, without summing the data again (RFC 1624, equation 3:
  /// `HC' = ~(~HC + ~m + m')`). The word must be at an even offset.
  public static func updated(_ checksum: UInt16, replacing old: UInt16, with new: UInt16) -> UInt16 {
    let sum = UInt32(~checksum) + UInt32(~old) + UInt32(new)
    return ~UInt16(truncatingIfNeeded: fold(sum))
  }

  /// Adds the carries back into the low 16 bits until none is left.
  private static func fold(_ value: UInt32) -> UInt32 {
    var value = value
    while value > 0xFFFF { value = (value & 0xFFFF) &+ (value >> 16) }
    return value
  }
}
