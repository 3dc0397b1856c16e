import Testing
import VigieCore

@Suite("DNS messages")
struct DNSTests {
  @Test func queryIsByteExact() throws {
    let query = try DNS.query(id: 0x1234, name: "www.example.org", type: DNS.RecordType.a)
    #expect(
      query == [
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        3, 0x77, 0x77, 0x77, 7, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 3, 0x6F, 0x72, 0x67, 0,
        0x00, 0x01, 0x00, 0x01,
      ])
    // The root, with or without its dot; a trailing dot is allowed.
    #expect(try DNS.encodeName(".") == [0])
    #expect(try DNS.encodeName("") == [0])
    #expect(try DNS.encodeName("org.") == [3, 0x6F, 0x72, 0x67, 0])
    #expect(try DNS.query(id: 1, name: ".", type: DNS.RecordType.ns).suffix(5) == [0, 0, 2, 0, 1])
  }

  @Test(arguments: [
    ("a..b", "has an empty label"),
    (String(repeating: "x", count: 64) + ".org", "a label of 64 bytes (at most 63)"),
    (Array(repeating: String(repeating: "x", count: 60), count: 5).joined(separator: "."), "at most 255"),
  ])
  func badNames(name: String, message: String) {
    #expect {
      try DNS.encodeName(name)
    } throws: { error in
      (error as? PacketParseError)?.message.contains(message) == true
    }
  }

  /// An answer as a resolver sends it: the question's name compressed in
  /// the answers, a CNAME then two A records.
  static let answer: [UInt8] = [
    0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,
    // question at 12: www.example.org A IN
    3, 0x77, 0x77, 0x77, 7, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 3, 0x6F, 0x72, 0x67, 0, 0x00, 0x01, 0x00, 0x01,
    // answer 1 at 33: www.example.org (pointer to 12) CNAME, TTL 300, "web" + pointer to example.org (16)
    0xC0, 0x0C, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 0x06, 3, 0x77, 0x65, 0x62, 0xC0, 0x10,
    // answer 2 at 51: web.example.org (pointer to 45) A 192.0.2.10, TTL 60
    0xC0, 0x2D, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 192, 0, 2, 10,
    // answer 3: A 192.0.2.11
    0xC0, 0x2D, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 192, 0, 2, 11,
    // additional: an OPT record (root name, type 41), counted only
    0x00, 0x00, 0x29, 0x04, 0xD0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  ]

  @Test func parsesCompressedAnswer() throws {
    let response = try DNS.parseResponse(Self.answer)
    #expect(response.id == 0x1234)
    #expect(response.responseCode == .noError)
    #expect(response.recursionAvailable && !response.authoritative && !response.truncated)
    #expect(response.questionName == "www.example.org")
    #expect(response.questionType == DNS.RecordType.a)
    #expect(response.answers.map(\.name) == ["www.example.org", "web.example.org", "web.example.org"])
    #expect(response.answers.map(\.type) == [5, 1, 1])
    #expect(response.answers.map(\.ttl) == [300, 60, 60])
    #expect(response.addresses.map(\.description) == ["192.0.2.10", "192.0.2.11"])
    #expect(response.otherRecordCount == 1)
  }

  @Test func responseCodes() throws {
    var nxdomain = Array(Self.answer.prefix(33))
    nxdomain[3] = 0x83
    nxdomain[7] = 0  // no answers
    nxdomain[11] = 0
    let response = try DNS.parseResponse(nxdomain)
    #expect(response.responseCode == .nameError)
    #expect(response.responseCode.description == "NXDOMAIN")
    #expect(response.answers.isEmpty)
    #expect(DNS.ResponseCode(2).description == "SERVFAIL")
    #expect(DNS.ResponseCode(5).description == "REFUSED")
    #expect(DNS.ResponseCode(9).description == "RCODE9")
  }

  /// Hostile input: each gives a precise error, none traps.
  @Test func rejectsGarbage() {
    func error(_ bytes: [UInt8]) -> String {
      do {
        _ = try DNS.parseResponse(bytes)
        return "accepted"
      } catch {
        return error.message
      }
    }
    #expect(error([0x12, 0x34, 0x81]) == "DNS header truncated: 3 bytes, at least 12 needed")
    var query = Self.answer
    query[2] = 0x01
    #expect(error(query) == "DNS message is a query, not a response")
    var opcode = Self.answer
    opcode[2] = 0x81 | 0x10
    #expect(error(opcode) == "DNS response has opcode 2, not 0 (query)")
    var twoQuestions = Self.answer
    twoQuestions[5] = 2
    #expect(error(twoQuestions) == "DNS response has 2 questions, 1 expected")
    // The answer count says 3, only 2 are there.
    #expect(error(Array(Self.answer.prefix(67))).hasPrefix("DNS answer 3 of 3: "))
    // A pointer to itself, and a forward pointer.
    var loop = Self.answer
    loop[33] = 0xC0
    loop[34] = 33
    #expect(error(loop) == "DNS answer 1 of 3: DNS name pointer at 33 points forward to 33")
    // A label then a pointer back to it: the name grows until it is too long.
    var labelLoop = Array(Self.answer.prefix(33))
    labelLoop[7] = 1
    labelLoop[11] = 0
    labelLoop += [3, 0x61, 0x62, 0x63, 0xC0, 33]
    #expect(error(labelLoop) == "DNS answer 1 of 1: DNS name longer than 255 bytes")
    // An A record of 5 bytes.
    var longA = Self.answer
    longA[62] = 5
    #expect(error(longA).contains("A record of 5 bytes, 4 expected"))
    // The 0x40 label type (EDNS extended labels) is refused.
    var extended = Self.answer
    extended[12] = 0x41
    #expect(error(extended) == "DNS label type 0x40 at 12 is not supported")
  }

  /// A truncated (TC) answer keeps the records that came.
  @Test func truncatedAnswerKeepsWhatCame() throws {
    var partial = Array(Self.answer.prefix(67))
    partial[2] |= 0x02
    let response = try DNS.parseResponse(partial)
    #expect(response.truncated)
    #expect(response.answers.count == 2)
  }
}

@Suite("NTP packets")
struct NTPTests {
  @Test func clientRequestIsByteExact() {
    let request = NTP.clientRequest(transmit: NTP.Timestamp(0xE9A1_B2C3_1122_3344))
    var expected = [UInt8](repeating: 0, count: 48)
    expected[0] = 0x23  // LI 0, version 4, mode 3
    expected[40...47] = [0xE9, 0xA1, 0xB2, 0xC3, 0x11, 0x22, 0x33, 0x44]
    #expect(request == expected)
  }

  @Test func timestampConversions() {
    // 2026-01-01T00:00:00Z is 1767225600 in Unix time.
    let stamp = NTP.Timestamp(unixSeconds: 1_767_225_600, nanoseconds: 500_000_000)
    #expect(stamp.seconds == 1_767_225_600 + 2_208_988_800)
    #expect(stamp.fraction == 0x8000_0000)
    #expect(stamp.unixSeconds == 1_767_225_600.5)
  }

  /// A reply as chrony sends it (stratum 2, reference 192.0.2.1).
  static func reply(origin: UInt64 = 0xE9A1_B2C3_1122_3344) -> [UInt8] {
    var bytes: [UInt8] = [0x24, 2, 6, 0xE9]  // LI 0, version 4, mode 4; stratum 2; poll 6; precision -23
    bytes += [0x00, 0x00, 0x80, 0x00]  // root delay 0.5 s
    bytes += [0x00, 0x01, 0x40, 0x00]  // root dispersion 1.25 s
    bytes += [192, 0, 2, 1]
    for value: UInt64 in [0xE9A1_B2C0_0000_0000, origin, 0xE9A1_B2C3_2000_0000, 0xE9A1_B2C3_2100_0000] {
      for index in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (56 - 8 * index))) }
    }
    return bytes
  }

  @Test func parsesReply() throws {
    let reply = try NTP.parseReply(Self.reply())
    #expect(reply.leapIndicator == 0 && reply.version == 4 && reply.mode == 4)
    #expect(reply.stratum == 2 && reply.poll == 6 && reply.precision == -23)
    #expect(reply.rootDelay == 0.5 && reply.rootDispersion == 1.25)
    #expect(reply.summary == "stratum 2, reference 192.0.2.1")
    #expect(reply.origin == NTP.Timestamp(0xE9A1_B2C3_1122_3344))
    #expect(reply.transmit.value == 0xE9A1_B2C3_2100_0000)
    #expect(reply.problem(request: NTP.Timestamp(0xE9A1_B2C3_1122_3344)) == nil)
    #expect(reply.kissCode == nil)
  }

  @Test func judgesReplies() throws {
    let request = NTP.Timestamp(0xE9A1_B2C3_1122_3344)
    let stale = try NTP.parseReply(Self.reply(origin: 1))
    #expect(stale.problem(request: request)?.contains("a stale or forged reply") == true)
    var kiss = Self.reply()
    kiss[1] = 0
    kiss[12...15] = [0x52, 0x41, 0x54, 0x45]
    #expect(try NTP.parseReply(kiss).problem(request: request) == "kiss-o'-death RATE")
    var unsynchronised = Self.reply()
    unsynchronised[0] = 0xE4  // LI 3
    #expect(
      try NTP.parseReply(unsynchronised).problem(request: request)
        == "the server's clock is not synchronised (stratum 2, leap indicator 3)")
    // chrony while unsynchronised: stratum 0, reference id zero, LI 3: no kiss code.
    var chronyUnsynchronised = Self.reply()
    chronyUnsynchronised[0] = 0xE4
    chronyUnsynchronised[1] = 0
    chronyUnsynchronised[12...15] = [0, 0, 0, 0]
    let unsynchronisedReply = try NTP.parseReply(chronyUnsynchronised)
    #expect(unsynchronisedReply.kissCode == nil)
    #expect(
      unsynchronisedReply.problem(request: request)
        == "the server's clock is not synchronised (stratum 0, leap indicator 3)")
    var stratum16 = Self.reply()
    stratum16[1] = 16
    #expect(try NTP.parseReply(stratum16).problem(request: request)?.contains("stratum 16") == true)
    var stratum1 = Self.reply()
    stratum1[1] = 1
    stratum1[12...15] = [0x47, 0x50, 0x53, 0]
    #expect(try NTP.parseReply(stratum1).summary == "stratum 1, reference GPS")
  }

  @Test func rejectsGarbage() {
    func error(_ bytes: [UInt8]) -> String {
      do {
        _ = try NTP.parseReply(bytes)
        return "accepted"
      } catch {
        return error.message
      }
    }
    #expect(error(Array(Self.reply().prefix(47))) == "NTP packet truncated: 47 bytes, at least 48 needed")
    var clientMode = Self.reply()
    clientMode[0] = 0x23
    #expect(error(clientMode) == "NTP mode 3 is not 4 (server)")
    var version7 = Self.reply()
    version7[0] = 0x3C
    #expect(error(version7) == "NTP version 7 is not 1 to 4")
    // Extension fields after byte 48 are ignored.
    #expect(error(Self.reply() + [1, 2, 3, 4]) == "accepted")
  }
}

@Suite("OpenVPN control packets")
struct OpenVPNPacketTests {
  @Test func hardResetIsByteExact() {
    let udp = OpenVPN.hardResetClient(sessionID: 0x0102_0304_0506_0708, tcp: false)
    #expect(udp == [0x38, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0])
    let tcp = OpenVPN.hardResetClient(sessionID: 0x0102_0304_0506_0708, tcp: true)
    #expect(tcp == [0x00, 0x0E] + udp)
  }

  /// A server's answer: its session id, an ack of our packet 0 for our
  /// session, its packet id 0, and OpenVPN 2.6's early-negotiation TLV.
  static let serverReset: [UInt8] =
    [0x40, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0x01, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0]
    + [0x00, 0x01, 0x00, 0x02, 0x00, 0x01]

  @Test func parsesServerReset() throws {
    let packet = try OpenVPN.parseControl(Self.serverReset)
    #expect(packet.opcode == OpenVPN.Opcode.hardResetServerV2)
    #expect(packet.opcodeName == "P_CONTROL_HARD_RESET_SERVER_V2")
    #expect(packet.keyID == 0)
    #expect(packet.sessionID == 0xA1A2_A3A4_A5A6_A7A8)
    #expect(packet.acks == [0])
    #expect(packet.ackedSessionID == 0x0102_0304_0506_0708)
    #expect(packet.packetID == 0)
    #expect(packet.payload == [0x00, 0x01, 0x00, 0x02, 0x00, 0x01])
    #expect(packet.answersReset(of: 0x0102_0304_0506_0708))
    #expect(!packet.answersReset(of: 0x0102_0304_0506_0709))
  }

  @Test func parsesOurOwnResetAndAcks() throws {
    let reset = try OpenVPN.parseControl(OpenVPN.hardResetClient(sessionID: 42, tcp: false))
    #expect(reset.opcodeName == "P_CONTROL_HARD_RESET_CLIENT_V2")
    #expect(reset.sessionID == 42 && reset.acks.isEmpty && reset.ackedSessionID == nil && reset.packetID == 0)
    #expect(!reset.answersReset(of: 42))
    // P_ACK_V1 has no message packet id.
    let ack = try OpenVPN.parseControl([0x28, 0, 0, 0, 0, 0, 0, 0, 9, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 42])
    #expect(ack.acks == [7] && ack.ackedSessionID == 42 && ack.packetID == nil && ack.payload.isEmpty)
  }

  @Test func splitsTCPStream() throws {
    let stream = [0x00, 0x20] + Self.serverReset + [0x00, 0x0E, 0x38]
    let (packets, consumed) = try OpenVPN.splitTCPStream(stream)
    #expect(packets == [Self.serverReset])
    #expect(consumed == 34)
    #expect(throws: PacketParseError.self) { try OpenVPN.splitTCPStream([0, 0, 1]) }
  }

  @Test func rejectsGarbage() {
    func error(_ bytes: [UInt8]) -> String {
      do {
        _ = try OpenVPN.parseControl(bytes)
        return "accepted"
      } catch {
        return error.message
      }
    }
    #expect(error([0x40, 1, 2]) == "OpenVPN packet truncated: 3 bytes, at least 10 needed")
    #expect(error([0x48] + Array(Self.serverReset.dropFirst())) == "OpenVPN P_DATA_V2 is not a control packet")
    #expect(error([0xF8] + Array(Self.serverReset.dropFirst())) == "OpenVPN opcode 31 is not a control packet")
    var manyAcks = Self.serverReset
    manyAcks[9] = 200
    #expect(error(manyAcks) == "OpenVPN packet acknowledges 200 packets (at most 8)")
    var shortAcks = Self.serverReset
    shortAcks[9] = 4
    #expect(error(shortAcks) == "OpenVPN ack array truncated: 22 bytes, at least 24 needed")
    #expect(
      error(Array(Self.serverReset.prefix(24))) == "OpenVPN message packet id truncated: 2 bytes, at least 4 needed")
  }
}
