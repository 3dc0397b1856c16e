import Testing
import VigieCore

@Suite("TCP headers")
struct TCPHeaderTests {
  static let v4Source = IPAddress.v4(IPv4Address(192, 0, 2, 1))
  static let v4Destination = IPAddress.v4(IPv4Address(192, 0, 2, 2))
  static let v6Source = IPAddress.v6(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 1))
  static let v6Destination = IPAddress.v6(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 2))

  static func hex(_ text: String) -> [UInt8] {
    stride(from: 0, to: text.count, by: 2).map { offset in
      let start = text.index(text.startIndex, offsetBy: offset)
      return UInt8(text[start..<text.index(start, offsetBy: 2)], radix: 16)!
    }
  }

  /// The expected bytes are scapy's (`raw(IP(...)/TCP(sport=40000, dport=22,
  /// seq=0x01020304, flags='S', window=64240, options=[('MSS', 1460)]))[20:]`),
  /// checksum included; ``matchesScapy()`` checks more at run time.
  @Test func synIsByteExact() {
    let syn = TCPHeader.syn(sourcePort: 40000, destinationPort: 22, sequence: 0x0102_0304)
    #expect(
      syn.segment(source: Self.v4Source, destination: Self.v4Destination)
        == Self.hex("9c40001601020304000000006002faf078d50000020405b4"))
    let syn6 = TCPHeader.syn(sourcePort: 40000, destinationPort: 443, sequence: 0xA0B0_C0D0)
    #expect(
      syn6.segment(source: Self.v6Source, destination: Self.v6Destination)
        == Self.hex("9c4001bba0b0c0d0000000006002faf042440000020405b4"))
  }

  @Test func checksumRoundTrip() throws {
    let segment = TCPHeader.syn(sourcePort: 1, destinationPort: 2, sequence: 3).segment(
      source: Self.v6Source, destination: Self.v6Destination, payload: [1, 2, 3])
    #expect(TCPHeader.isChecksumValid(segment, source: Self.v6Source, destination: Self.v6Destination))
    var corrupted = segment
    corrupted[5] ^= 0x01
    #expect(!TCPHeader.isChecksumValid(corrupted, source: Self.v6Source, destination: Self.v6Destination))
    #expect(!TCPHeader.isChecksumValid(segment, source: Self.v4Source, destination: Self.v6Destination))
    let parsed = try TCPHeader(parsing: segment)
    #expect(parsed.sourcePort == 1 && parsed.destinationPort == 2 && parsed.sequence == 3)
    #expect(parsed.flags == .syn && parsed.flags.description == "SYN")
    #expect(parsed.options == [2, 4, 0x05, 0xB4])
  }

  @Test func rejectsGarbage() {
    func error(_ bytes: [UInt8]) -> String {
      do {
        _ = try TCPHeader(parsing: bytes)
        return "accepted"
      } catch {
        return error.message
      }
    }
    let syn = TCPHeader.syn(sourcePort: 1, destinationPort: 2, sequence: 3).serialized()
    #expect(error(Array(syn.prefix(19))) == "TCP header truncated: 19 bytes, at least 20 needed")
    #expect(error(Array(syn.prefix(22))) == "TCP header with options truncated: 22 bytes, at least 24 needed")
    var offset4 = syn
    offset4[12] = 0x40
    #expect(error(offset4) == "TCP data offset 4 is below 5")
  }

  /// A SYN-ACK as libpcap captures it on the "any" device (Linux cooked
  /// header, 16 bytes), then as Ethernet and SLL2.
  @Test func capturedFrames() throws {
    let synAck = TCPHeader(
      sourcePort: 22, destinationPort: 40000, sequence: 99, acknowledgement: 0x0102_0305, flags: [.syn, .ack]
    ).segment(source: Self.v4Destination, destination: Self.v4Source)
    let ip = IPv4Header(
      totalLength: 20 + synAck.count, protocol: IPProtocolNumber.tcp, source: IPv4Address(192, 0, 2, 2),
      destination: IPv4Address(192, 0, 2, 1), identification: 7
    ).serialized()
    let sll: [UInt8] = [0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00]
    let frame = sll + ip + synAck
    let (source, destination, segment) = try CapturedFrame.tcpSegment(frame, linkType: CapturedFrame.LinkType.linuxSLL)
    #expect(source == Self.v4Destination && destination == Self.v4Source)
    #expect(TCPHeader.isChecksumValid(segment, source: source, destination: destination))
    let header = try TCPHeader(parsing: segment)
    #expect(header.flags == [.syn, .ack] && header.flags.description == "SYN-ACK")
    #expect(header.acknowledgement == 0x0102_0305)
    let ethernet = [UInt8](repeating: 0, count: 12) + [0x08, 0x00] + ip + synAck
    #expect(try CapturedFrame.tcpSegment(ethernet, linkType: CapturedFrame.LinkType.ethernet).segment == synAck)
    #expect(
      throws: PacketParseError.self, "UDP is not TCP"
    ) {
      var udp = ip
      udp[9] = IPProtocolNumber.udp
      _ = try CapturedFrame.tcpSegment(sll + IPv4Header(parsing: udp).serialized() + synAck, linkType: 113)
    }
    #expect(throws: PacketParseError.self) { try CapturedFrame.tcpSegment(frame, linkType: 9999) }
    #expect(throws: PacketParseError.self) { try CapturedFrame.tcpSegment(sll, linkType: 113) }
  }

  @Test(.enabled(if: Scapy.isAvailable, "scapy is not installed (pip install scapy)"))
  func matchesScapy() throws {
    var generator = SeededGenerator(seed: 793)
    let cases = (0..<8).map { _ in
      (
        UInt16.random(in: 1024...65535, using: &generator), UInt16.random(in: 1...65535, using: &generator),
        UInt32.random(in: 0...UInt32.max, using: &generator)
      )
    }
    let calls = cases.map { "show(\($0.0), \($0.1), \($0.2))" }
    let script = """
      from scapy.all import IP, IPv6, TCP, raw
      def show(sport, dport, seq):
          tcp = TCP(sport=sport, dport=dport, seq=seq, flags='S', window=64240, options=[('MSS', 1460)])
          v4 = raw(IP(src='192.0.2.1', dst='192.0.2.2') / tcp)[20:]
          v6 = raw(IPv6(src='2001:db8::1', dst='2001:db8::2') / tcp)[40:]
          print(v4.hex(), v6.hex())

      """ + calls.joined(separator: "\n") + "\n"
    let lines = try Scapy.run(script).split(separator: "\n")
    try #require(lines.count == cases.count)
    for (item, line) in zip(cases, lines) {
      let fields = line.split(separator: " ").map(String.init)
      let syn = TCPHeader.syn(sourcePort: item.0, destinationPort: item.1, sequence: item.2)
      #expect(syn.segment(source: Self.v4Source, destination: Self.v4Destination) == Self.hex(fields[0]))
      #expect(syn.segment(source: Self.v6Source, destination: Self.v6Destination) == Self.hex(fields[1]))
    }
  }
}
