/// The fields of an ICMP echo request or reply (ICMPv4 types 8 and 0,
/// ICMPv6 types 128 and 129).
public struct ICMPEcho: Sendable, Hashable {
  public var identifier: UInt16
  public var sequence: UInt16
  public var payload: [UInt8]

  /// An echo carrying `payload`.
  public init(identifier: UInt16, sequence: UInt16, payload: [UInt8]) {
    self.identifier = identifier
    self.sequence = sequence
    self.payload = payload
  }

  /// The echo Vigie sends: a ``payloadLength``-byte payload made by
  /// ``payload(timestamp:)``.
  public init(identifier: UInt16, sequence: UInt16, timestamp: UInt64) {
    self.init(
      identifier: identifier, sequence: sequence, payload: Self.payload(timestamp: timestamp))
  }

  /// Length of Vigie's echo payload: 56 bytes, as ping(8) sends by default,
  /// so 64 bytes of ICMP and 84 bytes of IPv4 datagram.
  public static let payloadLength = 56

  /// What follows the timestamp in Vigie's payload: `VIGIE ` eight times,
  /// easy to spot in a hex dump.
  public static let pattern: [UInt8] = Array(repeating: Array("VIGIE ".utf8), count: 8).flatMap {
    $0
  }

  /// Vigie's echo payload: `timestamp` (nanoseconds, from a clock of the
  /// sender's choice) as 8 big-endian bytes, then ``pattern``.
  public static func payload(timestamp: UInt64) -> [UInt8] {
    [56, 48, 40, 32, 24, 16, 8, 0].map { UInt8(truncatingIfNeeded: timestamp >> $0) } + pattern
  }

  /// The send timestamp when ``payload`` is a Vigie payload (right length and
  /// pattern), nil for anyone else's echo.
  public var timestamp: UInt64? {
    guard payload.count == Self.payloadLength, payload[8...].elementsEqual(Self.pattern) else {
      return nil
    }
    return payload.be64(at: 0)
  }
}

/// The identifier and sequence number of an echo request, as recovered from
/// the datagram an ICMP error quotes.
public struct ICMPEchoID: Sendable, Hashable {
  public var identifier: UInt16
  public var sequence: UInt16

  public init(identifier: UInt16, sequence: UInt16) {
    self.identifier = identifier
    self.sequence = sequence
  }
}

/// A parsed ICMPv4 or ICMPv6 message.
public enum ICMPMessage: Sendable, Hashable {
  case echoRequest(ICMPEcho)
  case echoReply(ICMPEcho)
  /// An error about a datagram someone sent (unreachable, time exceeded...).
  case error(ICMPErrorReport)
  /// A type this parser leaves alone (redirect, router advertisement, ...).
  case other(type: UInt8, code: UInt8)
}

/// The start of the datagram an ICMP error is about, as the error quotes it:
/// its IP header and at least the first 8 bytes after it.
public struct QuotedDatagram: Sendable, Hashable {
  /// The quoted IPv4 header (ICMPv4 errors); nil for ICMPv6.
  public var ipv4Header: IPv4Header?
  /// The quoted fixed IPv6 header (ICMPv6 errors); nil for ICMPv4.
  public var ipv6Header: IPv6Header?
  /// The quoted bytes after the (fixed) IP header, at least 8.
  public var payloadPrefix: [UInt8]

  /// Who sent the datagram (normally this host).
  public var source: IPAddress {
    if let ipv4Header { return .v4(ipv4Header.source) }
    return .v6(ipv6Header?.source ?? IPv6Address(high: 0, low: 0))
  }

  /// Where the datagram was going.
  public var destination: IPAddress {
    if let ipv4Header { return .v4(ipv4Header.destination) }
    return .v6(ipv6Header?.destination ?? IPv6Address(high: 0, low: 0))
  }

  /// The quoted datagram's protocol (IPv4) or first next header (IPv6).
  public var protocolNumber: UInt8 { ipv4Header?.protocol ?? ipv6Header?.nextHeader ?? 0 }

  /// The echo request the error is about: set when the quoted datagram is an
  /// ICMP (or ICMPv6) echo request, unfragmented or the first fragment.
  public var echo: ICMPEchoID? {
    guard payloadPrefix.count >= 8 else { return nil }
    let isEchoRequest: Bool
    if let ipv4Header {
      isEchoRequest =
        ipv4Header.protocol == IPProtocolNumber.icmp && ipv4Header.fragmentOffset == 0
        && payloadPrefix[0] == ICMPv4.MessageType.echoRequest
    } else {
      isEchoRequest =
        ipv6Header?.nextHeader == IPProtocolNumber.icmpv6
        && payloadPrefix[0] == ICMPv6.MessageType.echoRequest
    }
    guard isEchoRequest else { return nil }
    return ICMPEchoID(identifier: payloadPrefix.be16(at: 4), sequence: payloadPrefix.be16(at: 6))
  }
}

/// An ICMP error message (ICMPv4 types 3, 11, 12; ICMPv6 types 1 to 4).
public struct ICMPErrorReport: Sendable, Hashable, CustomStringConvertible {
  /// The kind of error, common to ICMPv4 and ICMPv6.
  public struct Kind: Sendable, Hashable, CustomStringConvertible {
    private enum Value: Sendable, Hashable {
      case destinationUnreachable, timeExceeded, parameterProblem, packetTooBig
    }
    private let value: Value
    private init(_ value: Value) { self.value = value }

    /// ICMPv4 type 3, ICMPv6 type 1.
    public static let destinationUnreachable = Kind(.destinationUnreachable)
    /// ICMPv4 type 11, ICMPv6 type 3.
    public static let timeExceeded = Kind(.timeExceeded)
    /// ICMPv4 type 12, ICMPv6 type 4.
    public static let parameterProblem = Kind(.parameterProblem)
    /// ICMPv6 type 2 (ICMPv4 uses destination unreachable code 4).
    public static let packetTooBig = Kind(.packetTooBig)

    public var description: String {
      switch value {
      case .destinationUnreachable: "destination unreachable"
      case .timeExceeded: "time exceeded"
      case .parameterProblem: "parameter problem"
      case .packetTooBig: "packet too big"
      }
    }
  }

  /// Whether this is an ICMPv6 error (else ICMPv4).
  public var isICMPv6: Bool
  public var kind: Kind
  public var type: UInt8
  public var code: UInt8
  /// The next-hop MTU of an ICMPv4 "fragmentation needed" or an ICMPv6
  /// "packet too big"; nil otherwise.
  public var mtu: UInt32?
  /// The offset of the faulty byte of a parameter problem; nil otherwise.
  public var pointer: UInt32?
  /// The start of the datagram the error is about.
  public var original: QuotedDatagram

  /// What the code means, e.g. `host unreachable`, `TTL exceeded in transit`.
  public var codeDescription: String {
    Self.codeDescription(isICMPv6: isICMPv6, type: type, code: code, mtu: mtu)
  }

  /// `destination unreachable (host unreachable)`.
  public var description: String { "\(kind) (\(codeDescription))" }

  /// Whether this says that no one listens on the port (ICMPv4 3/3, ICMPv6 1/4):
  /// the decisive "closed" of a UDP probe.
  public var isPortUnreachable: Bool {
    kind == .destinationUnreachable && code == (isICMPv6 ? 4 : 3)
  }

  /// The kind of error of an ICMP type, nil for types that are not errors.
  public static func kind(isICMPv6: Bool, type: UInt8) -> Kind? {
    switch (isICMPv6, type) {
    case (false, ICMPv4.MessageType.destinationUnreachable),
      (true, ICMPv6.MessageType.destinationUnreachable):
      .destinationUnreachable
    case (false, ICMPv4.MessageType.timeExceeded), (true, ICMPv6.MessageType.timeExceeded):
      .timeExceeded
    case (false, ICMPv4.MessageType.parameterProblem), (true, ICMPv6.MessageType.parameterProblem):
      .parameterProblem
    case (true, ICMPv6.MessageType.packetTooBig): .packetTooBig
    default: nil
    }
  }

  /// A description of an error from its type and code alone, e.g.
  /// `destination unreachable (port unreachable)`, for errors the kernel
  /// reports without the packet (`IP_RECVERR`); nil when `type` is not an
  /// error type.
  public static func describe(isICMPv6: Bool, type: UInt8, code: UInt8, mtu: UInt32? = nil)
    -> String?
  {
    guard let kind = kind(isICMPv6: isICMPv6, type: type) else { return nil }
    return "\(kind) (\(codeDescription(isICMPv6: isICMPv6, type: type, code: code, mtu: mtu)))"
  }

  private static func codeDescription(isICMPv6: Bool, type: UInt8, code: UInt8, mtu: UInt32?)
    -> String
  {
    let names: [String]
    switch (isICMPv6, type) {
    case (false, ICMPv4.MessageType.destinationUnreachable):
      if code == 4, let mtu, mtu != 0 { return "fragmentation needed, next-hop MTU \(mtu)" }
      names = [
        "network unreachable", "host unreachable", "protocol unreachable", "port unreachable",
        "fragmentation needed", "source route failed", "destination network unknown",
        "destination host unknown", "source host isolated", "network administratively prohibited",
        "host administratively prohibited", "network unreachable for type of service",
        "host unreachable for type of service", "communication administratively prohibited",
        "host precedence violation", "precedence cutoff in effect",
      ]
    case (false, ICMPv4.MessageType.timeExceeded):
      names = ["TTL exceeded in transit", "fragment reassembly time exceeded"]
    case (false, ICMPv4.MessageType.parameterProblem):
      names = ["pointer indicates the error", "missing a required option", "bad length"]
    case (true, ICMPv6.MessageType.destinationUnreachable):
      names = [
        "no route to destination", "communication administratively prohibited",
        "beyond scope of source address", "address unreachable", "port unreachable",
        "source address failed ingress/egress policy", "reject route to destination",
        "error in source routing header",
      ]
    case (true, ICMPv6.MessageType.packetTooBig):
      return mtu.map { "MTU \($0)" } ?? "code \(code)"
    case (true, ICMPv6.MessageType.timeExceeded):
      names = ["hop limit exceeded in transit", "fragment reassembly time exceeded"]
    case (true, ICMPv6.MessageType.parameterProblem):
      names = [
        "erroneous header field", "unrecognized next header type", "unrecognized IPv6 option",
      ]
    default:
      names = []
    }
    return Int(code) < names.count ? names[Int(code)] : "code \(code)"
  }
}

/// Length of the ICMP header common to every message: type, code, checksum
/// and 4 type-specific bytes.
private let icmpHeaderLength = 8

/// ICMP for IPv4 (RFC 792): builders and parsers.
public enum ICMPv4 {
  /// ICMPv4 message types.
  public enum MessageType {
    public static let echoReply: UInt8 = 0
    public static let destinationUnreachable: UInt8 = 3
    public static let echoRequest: UInt8 = 8
    public static let timeExceeded: UInt8 = 11
    public static let parameterProblem: UInt8 = 12
  }

  /// A message of `type` and `code` whose 4 type-specific header bytes are
  /// `rest` (big-endian) followed by `body`, with its checksum.
  public static func message(type: UInt8, code: UInt8, rest: UInt32 = 0, body: [UInt8] = [])
    -> [UInt8]
  {
    var bytes = header(type: type, code: code, rest: rest) + body
    bytes.setBE16(InternetChecksum.checksum(bytes), at: 2)
    return bytes
  }

  /// An echo request (type 8), checksum included. On an unprivileged ping
  /// socket the kernel replaces the identifier and recomputes the checksum.
  public static func echoRequest(_ echo: ICMPEcho) -> [UInt8] {
    message(type: MessageType.echoRequest, code: 0, rest: rest(echo), body: echo.payload)
  }

  /// An echo reply (type 0), checksum included.
  public static func echoReply(_ echo: ICMPEcho) -> [UInt8] {
    message(type: MessageType.echoReply, code: 0, rest: rest(echo), body: echo.payload)
  }

  /// Parses an ICMPv4 message (what an ICMP ping socket delivers, or the
  /// payload of an IPv4 datagram of protocol 1). With `verifyChecksum`, a
  /// wrong checksum is an error. ICMP has no length field: a cut payload is
  /// caught by the checksum, and by ``ICMPEcho/timestamp`` for Vigie's echoes.
  public static func parse(_ message: [UInt8], verifyChecksum: Bool = true) throws(PacketParseError)
    -> ICMPMessage
  {
    guard message.count >= icmpHeaderLength else {
      throw .truncated("ICMPv4 message", have: message.count, need: icmpHeaderLength)
    }
    if verifyChecksum, !InternetChecksum.isValid(message) {
      throw PacketParseError(
        .badChecksum, "ICMPv4 message checksum 0x\(String(message.be16(at: 2), radix: 16)) is wrong"
      )
    }
    let type = message[0]
    let code = message[1]
    switch type {
    case MessageType.echoReply: return .echoReply(echo(message))
    case MessageType.echoRequest: return .echoRequest(echo(message))
    case MessageType.destinationUnreachable, MessageType.timeExceeded, MessageType.parameterProblem:
      let body = Array(message[icmpHeaderLength...])
      let quoted: IPv4Header
      do {
        quoted = try IPv4Header(parsing: body)
      } catch {
        throw PacketParseError(error.code, "ICMPv4 error quotes a bad datagram: \(error.message)")
      }
      let needed = quoted.headerLength + 8
      guard body.count >= needed else {
        throw .truncated("datagram quoted by an ICMPv4 error", have: body.count, need: needed)
      }
      let nextHopMTU = UInt32(message.be16(at: 6))
      return .error(
        ICMPErrorReport(
          isICMPv6: false,
          kind: ICMPErrorReport.kind(isICMPv6: false, type: type) ?? .destinationUnreachable,
          type: type, code: code,
          mtu: type == MessageType.destinationUnreachable && code == 4 ? nextHopMTU : nil,
          pointer: type == MessageType.parameterProblem ? UInt32(message[4]) : nil,
          original: QuotedDatagram(
            ipv4Header: quoted, ipv6Header: nil,
            payloadPrefix: Array(body[quoted.headerLength..<needed]))))
    default:
      return .other(type: type, code: code)
    }
  }

  /// Parses an IPv4 datagram carrying ICMP, as a raw `IPPROTO_ICMP` socket
  /// delivers it (IPv4 header first). The datagram must be whole, not a
  /// fragment, of protocol 1, with correct checksums.
  public static func parseDatagram(_ datagram: [UInt8]) throws(PacketParseError) -> (
    header: IPv4Header, message: ICMPMessage
  ) {
    let (header, payload) = try IPv4Header.split(datagram)
    guard header.protocol == IPProtocolNumber.icmp else {
      throw PacketParseError(
        .malformed, "IPv4 datagram carries protocol \(header.protocol), not ICMP (1)")
    }
    guard header.fragmentOffset == 0, !header.moreFragments else {
      throw PacketParseError(.malformed, "IPv4 datagram is a fragment, not a whole ICMP message")
    }
    return (header, try parse(payload))
  }
}

/// ICMP for IPv6 (RFC 4443): builders and parsers.
///
/// The ICMPv6 checksum covers a pseudo-header with both addresses. On
/// `SOCK_RAW` and `SOCK_DGRAM` `IPPROTO_ICMPV6` sockets the kernel computes it
/// on send (RFC 3542 section 3.1) and verifies it on receive, so messages
/// for sockets are built with a zero checksum; give the addresses to build
/// a message for a packet socket or to check one captured from the wire.
public enum ICMPv6 {
  /// ICMPv6 message types.
  public enum MessageType {
    public static let destinationUnreachable: UInt8 = 1
    public static let packetTooBig: UInt8 = 2
    public static let timeExceeded: UInt8 = 3
    public static let parameterProblem: UInt8 = 4
    public static let echoRequest: UInt8 = 128
    public static let echoReply: UInt8 = 129
  }

  /// The source and destination that an ICMPv6 checksum covers.
  public struct ChecksumAddresses: Sendable, Hashable {
    public var source: IPv6Address
    public var destination: IPv6Address

    public init(source: IPv6Address, destination: IPv6Address) {
      self.source = source
      self.destination = destination
    }

    /// The pseudo-header sum for an ICMPv6 message of `length` bytes.
    func pseudoHeader(length: Int) -> InternetChecksum {
      InternetChecksum.ipv6PseudoHeader(
        source: source, destination: destination, upperLayerLength: UInt32(clamping: length),
        nextHeader: IPProtocolNumber.icmpv6)
    }
  }

  /// A message of `type` and `code` whose 4 type-specific header bytes are
  /// `rest` followed by `body`. The checksum is left 0 (the kernel fills it
  /// in on ICMPv6 sockets) unless `checksumAddresses` are given.
  public static func message(
    type: UInt8, code: UInt8, rest: UInt32 = 0, body: [UInt8] = [],
    checksumAddresses: ChecksumAddresses? = nil
  ) -> [UInt8] {
    var bytes = header(type: type, code: code, rest: rest) + body
    if let checksumAddresses {
      var checksum = checksumAddresses.pseudoHeader(length: bytes.count)
      checksum.add(bytes)
      bytes.setBE16(checksum.value, at: 2)
    }
    return bytes
  }

  /// An echo request (type 128); see ``message(type:code:rest:body:checksumAddresses:)``
  /// for the checksum.
  public static func echoRequest(_ echo: ICMPEcho, checksumAddresses: ChecksumAddresses? = nil)
    -> [UInt8]
  {
    message(
      type: MessageType.echoRequest, code: 0, rest: rest(echo), body: echo.payload,
      checksumAddresses: checksumAddresses)
  }

  /// An echo reply (type 129); see ``message(type:code:rest:body:checksumAddresses:)``
  /// for the checksum.
  public static func echoReply(_ echo: ICMPEcho, checksumAddresses: ChecksumAddresses? = nil)
    -> [UInt8]
  {
    message(
      type: MessageType.echoReply, code: 0, rest: rest(echo), body: echo.payload,
      checksumAddresses: checksumAddresses)
  }

  /// Parses an ICMPv6 message (sockets deliver it without the IPv6 header).
  /// With `checksumAddresses`, the checksum is verified; without, it is
  /// trusted (the kernel verified it for a socket).
  public static func parse(
    _ message: [UInt8], checksumAddresses: ChecksumAddresses? = nil
  ) throws(PacketParseError) -> ICMPMessage {
    guard message.count >= icmpHeaderLength else {
      throw .truncated("ICMPv6 message", have: message.count, need: icmpHeaderLength)
    }
    if let checksumAddresses {
      var checksum = checksumAddresses.pseudoHeader(length: message.count)
      checksum.add(message)
      guard checksum.sum16 == 0xFFFF else {
        throw PacketParseError(
          .badChecksum,
          "ICMPv6 message checksum 0x\(String(message.be16(at: 2), radix: 16)) is wrong")
      }
    }
    let type = message[0]
    let code = message[1]
    switch type {
    case MessageType.echoReply: return .echoReply(echo(message))
    case MessageType.echoRequest: return .echoRequest(echo(message))
    case MessageType.destinationUnreachable, MessageType.packetTooBig, MessageType.timeExceeded,
      MessageType.parameterProblem:
      let body = Array(message[icmpHeaderLength...])
      let quoted: IPv6Header
      do {
        quoted = try IPv6Header(parsing: body)
      } catch {
        throw PacketParseError(error.code, "ICMPv6 error quotes a bad datagram: \(error.message)")
      }
      let needed = IPv6Header.length + 8
      guard body.count >= needed else {
        throw .truncated("datagram quoted by an ICMPv6 error", have: body.count, need: needed)
      }
      let field = message.be32(at: 4)
      return .error(
        ICMPErrorReport(
          isICMPv6: true,
          kind: ICMPErrorReport.kind(isICMPv6: true, type: type) ?? .destinationUnreachable,
          type: type, code: code,
          mtu: type == MessageType.packetTooBig ? field : nil,
          pointer: type == MessageType.parameterProblem ? field : nil,
          original: QuotedDatagram(
            ipv4Header: nil, ipv6Header: quoted,
            payloadPrefix: Array(body[IPv6Header.length..<needed]))))
    default:
      return .other(type: type, code: code)
    }
  }
}

/// Type, code, a zero checksum and the 4 type-specific bytes.
private func header(type: UInt8, code: UInt8, rest: UInt32) -> [UInt8] {
  var bytes: [UInt8] = [type, code, 0, 0]
  bytes.appendBE16(UInt16(truncatingIfNeeded: rest >> 16))
  bytes.appendBE16(UInt16(truncatingIfNeeded: rest))
  return bytes
}

/// The identifier and sequence of an echo as the 4 type-specific bytes.
private func rest(_ echo: ICMPEcho) -> UInt32 {
  UInt32(echo.identifier) << 16 | UInt32(echo.sequence)
}

/// The echo fields of a message of at least 8 bytes.
private func echo(_ message: [UInt8]) -> ICMPEcho {
  ICMPEcho(
    identifier: message.be16(at: 4), sequence: message.be16(at: 6), payload: Array(message[8...]))
}
