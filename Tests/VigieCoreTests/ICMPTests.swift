import Foundation
import Testing
import VigieCore

/// `"0800 2104"` → bytes; spaces are ignored.
func hex(_ text: String) -> [UInt8] {
  let digits = Array(text.filter { !$0.isWhitespace })
  return stride(from: 0, to: digits.count, by: 2).map {
    UInt8(String(digits[$0...$0 + 1]), radix: 16)!
  }
}

@Suite("ICMP and IP packets")
struct ICMPTests {
  static let timestamp: UInt64 = 0x0102_0304_0506_0708
  static let vigieEcho = ICMPEcho(identifier: 0xBEEF, sequence: 7, timestamp: timestamp)

  /// Vigie's payload after the timestamp: "VIGIE " eight times.
  static let patternHex = String(repeating: "564947494520", count: 8)

  /// An echo request, id 0xbeef, seq 7, Vigie payload with timestamp
  /// 0x0102030405060708. Checksum by scapy: 135e.
  static let vigieRequestV4 = hex("0800 135e beef 0007 0102030405060708" + patternHex)
  /// The matching echo reply: the type drops by 8, so the checksum grows by 0x0800.
  static let vigieReplyV4 = hex("0000 1b5e beef 0007 0102030405060708" + patternHex)

  /// 10.200.1.1 -> 10.200.1.3, id 0x4242, DF, TTL 64, carrying `vigieRequestV4`.
  static let requestDatagram = hex(
    "4500 0054 4242 4000 4001 e0d3 0ac8 0101 0ac8 0103" + "0800 135e beef 0007 0102030405060708"
      + patternHex)

  /// 10.200.1.2 tells 10.200.1.1 that 10.200.1.3 is unreachable (3/1),
  /// quoting the header of `requestDatagram` and the first 8 ICMP bytes.
  static let unreachableDatagram = hex(
    "4500 0038 0001 0000 4001 6332 0ac8 0102 0ac8 0101" + "0301 22aa 0000 0000"
      + "4500 0054 4242 4000 4001 e0d3 0ac8 0101 0ac8 0103" + "0800 135e beef 0007")

  static let linkLocal1 = IPv6Address(high: 0xFE80_0000_0000_0000, low: 1)
  static let linkLocal2 = IPv6Address(high: 0xFE80_0000_0000_0000, low: 2)

  // MARK: Building

  @Test func echoRequestV4ByHand() {
    // 0x0800 + 0x1234 + 0x0001 + 0x6162 + 0x6364 = 0xdefb; ~0xdefb = 0x2104.
    let echo = ICMPEcho(identifier: 0x1234, sequence: 1, payload: Array("abcd".utf8))
    #expect(ICMPv4.echoRequest(echo) == hex("0800 2104 1234 0001 61626364"))
  }

  @Test func vigieEchoV4() {
    #expect(Self.vigieEcho.payload.count == 56)
    #expect(Self.vigieEcho.payload.count == ICMPEcho.payloadLength)
    #expect(ICMPv4.echoRequest(Self.vigieEcho) == Self.vigieRequestV4)
    #expect(ICMPv4.echoReply(Self.vigieEcho) == Self.vigieReplyV4)
    #expect(Self.vigieRequestV4.count == 64)
  }

  /// On sockets the kernel computes the ICMPv6 checksum: the field stays 0.
  @Test func echoRequestV6LeavesChecksumToKernel() {
    let echo = ICMPEcho(identifier: 1, sequence: 1, payload: Array("abcd".utf8))
    #expect(ICMPv6.echoRequest(echo) == hex("8000 0000 0001 0001 61626364"))
    #expect(ICMPv6.echoReply(echo) == hex("8100 0000 0001 0001 61626364"))
  }

  /// With addresses, the checksum covers the pseudo-header (values by scapy).
  @Test func echoRequestV6WithChecksum() {
    let echo = ICMPEcho(identifier: 1, sequence: 1, payload: Array("abcd".utf8))
    let addresses = ICMPv6.ChecksumAddresses(source: Self.linkLocal1, destination: Self.linkLocal2)
    #expect(
      ICMPv6.echoRequest(echo, checksumAddresses: addresses) == hex("8000 bdeb 0001 0001 61626364"))
    let loopback = ICMPv6.ChecksumAddresses(source: .loopback, destination: .loopback)
    #expect(
      ICMPv6.echoRequest(Self.vigieEcho, checksumAddresses: loopback)
        == hex("8000 9ae1 beef 0007 0102030405060708" + Self.patternHex))
  }

  // MARK: Parsing

  @Test func parsesEchoReplyV4() throws {
    guard case .echoReply(let echo) = try ICMPv4.parse(Self.vigieReplyV4) else {
      Issue.record("not an echo reply")
      return
    }
    #expect(echo == Self.vigieEcho)
    #expect(echo.timestamp == Self.timestamp)
    #expect(try ICMPv4.parse(Self.vigieRequestV4) == .echoRequest(Self.vigieEcho))
  }

  @Test func foreignPayloadHasNoTimestamp() throws {
    // ping(8)'s payload: 8 bytes of timeval, then 0x10, 0x11, ...
    let payload = [UInt8](repeating: 0, count: 8) + (0x10..<0x38).map { UInt8($0) }
    let echo = ICMPEcho(identifier: 1, sequence: 2, payload: payload)
    #expect(echo.timestamp == nil)
    #expect(
      ICMPEcho(identifier: 1, sequence: 2, payload: Array(Self.vigieEcho.payload.dropLast()))
        .timestamp == nil)
  }

  @Test func parsesDatagramFromRawSocket() throws {
    let (header, message) = try ICMPv4.parseDatagram(Self.requestDatagram)
    #expect(header.headerLength == 20)
    #expect(header.totalLength == 84)
    #expect(header.identification == 0x4242)
    #expect(header.dontFragment && !header.moreFragments && header.fragmentOffset == 0)
    #expect(header.timeToLive == 64)
    #expect(header.protocol == IPProtocolNumber.icmp)
    #expect(header.source == IPv4Address(10, 200, 1, 1))
    #expect(header.destination.description == "10.200.1.3")
    #expect(header.isHeaderChecksumValid)
    #expect(message == .echoRequest(Self.vigieEcho))
  }

  @Test func parsesDestinationUnreachable() throws {
    let (header, message) = try ICMPv4.parseDatagram(Self.unreachableDatagram)
    #expect(header.source == IPv4Address(10, 200, 1, 2))
    guard case .error(let report) = message else {
      Issue.record("not an error: \(message)")
      return
    }
    #expect(!report.isICMPv6)
    #expect(report.kind == .destinationUnreachable)
    #expect(report.type == 3 && report.code == 1)
    #expect(report.mtu == nil && report.pointer == nil)
    #expect(report.description == "destination unreachable (host unreachable)")
    #expect(!report.isPortUnreachable)
    #expect(report.original.source == .v4(IPv4Address(10, 200, 1, 1)))
    #expect(report.original.destination == .v4(IPv4Address(10, 200, 1, 3)))
    #expect(report.original.protocolNumber == IPProtocolNumber.icmp)
    #expect(report.original.ipv4Header?.totalLength == 84)
    #expect(report.original.echo == ICMPEchoID(identifier: 0xBEEF, sequence: 7))
  }

  /// Every code of destination unreachable (3) and time exceeded (11) gets
  /// its name; unknown codes are shown as numbers.
  @Test(arguments: [
    (UInt8(3), UInt8(0), "destination unreachable (network unreachable)"),
    (3, 1, "destination unreachable (host unreachable)"),
    (3, 2, "destination unreachable (protocol unreachable)"),
    (3, 3, "destination unreachable (port unreachable)"),
    (3, 4, "destination unreachable (fragmentation needed)"),
    (3, 5, "destination unreachable (source route failed)"),
    (3, 6, "destination unreachable (destination network unknown)"),
    (3, 7, "destination unreachable (destination host unknown)"),
    (3, 8, "destination unreachable (source host isolated)"),
    (3, 9, "destination unreachable (network administratively prohibited)"),
    (3, 10, "destination unreachable (host administratively prohibited)"),
    (3, 11, "destination unreachable (network unreachable for type of service)"),
    (3, 12, "destination unreachable (host unreachable for type of service)"),
    (3, 13, "destination unreachable (communication administratively prohibited)"),
    (3, 14, "destination unreachable (host precedence violation)"),
    (3, 15, "destination unreachable (precedence cutoff in effect)"),
    (3, 16, "destination unreachable (code 16)"),
    (11, 0, "time exceeded (TTL exceeded in transit)"),
    (11, 1, "time exceeded (fragment reassembly time exceeded)"),
    (12, 0, "parameter problem (pointer indicates the error)"),
  ])
  func errorCodesV4(type: UInt8, code: UInt8, expected: String) throws {
    let quoted = Array(Self.requestDatagram.prefix(28))
    let message = ICMPv4.message(type: type, code: code, body: quoted)
    guard case .error(let report) = try ICMPv4.parse(message) else {
      Issue.record("not an error")
      return
    }
    #expect(report.description == expected)
    #expect(ICMPErrorReport.describe(isICMPv6: false, type: type, code: code) == expected)
    #expect(report.original.echo == ICMPEchoID(identifier: 0xBEEF, sequence: 7))
    #expect(report.isPortUnreachable == (type == 3 && code == 3))
  }

  @Test func fragmentationNeededCarriesMTU() throws {
    let message = ICMPv4.message(
      type: 3, code: 4, rest: 1400, body: Array(Self.requestDatagram.prefix(28)))
    guard case .error(let report) = try ICMPv4.parse(message) else {
      Issue.record("not an error")
      return
    }
    #expect(report.mtu == 1400)
    #expect(
      report.description == "destination unreachable (fragmentation needed, next-hop MTU 1400)")
  }

  @Test func parameterProblemCarriesPointer() throws {
    let message = ICMPv4.message(
      type: 12, code: 0, rest: 0x0900_0000, body: Array(Self.requestDatagram.prefix(28)))
    guard case .error(let report) = try ICMPv4.parse(message) else {
      Issue.record("not an error")
      return
    }
    #expect(report.kind == .parameterProblem)
    #expect(report.pointer == 9)
  }

  /// An error about a TCP segment, or about a later fragment, names no echo.
  @Test func errorAboutOtherTrafficHasNoEcho() throws {
    var tcp = IPv4Header(
      totalLength: 60, protocol: IPProtocolNumber.tcp, source: IPv4Address(10, 200, 1, 1),
      destination: IPv4Address(10, 200, 1, 3)
    ).serialized()
    tcp += [0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1]
    guard case .error(let report) = try ICMPv4.parse(ICMPv4.message(type: 3, code: 3, body: tcp))
    else {
      Issue.record("not an error")
      return
    }
    #expect(report.original.echo == nil)
    #expect(report.original.payloadPrefix == [0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1])

    var fragment = IPv4Header(
      totalLength: 84, protocol: IPProtocolNumber.icmp, source: IPv4Address(10, 200, 1, 1),
      destination: IPv4Address(10, 200, 1, 3))
    fragment.fragmentOffset = 10
    let quoted = fragment.serialized() + Array(Self.vigieRequestV4.prefix(8))
    guard
      case .error(let second) = try ICMPv4.parse(ICMPv4.message(type: 11, code: 1, body: quoted))
    else {
      Issue.record("not an error")
      return
    }
    #expect(second.original.echo == nil)
  }

  @Test func otherTypesAreLeftAlone() throws {
    // A redirect (5) and a timestamp request (13).
    #expect(
      try ICMPv4.parse(ICMPv4.message(type: 5, code: 1, body: [])) == .other(type: 5, code: 1))
    #expect(
      try ICMPv4.parse(ICMPv4.message(type: 13, code: 0, body: [1, 2, 3]))
        == .other(type: 13, code: 0))
    #expect(ICMPErrorReport.describe(isICMPv6: false, type: 0, code: 0) == nil)
  }

  @Test func parsesICMPv6EchoAndErrors() throws {
    let addresses = ICMPv6.ChecksumAddresses(source: Self.linkLocal1, destination: Self.linkLocal2)
    let request = ICMPv6.echoRequest(Self.vigieEcho, checksumAddresses: addresses)
    #expect(try ICMPv6.parse(request, checksumAddresses: addresses) == .echoRequest(Self.vigieEcho))
    #expect(try ICMPv6.parse(ICMPv6.echoReply(Self.vigieEcho)) == .echoReply(Self.vigieEcho))

    // Wrong addresses: the checksum no longer matches.
    let swapped = ICMPv6.ChecksumAddresses(source: Self.linkLocal2, destination: .loopback)
    #expect(throws: PacketParseError.self) { try ICMPv6.parse(request, checksumAddresses: swapped) }

    // fe80::2 says fe80::1's echo request to 2001:db8::7 had no route (1/3).
    var quoted = hex("6000 0000 0040 3a40")
    quoted += Self.linkLocal1.bytes
    quoted += IPv6Address(high: 0x2001_0DB8_0000_0000, low: 7).bytes
    quoted += request
    let error = ICMPv6.message(type: 1, code: 3, body: quoted, checksumAddresses: addresses)
    guard case .error(let report) = try ICMPv6.parse(error, checksumAddresses: addresses) else {
      Issue.record("not an error")
      return
    }
    #expect(report.isICMPv6)
    #expect(report.description == "destination unreachable (address unreachable)")
    #expect(report.original.destination.description == "2001:db8::7")
    #expect(report.original.ipv6Header?.hopLimit == 64)
    #expect(report.original.ipv6Header?.payloadLength == 64)
    #expect(report.original.echo == ICMPEchoID(identifier: 0xBEEF, sequence: 7))

    let tooBig = ICMPv6.message(type: 2, code: 0, rest: 1280, body: quoted)
    guard case .error(let big) = try ICMPv6.parse(tooBig) else {
      Issue.record("not an error")
      return
    }
    #expect(big.kind == .packetTooBig)
    #expect(big.mtu == 1280)
    #expect(big.description == "packet too big (MTU 1280)")

    #expect(
      ICMPErrorReport.describe(isICMPv6: true, type: 3, code: 0)
        == "time exceeded (hop limit exceeded in transit)")
    #expect(
      ICMPErrorReport.describe(isICMPv6: true, type: 1, code: 4)
        == "destination unreachable (port unreachable)")
    #expect(try ICMPv6.parse(ICMPv6.message(type: 134, code: 0)) == .other(type: 134, code: 0))
  }

  // MARK: IPv4 header

  /// The classic example: 192.168.0.1 -> 192.168.0.199, UDP, checksum b861.
  static let exampleHeader = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7")

  @Test func ipv4HeaderExample() throws {
    let header = try IPv4Header(parsing: Self.exampleHeader)
    #expect(header.totalLength == 0x73)
    #expect(header.protocol == IPProtocolNumber.udp)
    #expect(header.headerChecksum == 0xB861)
    #expect(header.isHeaderChecksumValid)
    #expect(header.source.description == "192.168.0.1")
    #expect(header.destination.description == "192.168.0.199")
    #expect(header.serialized() == Self.exampleHeader)
    // Only the header is there: as a whole datagram it is truncated.
    #expect(throws: PacketParseError.self) { try IPv4Header.split(Self.exampleHeader) }
  }

  @Test func ipv4HeaderWithOptions() throws {
    var header = IPv4Header(
      totalLength: 28, protocol: IPProtocolNumber.icmp, source: IPv4Address(127, 0, 0, 1),
      destination: IPv4Address(127, 0, 0, 1))
    header.options = [0x01, 0x01, 0x01, 0x00]  // NOP NOP NOP EOL
    header.totalLength = 32
    let bytes =
      header.serialized() + ICMPv4.echoRequest(ICMPEcho(identifier: 1, sequence: 1, payload: []))
    #expect(bytes[0] == 0x46)
    let (parsed, message) = try ICMPv4.parseDatagram(bytes)
    #expect(parsed.headerLength == 24)
    #expect(parsed.options == [0x01, 0x01, 0x01, 0x00])
    #expect(message == .echoRequest(ICMPEcho(identifier: 1, sequence: 1, payload: [])))
  }

  /// Bytes after the total length (link-layer padding) are ignored.
  @Test func ipv4PaddingIgnored() throws {
    let (_, payload) = try IPv4Header.split(Self.requestDatagram + [0, 0, 0, 0])
    #expect(payload == Self.vigieRequestV4)
  }

  /// A damaged copy of `requestDatagram` and the error it must give.
  enum Damage: String, CaseIterable, Sendable {
    case version6, ihl4, ihl15Cut, totalLength19, totalLength200, headerChecksum, icmpChecksum,
      protocolTCP
    case fragment

    var expected: PacketParseError.Code {
      switch self {
      case .version6, .ihl4, .totalLength19, .protocolTCP, .fragment: .malformed
      case .ihl15Cut, .totalLength200: .truncated
      case .headerChecksum, .icmpChecksum: .badChecksum
      }
    }

    func apply(to bytes: inout [UInt8]) {
      switch self {
      case .version6: bytes[0] = 0x65
      case .ihl4: bytes[0] = 0x44
      case .ihl15Cut:
        bytes[0] = 0x4F
        bytes.removeSubrange(40...)
      case .totalLength19: bytes[3] = 19
      case .totalLength200: bytes[3] = 200
      case .headerChecksum: bytes[10] ^= 0xFF
      case .icmpChecksum: bytes[22] ^= 0x01
      case .protocolTCP:  // protocol 6, header checksum e0d3 - 5
        bytes[9] = 6
        bytes[11] = 0xCE
      case .fragment:  // DF and MF set, header checksum e0d3 - 0x2000
        bytes[6] = 0x60
        bytes[10] = 0xC0
      }
    }
  }

  @Test(arguments: Damage.allCases)
  func malformedDatagrams(damage: Damage) {
    var bytes = Self.requestDatagram
    damage.apply(to: &bytes)
    let error = #expect(throws: PacketParseError.self, "\(damage)") {
      try ICMPv4.parseDatagram(bytes)
    }
    #expect(error?.code == damage.expected, "\(damage): \(String(describing: error))")
  }

  // MARK: Round trips

  @Test func roundTrips() throws {
    var generator = SeededGenerator(seed: 792)
    for _ in 0..<1000 {
      let echo = ICMPEcho(
        identifier: .random(in: 0...UInt16.max, using: &generator),
        sequence: .random(in: 0...UInt16.max, using: &generator),
        timestamp: .random(in: 0...UInt64.max, using: &generator))
      #expect(try ICMPv4.parse(ICMPv4.echoRequest(echo)) == .echoRequest(echo))
      #expect(try ICMPv4.parse(ICMPv4.echoReply(echo)) == .echoReply(echo))
      let datagram =
        IPv4Header(
          totalLength: 84, protocol: IPProtocolNumber.icmp,
          source: IPv4Address(.random(in: 0...UInt32.max, using: &generator)),
          destination: IPv4Address(127, 0, 0, 1),
          timeToLive: .random(in: 1...255, using: &generator)
        ).serialized() + ICMPv4.echoReply(echo)
      #expect(try ICMPv4.parseDatagram(datagram).message == .echoReply(echo))
      #expect(try ICMPv4.parseDatagram(datagram).message.echoTimestamp == echo.timestamp)
      let addresses = ICMPv6.ChecksumAddresses(
        source: IPv6Address(high: generator.next(), low: generator.next()), destination: .loopback)
      #expect(
        try ICMPv6.parse(
          ICMPv6.echoReply(echo, checksumAddresses: addresses), checksumAddresses: addresses)
          == .echoReply(echo))
    }
  }

  // MARK: Hostile input

  /// Every proper prefix of a valid packet is refused with a parse error.
  @Test func everyTruncationFails() {
    let addresses = ICMPv6.ChecksumAddresses(source: Self.linkLocal1, destination: Self.linkLocal2)
    let v6 = ICMPv6.echoReply(Self.vigieEcho, checksumAddresses: addresses)
    var v6Error = hex("6000 0000 0040 3a40") + Self.linkLocal2.bytes + Self.linkLocal1.bytes
    v6Error += ICMPv6.echoRequest(Self.vigieEcho)
    v6Error = ICMPv6.message(type: 3, code: 0, body: v6Error, checksumAddresses: addresses)
    for length in 0..<Self.requestDatagram.count {
      let prefix = Array(Self.requestDatagram.prefix(length))
      #expect(throws: PacketParseError.self, "datagram cut at \(length)") {
        try ICMPv4.parseDatagram(prefix)
      }
    }
    for length in 0..<Self.unreachableDatagram.count {
      let prefix = Array(Self.unreachableDatagram.prefix(length))
      #expect(throws: PacketParseError.self, "error datagram cut at \(length)") {
        try ICMPv4.parseDatagram(prefix)
      }
    }
    for length in 0..<Self.vigieReplyV4.count {
      let prefix = Array(Self.vigieReplyV4.prefix(length))
      #expect(throws: PacketParseError.self, "ICMPv4 reply cut at \(length)") {
        try ICMPv4.parse(prefix)
      }
    }
    for length in 0..<v6.count {
      let prefix = Array(v6.prefix(length))
      #expect(throws: PacketParseError.self, "ICMPv6 reply cut at \(length)") {
        try ICMPv6.parse(prefix, checksumAddresses: addresses)
      }
    }
    for length in 0..<v6Error.count {
      let prefix = Array(v6Error.prefix(length))
      #expect(throws: PacketParseError.self, "ICMPv6 error cut at \(length)") {
        try ICMPv6.parse(prefix, checksumAddresses: addresses)
      }
    }
    // Without a checksum to tell, an error cut inside the quoted header and
    // the first 8 bytes after it is still refused.
    for length in 0..<(8 + 40 + 8) {
      #expect(throws: PacketParseError.self) { try ICMPv6.parse(Array(v6Error.prefix(length))) }
    }
    // And a cut echo is not taken for Vigie's: its timestamp is gone.
    for length in 8..<Self.vigieReplyV4.count {
      let message = try? ICMPv4.parse(
        Array(Self.vigieReplyV4.prefix(length)), verifyChecksum: false)
      #expect(message?.echoTimestamp == nil)
    }
  }

  /// Random bytes, and valid packets with random damage, never trap.
  @Test func randomGarbageNeverCrashes() {
    var generator = SeededGenerator(seed: 0xB16B_00B5)
    let seeds = [
      Self.requestDatagram, Self.unreachableDatagram, Self.vigieReplyV4, Self.exampleHeader,
    ]
    var parsed = 0
    for round in 0..<20_000 {
      var bytes: [UInt8]
      if round % 2 == 0 {
        let length = Int.random(in: 0...128, using: &generator)
        bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        if round % 4 == 0, !bytes.isEmpty { bytes[0] = 0x45 }  // look like IPv4 to go deeper
      } else {
        bytes = seeds[Int.random(in: 0..<seeds.count, using: &generator)]
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
          guard !bytes.isEmpty else { break }
          let index = Int.random(in: 0..<bytes.count, using: &generator)
          switch Int.random(in: 0..<3, using: &generator) {
          case 0: bytes[index] = .random(in: 0...255, using: &generator)
          case 1: bytes.removeSubrange(index...)
          default: bytes.insert(.random(in: 0...255, using: &generator), at: index)
          }
        }
      }
      if (try? ICMPv4.parseDatagram(bytes)) != nil { parsed += 1 }
      _ = try? ICMPv4.parse(bytes, verifyChecksum: false)
      _ = try? ICMPv4.parse(bytes)
      _ = try? ICMPv6.parse(bytes)
      _ = try? ICMPv6.parse(
        bytes, checksumAddresses: .init(source: .loopback, destination: .loopback))
      _ = try? IPv4Header(parsing: bytes)
      _ = try? IPv4Header.split(bytes, verifyChecksum: false)
      _ = try? IPv6Header(parsing: bytes)
      if case .error(let report)? = try? ICMPv4.parse(bytes, verifyChecksum: false) {
        _ = (report.description, report.original.echo, report.original.source)
      }
      if case .error(let report)? = try? ICMPv6.parse(bytes) {
        _ = (report.description, report.original.echo, report.original.destination)
      }
    }
    // Some damaged packets stay valid (a changed TTL breaks the header
    // checksum, but a cut after the total length does not).
    #expect(parsed < 20_000)
  }

  @Test func errorMessagesSayWhatAndWhere() {
    let error = #expect(throws: PacketParseError.self) {
      try IPv4Header(parsing: Array(Self.requestDatagram.prefix(12)))
    }
    #expect(error?.code == .truncated)
    #expect(
      error == PacketParseError(.truncated, "IPv4 header truncated: 12 bytes, at least 20 needed"))
    #expect(
      error?.description == "IPv4 header truncated: 12 bytes, at least 20 needed (packet dropped)")
  }

  // MARK: Addresses

  @Test(arguments: [
    ("::", IPv6Address(high: 0, low: 0)),
    ("::1", .loopback),
    ("fe80::1", IPv6Address(high: 0xFE80_0000_0000_0000, low: 1)),
    ("1::", IPv6Address(high: 0x0001_0000_0000_0000, low: 0)),
    ("2001:db8::1:0:0:1", IPv6Address(high: 0x2001_0DB8_0000_0000, low: 0x0001_0000_0000_0001)),
    ("2001:0:0:1::1", IPv6Address(high: 0x2001_0000_0000_0001, low: 1)),
    ("2001:db8:0:1:1:1:1:1", IPv6Address(high: 0x2001_0DB8_0000_0001, low: 0x0001_0001_0001_0001)),
    ("::ffff:192.0.2.1", IPv6Address(high: 0, low: 0xFFFF_C000_0201)),
  ])
  func ipv6Text(text: String, address: IPv6Address) {
    #expect(address.description == text)
    #expect(IPv6Address(bytes: address.bytes) == address)
  }

  @Test func ipv4Address() {
    let address = IPv4Address(192, 0, 2, 1)
    #expect(address.value == 0xC000_0201)
    #expect(address.description == "192.0.2.1")
    #expect(IPv4Address(bytes: [192, 0, 2, 1]) == address)
    #expect(IPv4Address(bytes: [192, 0, 2]) == nil)
    #expect(IPv6Address(bytes: [UInt8](repeating: 0, count: 15)) == nil)
    #expect(IPAddress.v4(address).description == "192.0.2.1")
  }

  // MARK: Cross-check with scapy

  @Test(.enabled(if: Scapy.isAvailable, "scapy is not installed (pip install scapy)"))
  func matchesScapy() throws {
    var generator = SeededGenerator(seed: 2024)
    let echoes = (0..<8).map { _ in
      ICMPEcho(
        identifier: .random(in: 0...UInt16.max, using: &generator),
        sequence: .random(in: 0...UInt16.max, using: &generator),
        timestamp: .random(in: 0...UInt64.max, using: &generator))
    }
    // One python3 run for all echoes (importing scapy takes a while).
    let calls = echoes.map { echo in
      let payload = echo.payload.map { String(format: "%02x", $0) }.joined()
      return "show(\(echo.identifier), \(echo.sequence), '\(payload)')"
    }
    let script = """
      from scapy.all import ICMP, IPv6, ICMPv6EchoRequest, raw
      def show(id, seq, payload):
          data = bytes.fromhex(payload)
          v4 = raw(ICMP(type=8, id=id, seq=seq) / data)
          ip6 = IPv6(src='fe80::1', dst='fe80::2')
          v6 = raw(ip6 / ICMPv6EchoRequest(id=id, seq=seq, data=data))[40:]
          print(v4.hex(), v6.hex())

      """ + calls.joined(separator: "\n") + "\n"
    let lines = try Scapy.run(script).split(separator: "\n")
    try #require(lines.count == echoes.count)
    let addresses = ICMPv6.ChecksumAddresses(source: Self.linkLocal1, destination: Self.linkLocal2)
    for (echo, line) in zip(echoes, lines) {
      let fields = line.split(separator: " ").map(String.init)
      try #require(fields.count == 2)
      #expect(ICMPv4.echoRequest(echo) == hex(fields[0]))
      #expect(ICMPv6.echoRequest(echo, checksumAddresses: addresses) == hex(fields[1]))
    }
  }
}

extension ICMPMessage {
  /// The Vigie timestamp of an echo, nil for anything else.
  fileprivate var echoTimestamp: UInt64? {
    switch self {
    case .echoReply(let echo), .echoRequest(let echo): echo.timestamp
    default: nil
    }
  }
}

/// Runs Python snippets that use scapy, when it is installed.
enum Scapy {
  static let isAvailable: Bool = (try? run("import scapy")) != nil

  /// Runs `script` with python3 and returns its standard output; throws
  /// when python3 is missing or the script fails.
  static func run(_ script: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw ScapyFailure(status: process.terminationStatus)
    }
    return String(decoding: data, as: UTF8.self)
  }

  struct ScapyFailure: Error {
    var status: Int32
  }
}
