/// An IPv4 address.
public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible {
  /// The address as a number: `192.0.2.1` is `0xC000_0201`.
  public var value: UInt32

  /// The address whose number is `value`.
  public init(_ value: UInt32) { self.value = value }

  /// `IPv4Address(192, 0, 2, 1)`.
  public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
    value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
  }

  /// The address in network byte order, or nil unless there are exactly 4 bytes.
  public init?(bytes: some Collection<UInt8>) {
    guard bytes.count == 4 else { return nil }
    value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
  }

  /// The 4 bytes in network order.
  public var bytes: [UInt8] {
    [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) }
  }

  /// Dotted quad, e.g. `192.0.2.1`.
  public var description: String { bytes.map(String.init).joined(separator: ".") }

  public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// An IPv6 address (without zone).
public struct IPv6Address: Sendable, Hashable, CustomStringConvertible {
  /// The first and last 64 bits, as numbers.
  public var high: UInt64
  public var low: UInt64

  /// The address from its two 64-bit halves.
  public init(high: UInt64, low: UInt64) {
    self.high = high
    self.low = low
  }

  /// The address in network byte order, or nil unless there are exactly 16 bytes.
  public init?(bytes: some Collection<UInt8>) {
    guard bytes.count == 16 else { return nil }
    let array = Array(bytes)
    high = array[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
    low = array[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
  }

  /// `::1`.
  public static let loopback = IPv6Address(high: 0, low: 1)

  /// The 16 bytes in network order.
  public var bytes: [UInt8] {
    let shifts: [UInt64] = [56, 48, 40, 32, 24, 16, 8, 0]
    return shifts.map { UInt8(truncatingIfNeeded: high >> $0) }
      + shifts.map { UInt8(truncatingIfNeeded: low >> $0) }
  }

  /// The text form of RFC 5952: lower-case hexadecimal, no leading zeros,
  /// the longest run of two or more zero groups (the first of equal runs)
  /// written `::`, and IPv4-mapped addresses as `::ffff:192.0.2.1`.
  public var description: String {
    let bytes = self.bytes
    if high == 0, low >> 32 == 0xFFFF {
      return "::ffff:" + IPv4Address(UInt32(truncatingIfNeeded: low)).description
    }
    let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
    var bestStart = -1
    var bestLength = 1  // a single zero group is not compressed
    var index = 0
    while index < 8 {
      guard groups[index] == 0 else {
        index += 1
        continue
      }
      var end = index
      while end < 8, groups[end] == 0 { end += 1 }
      if end - index > bestLength {
        bestStart = index
        bestLength = end - index
      }
      index = end
    }
    func hex(_ range: Range<Int>) -> String {
      groups[range].map { String($0, radix: 16) }.joined(separator: ":")
    }
    guard bestStart >= 0 else { return hex(0..<8) }
    return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
  }
}

/// An IPv4 or IPv6 address.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
  case v4(IPv4Address)
  case v6(IPv6Address)

  /// The address in the usual text form (dotted quad, or RFC 5952).
  public var description: String {
    switch self {
    case .v4(let address): address.description
    case .v6(let address): address.description
    }
  }
}

/// IP protocol numbers (the IPv4 protocol field, the IPv6 next header).
public enum IPProtocolNumber {
  public static let icmp: UInt8 = 1
  public static let tcp: UInt8 = 6
  public static let udp: UInt8 = 17
  public static let icmpv6: UInt8 = 58
}

/// An IPv4 header (RFC 791), as raw IPv4 sockets deliver it in front of
/// every packet and as ICMP errors quote it.
public struct IPv4Header: Sendable, Hashable {
  /// Length of a header without options.
  public static let minimumLength = 20

  /// The header length in bytes (IHL × 4), options included.
  public var headerLength: Int
  /// Type of service / DSCP and ECN.
  public var typeOfService: UInt8
  /// Length of the datagram, header included, as the header says.
  public var totalLength: Int
  public var identification: UInt16
  /// The "don't fragment" flag.
  public var dontFragment: Bool
  /// The "more fragments" flag.
  public var moreFragments: Bool
  /// Offset of this fragment in 8-byte units (0 for an unfragmented datagram).
  public var fragmentOffset: UInt16
  public var timeToLive: UInt8
  /// The payload's protocol, e.g. ``IPProtocolNumber/icmp``.
  public var `protocol`: UInt8
  /// The header checksum as stored.
  public var headerChecksum: UInt16
  public var source: IPv4Address
  public var destination: IPv4Address
  /// Options bytes (between byte 20 and ``headerLength``).
  public var options: [UInt8]
  /// Whether ``headerChecksum`` matched the header bytes when parsed.
  public var isHeaderChecksumValid: Bool

  /// A header for a datagram of `totalLength` bytes with no options.
  /// ``serialized()`` computes the checksum.
  public init(
    totalLength: Int, protocol: UInt8, source: IPv4Address, destination: IPv4Address,
    timeToLive: UInt8 = 64, identification: UInt16 = 0, dontFragment: Bool = true,
    typeOfService: UInt8 = 0
  ) {
    headerLength = Self.minimumLength
    self.typeOfService = typeOfService
    self.totalLength = totalLength
    self.identification = identification
    self.dontFragment = dontFragment
    moreFragments = false
    fragmentOffset = 0
    self.timeToLive = timeToLive
    self.protocol = `protocol`
    headerChecksum = 0
    self.source = source
    self.destination = destination
    options = []
    isHeaderChecksumValid = true
  }

  /// Parses the header at the start of `bytes`. The version must be 4, the
  /// header length at least 20 bytes and present in full, and the total
  /// length at least the header length. The payload may be incomplete (an
  /// ICMP error quotes only the start of a datagram): use
  /// ``split(_:verifyChecksum:)`` for a whole datagram.
  public init(parsing bytes: [UInt8]) throws(PacketParseError) {
    guard bytes.count >= Self.minimumLength else {
      throw .truncated("IPv4 header", have: bytes.count, need: Self.minimumLength)
    }
    let version = bytes[0] >> 4
    guard version == 4 else {
      throw PacketParseError(.malformed, "IPv4 header has version \(version), not 4")
    }
    headerLength = Int(bytes[0] & 0x0F) * 4
    guard headerLength >= Self.minimumLength else {
      throw PacketParseError(
        .malformed,
        "IPv4 header length is \(headerLength) bytes, below the minimum of \(Self.minimumLength)")
    }
    guard bytes.count >= headerLength else {
      throw .truncated("IPv4 header with options", have: bytes.count, need: headerLength)
    }
    totalLength = Int(bytes.be16(at: 2))
    guard totalLength >= headerLength else {
      throw PacketParseError(
        .malformed,
        "IPv4 total length \(totalLength) is shorter than its header length \(headerLength)")
    }
    typeOfService = bytes[1]
    identification = bytes.be16(at: 4)
    let flagsAndOffset = bytes.be16(at: 6)
    dontFragment = flagsAndOffset & 0x4000 != 0
    moreFragments = flagsAndOffset & 0x2000 != 0
    fragmentOffset = flagsAndOffset & 0x1FFF
    timeToLive = bytes[8]
    self.protocol = bytes[9]
    headerChecksum = bytes.be16(at: 10)
    source = IPv4Address(bytes.be32(at: 12))
    destination = IPv4Address(bytes.be32(at: 16))
    options = Array(bytes[Self.minimumLength..<headerLength])
    isHeaderChecksumValid = InternetChecksum.isValid(bytes[0..<headerLength])
  }

  /// Parses a whole datagram, as a raw socket delivers it: the header, then
  /// the payload up to the total length (bytes after it, link-layer padding,
  /// are ignored). Fails when fewer bytes than the total length are present
  /// or, with `verifyChecksum`, when the header checksum is wrong.
  public static func split(
    _ datagram: [UInt8], verifyChecksum: Bool = true
  ) throws(PacketParseError) -> (header: IPv4Header, payload: [UInt8]) {
    let header = try IPv4Header(parsing: datagram)
    guard datagram.count >= header.totalLength else {
      throw .truncated("IPv4 datagram", have: datagram.count, need: header.totalLength)
    }
    guard !verifyChecksum || header.isHeaderChecksumValid else {
      throw PacketParseError(
        .badChecksum, "IPv4 header checksum 0x\(String(header.headerChecksum, radix: 16)) is wrong")
    }
    return (header, Array(datagram[header.headerLength..<header.totalLength]))
  }

  /// The header bytes with a freshly computed checksum. Options are padded
  /// with zeros to a multiple of 4 bytes.
  public func serialized() -> [UInt8] {
    var padded = options
    while padded.count % 4 != 0 { padded.append(0) }
    let length = Self.minimumLength + min(padded.count, 40)
    var bytes: [UInt8] = [0x40 | UInt8(length / 4), typeOfService]
    bytes.appendBE16(UInt16(clamping: totalLength))
    bytes.appendBE16(identification)
    bytes.appendBE16(
      (dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | (fragmentOffset & 0x1FFF))
    bytes += [timeToLive, `protocol`, 0, 0]
    bytes += source.bytes
    bytes += destination.bytes
    bytes += padded.prefix(40)
    bytes.setBE16(InternetChecksum.checksum(bytes), at: 10)
    return bytes
  }
}

/// The fixed IPv6 header (RFC 8200), as ICMPv6 errors quote it. Extension
/// headers are not parsed: ``nextHeader`` names the first one.
public struct IPv6Header: Sendable, Hashable {
  /// Length of the fixed header.
  public static let length = 40

  public var trafficClass: UInt8
  public var flowLabel: UInt32
  /// Length of what follows the fixed header, as the header says.
  public var payloadLength: Int
  /// The next header: an extension header or the payload's protocol.
  public var nextHeader: UInt8
  public var hopLimit: UInt8
  public var source: IPv6Address
  public var destination: IPv6Address

  /// Parses the fixed header at the start of `bytes` (version 6, 40 bytes).
  public init(parsing bytes: [UInt8]) throws(PacketParseError) {
    guard bytes.count >= Self.length else {
      throw .truncated("IPv6 header", have: bytes.count, need: Self.length)
    }
    let version = bytes[0] >> 4
    guard version == 6 else {
      throw PacketParseError(.malformed, "IPv6 header has version \(version), not 6")
    }
    let first = bytes.be32(at: 0)
    trafficClass = UInt8(truncatingIfNeeded: first >> 20)
    flowLabel = first & 0xF_FFFF
    payloadLength = Int(bytes.be16(at: 4))
    nextHeader = bytes[6]
    hopLimit = bytes[7]
    source = IPv6Address(high: bytes.be64(at: 8), low: bytes.be64(at: 16))
    destination = IPv6Address(high: bytes.be64(at: 24), low: bytes.be64(at: 32))
  }
}
