/// TCP headers (RFC 9293) for the half-open `tcp:PORT` probe: a SYN built
/// with its pseudo-header checksum (IPv4 or IPv6), and the answer (SYN-ACK or
/// RST) parsed from a captured frame.
public struct TCPHeader: Sendable, Hashable {
  /// The flag bits of byte 13.
  public struct Flags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = Flags(rawValue: 0x01)
    public static let syn = Flags(rawValue: 0x02)
    public static let rst = Flags(rawValue: 0x04)
    public static let psh = Flags(rawValue: 0x08)
    public static let ack = Flags(rawValue: 0x10)
    public static let urg = Flags(rawValue: 0x20)

    public var description: String {
      let names: [(Flags, String)] = [
        (.syn, "SYN"), (.ack, "ACK"), (.rst, "RST"), (.fin, "FIN"), (.psh, "PSH"), (.urg, "URG"),
      ]
      let set = names.filter { contains($0.0) }.map(\.1)
      return set.isEmpty ? "none" : set.joined(separator: "-")
    }
  }

  public static let minimumLength = 20

  public var sourcePort: UInt16
  public var destinationPort: UInt16
  public var sequence: UInt32
  public var acknowledgement: UInt32
  public var flags: Flags
  public var window: UInt16
  public var checksum: UInt16
  public var urgentPointer: UInt16
  /// Options, padded to a multiple of 4 bytes when serialized.
  public var options: [UInt8]

  public init(
    sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32, acknowledgement: UInt32 = 0, flags: Flags,
    window: UInt16 = 64240, checksum: UInt16 = 0, urgentPointer: UInt16 = 0, options: [UInt8] = []
  ) {
    self.sourcePort = sourcePort
    self.destinationPort = destinationPort
    self.sequence = sequence
    self.acknowledgement = acknowledgement
    self.flags = flags
    self.window = window
    self.checksum = checksum
    self.urgentPointer = urgentPointer
    self.options = options
  }

  /// A SYN as a client sends it, with one option: MSS 1460.
  public static func syn(sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32) -> TCPHeader {
    TCPHeader(
      sourcePort: sourcePort, destinationPort: destinationPort, sequence: sequence, flags: .syn,
      options: [2, 4, 0x05, 0xB4])
  }

  /// The header bytes with the checksum field as stored in ``checksum``.
  public func serialized() -> [UInt8] {
    var padded = options
    while padded.count % 4 != 0 { padded.append(0) }
    padded = Array(padded.prefix(40))
    var bytes: [UInt8] = []
    bytes.appendBE16(sourcePort)
    bytes.appendBE16(destinationPort)
    bytes.appendBE16(UInt16(truncatingIfNeeded: sequence >> 16))
    bytes.appendBE16(UInt16(truncatingIfNeeded: sequence))
    bytes.appendBE16(UInt16(truncatingIfNeeded: acknowledgement >> 16))
    bytes.appendBE16(UInt16(truncatingIfNeeded: acknowledgement))
    bytes.append(UInt8((Self.minimumLength + padded.count) / 4) << 4)
    bytes.append(flags.rawValue)
    bytes.appendBE16(window)
    bytes.appendBE16(checksum)
    bytes.appendBE16(urgentPointer)
    return bytes + padded
  }

  /// The segment (this header and `payload`) with its checksum computed over
  /// the pseudo-header of `source` and `destination`, which must be of the
  /// same family.
  public func segment(source: IPAddress, destination: IPAddress, payload: [UInt8] = []) -> [UInt8] {
    var header = self
    header.checksum = 0
    var bytes = header.serialized() + payload
    var sum: InternetChecksum
    switch (source, destination) {
    case (.v4(let s), .v4(let d)):
      sum = InternetChecksum.ipv4PseudoHeader(
        source: s, destination: d, protocol: IPProtocolNumber.tcp, length: UInt16(clamping: bytes.count))
    case (.v6(let s), .v6(let d)):
      sum = InternetChecksum.ipv6PseudoHeader(
        source: s, destination: d, upperLayerLength: UInt32(bytes.count), nextHeader: IPProtocolNumber.tcp)
    default:
      sum = InternetChecksum()
    }
    sum.add(bytes)
    bytes.setBE16(sum.value, at: 16)
    return bytes
  }

  /// Whether `segment` (header and payload) has a correct checksum for the
  /// pseudo-header of `source` and `destination`.
  public static func isChecksumValid(_ segment: [UInt8], source: IPAddress, destination: IPAddress) -> Bool {
    var sum: InternetChecksum
    switch (source, destination) {
    case (.v4(let s), .v4(let d)):
      sum = InternetChecksum.ipv4PseudoHeader(
        source: s, destination: d, protocol: IPProtocolNumber.tcp, length: UInt16(clamping: segment.count))
    case (.v6(let s), .v6(let d)):
      sum = InternetChecksum.ipv6PseudoHeader(
        source: s, destination: d, upperLayerLength: UInt32(segment.count), nextHeader: IPProtocolNumber.tcp)
    default:
      return false
    }
    sum.add(segment)
    return sum.sum16 == 0xFFFF
  }

  /// Parses a header (options kept, payload ignored).
  public init(parsing bytes: [UInt8]) throws(PacketParseError) {
    guard bytes.count >= Self.minimumLength else {
      throw .truncated("TCP header", have: bytes.count, need: Self.minimumLength)
    }
    let length = Int(bytes[12] >> 4) * 4
    guard length >= Self.minimumLength else {
      throw PacketParseError(.malformed, "TCP data offset \(length / 4) is below 5")
    }
    guard bytes.count >= length else { throw .truncated("TCP header with options", have: bytes.count, need: length) }
    sourcePort = bytes.be16(at: 0)
    destinationPort = bytes.be16(at: 2)
    sequence = bytes.be32(at: 4)
    acknowledgement = bytes.be32(at: 8)
    flags = Flags(rawValue: bytes[13] & 0x3F)
    window = bytes.be16(at: 14)
    checksum = bytes.be16(at: 16)
    urgentPointer = bytes.be16(at: 18)
    options = Array(bytes[Self.minimumLength..<length])
  }
}

/// Finds the IP packet in a frame captured by libpcap, by link type.
public enum CapturedFrame {
  /// libpcap's link types (DLT_ values) the probe reads.
  public enum LinkType {
    public static let ethernet: Int32 = 1
    public static let raw: Int32 = 101
    public static let linuxSLL: Int32 = 113
    public static let linuxSLL2: Int32 = 276
  }

  /// The source and destination addresses and the TCP segment of an IPv4
  /// or IPv6 frame of link type `linkType`; throws for anything else.
  public static func tcpSegment(_ frame: [UInt8], linkType: Int32) throws(PacketParseError) -> (
    source: IPAddress, destination: IPAddress, segment: [UInt8]
  ) {
    let offset: Int
    switch linkType {
    case LinkType.ethernet: offset = 14
    case LinkType.linuxSLL: offset = 16
    case LinkType.linuxSLL2: offset = 20
    case LinkType.raw: offset = 0
    default: throw PacketParseError(.malformed, "link type \(linkType) is not read")
    }
    guard frame.count > offset else { throw .truncated("captured frame", have: frame.count, need: offset + 1) }
    let packet = Array(frame[offset...])
    switch packet[0] >> 4 {
    case 4:
      let (header, payload) = try IPv4Header.split(packet)
      guard header.protocol == IPProtocolNumber.tcp else {
        throw PacketParseError(.malformed, "IPv4 protocol \(header.protocol) is not TCP")
      }
      guard header.fragmentOffset == 0 && !header.moreFragments else {
        throw PacketParseError(.malformed, "a fragment of a TCP segment")
      }
      return (.v4(header.source), .v4(header.destination), payload)
    case 6:
      let header = try IPv6Header(parsing: packet)
      guard header.nextHeader == IPProtocolNumber.tcp else {
        throw PacketParseError(.malformed, "IPv6 next header \(header.nextHeader) is not TCP")
      }
      let end = IPv6Header.length + header.payloadLength
      guard packet.count >= end else { throw .truncated("IPv6 packet", have: packet.count, need: end) }
      return (.v6(header.source), .v6(header.destination), Array(packet[IPv6Header.length..<end]))
    default:
      throw PacketParseError(.malformed, "IP version \(packet[0] >> 4) is neither 4 nor 6")
    }
  }
}
