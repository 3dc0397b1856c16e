/// DNS messages (RFC 1035) for the `dns` probe: one query built, one answer
/// parsed. The parser faces the network: every length and pointer is checked,
/// compression loops are refused, and garbage gives a ``PacketParseError``.
public enum DNS {
  /// Record types the probe asks for or reads.
  public enum RecordType {
    public static let a: UInt16 = 1
    public static let ns: UInt16 = 2
    public static let cname: UInt16 = 5
    public static let soa: UInt16 = 6
    public static let aaaa: UInt16 = 28
  }

  /// The response codes of RFC 1035 section 4.1.1 (and RFC 6895's names).
  public struct ResponseCode: Sendable, Hashable, CustomStringConvertible {
    public var value: UInt8
    public init(_ value: UInt8) { self.value = value }

    public static let noError = ResponseCode(0)
    public static let formatError = ResponseCode(1)
    public static let serverFailure = ResponseCode(2)
    public static let nameError = ResponseCode(3)
    public static let notImplemented = ResponseCode(4)
    public static let refused = ResponseCode(5)

    public var description: String {
      switch value {
      case 0: "NOERROR"
      case 1: "FORMERR"
      case 2: "SERVFAIL"
      case 3: "NXDOMAIN"
      case 4: "NOTIMP"
      case 5: "REFUSED"
      default: "RCODE\(value)"
      }
    }
  }

  /// Encodes a domain name as labels (`www.example.org` → `3www7example3org0`).
  /// `"."` and `""` are the root. Throws for empty labels, labels over 63
  /// bytes and names over 255 bytes.
  public static func encodeName(_ name: String) throws(PacketParseError) -> [UInt8] {
    var text = Substring(name)
    if text.hasSuffix(".") { text = text.dropLast() }
    var bytes: [UInt8] = []
    if !text.isEmpty {
      for label in text.split(separator: ".", omittingEmptySubsequences: false) {
        let utf8 = Array(label.utf8)
        guard !utf8.isEmpty else {
          throw PacketParseError(.malformed, "DNS name '\(name)' has an empty label")
        }
        guard utf8.count <= 63 else {
          throw PacketParseError(.malformed, "DNS name '\(name)' has a label of \(utf8.count) bytes (at most 63)")
        }
        bytes.append(UInt8(utf8.count))
        bytes += utf8
      }
    }
    bytes.append(0)
    guard bytes.count <= 255 else {
      throw PacketParseError(.malformed, "DNS name '\(name)' is \(bytes.count) bytes long (at most 255)")
    }
    return bytes
  }

  /// A name as ``parseResponse(_:)`` gives it: no trailing dot, `.` for
  /// the root.
  public static func displayName(_ name: String) -> String {
    let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
    return trimmed.isEmpty ? "." : trimmed
  }

  /// A standard query (opcode 0) for one name and type, class IN, with
  /// recursion desired.
  public static func query(id: UInt16, name: String, type: UInt16) throws(PacketParseError) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.appendBE16(id)
    bytes.appendBE16(0x0100)  // QR=0 opcode=0 RD=1
    bytes.appendBE16(1)  // QDCOUNT
    bytes.appendBE16(0)  // ANCOUNT
    bytes.appendBE16(0)  // NSCOUNT
    bytes.appendBE16(0)  // ARCOUNT
    bytes += try encodeName(name)
    bytes.appendBE16(type)
    bytes.appendBE16(1)  // IN
    return bytes
  }

  /// One resource record of the answer section.
  public struct Record: Sendable, Hashable {
    public var name: String
    public var type: UInt16
    public var dnsClass: UInt16
    public var ttl: UInt32
    public var data: [UInt8]

    /// The address of an A or AAAA record.
    public var address: IPAddress? {
      if type == RecordType.a, let v4 = IPv4Address(bytes: data) { return .v4(v4) }
      if type == RecordType.aaaa, let v6 = IPv6Address(bytes: data) { return .v6(v6) }
      return nil
    }
  }

  /// The parts of a response the probe looks at.
  public struct Response: Sendable, Hashable {
    public var id: UInt16
    public var responseCode: ResponseCode
    public var authoritative: Bool
    public var truncated: Bool
    public var recursionAvailable: Bool
    public var questionName: String
    public var questionType: UInt16
    public var answers: [Record]
    /// Records of the authority and additional sections, counted, not kept.
    public var otherRecordCount: Int

    /// The A and AAAA addresses among the answers.
    public var addresses: [IPAddress] { answers.compactMap(\.address) }
  }

  /// Parses a response. Rejects queries (QR = 0), opcodes other than 0, and
  /// any truncated or malformed section; a truncated (TC) message is parsed
  /// as far as its counts go.
  public static func parseResponse(_ bytes: [UInt8]) throws(PacketParseError) -> Response {
    guard bytes.count >= 12 else { throw .truncated("DNS header", have: bytes.count, need: 12) }
    let flags = bytes.be16(at: 2)
    guard flags & 0x8000 != 0 else { throw PacketParseError(.malformed, "DNS message is a query, not a response") }
    let opcode = (flags >> 11) & 0xF
    guard opcode == 0 else { throw PacketParseError(.malformed, "DNS response has opcode \(opcode), not 0 (query)") }
    let qdcount = Int(bytes.be16(at: 4))
    let ancount = Int(bytes.be16(at: 6))
    let others = Int(bytes.be16(at: 8)) + Int(bytes.be16(at: 10))
    guard qdcount == 1 else {
      throw PacketParseError(.malformed, "DNS response has \(qdcount) questions, 1 expected")
    }
    var offset = 12
    let questionName = try readName(bytes, at: &offset)
    guard offset + 4 <= bytes.count else { throw .truncated("DNS question", have: bytes.count - offset, need: 4) }
    let questionType = bytes.be16(at: offset)
    offset += 4
    var answers: [Record] = []
    let truncated = flags & 0x0200 != 0
    for index in 0..<ancount {
      do {
        answers.append(try readRecord(bytes, at: &offset))
      } catch {
        // A truncated (TC) answer may stop early: keep what came.
        if truncated && error.code == .truncated { break }
        throw PacketParseError(error.code, "DNS answer \(index + 1) of \(ancount): \(error.message)")
      }
    }
    return Response(
      id: bytes.be16(at: 0), responseCode: ResponseCode(UInt8(flags & 0xF)), authoritative: flags & 0x0400 != 0,
      truncated: truncated, recursionAvailable: flags & 0x0080 != 0, questionName: questionName,
      questionType: questionType, answers: answers, otherRecordCount: others)
  }

  static func readRecord(_ bytes: [UInt8], at offset: inout Int) throws(PacketParseError) -> Record {
    let name = try readName(bytes, at: &offset)
    guard offset + 10 <= bytes.count else { throw .truncated("record header", have: bytes.count - offset, need: 10) }
    let type = bytes.be16(at: offset)
    let dnsClass = bytes.be16(at: offset + 2)
    let ttl = bytes.be32(at: offset + 4)
    let length = Int(bytes.be16(at: offset + 8))
    offset += 10
    guard offset + length <= bytes.count else {
      throw .truncated("record data", have: bytes.count - offset, need: length)
    }
    let data = Array(bytes[offset..<offset + length])
    offset += length
    if type == RecordType.a && length != 4 {
      throw PacketParseError(.malformed, "A record of \(length) bytes, 4 expected")
    }
    if type == RecordType.aaaa && length != 16 {
      throw PacketParseError(.malformed, "AAAA record of \(length) bytes, 16 expected")
    }
    return Record(name: name, type: type, dnsClass: dnsClass, ttl: ttl, data: data)
  }

  /// Reads a possibly compressed name at `offset` and moves `offset` past
  /// it (past the first pointer, if any). Pointers must point backwards (a
  /// chain of pointers shrinks) and the name is at most 255 bytes (a loop
  /// through labels grows it), so every hostile message ends.
  static func readName(_ bytes: [UInt8], at offset: inout Int) throws(PacketParseError) -> String {
    var labels: [String] = []
    var position = offset
    var end: Int?
    var length = 1
    while true {
      guard position < bytes.count else {
        throw .truncated("DNS name", have: bytes.count - offset, need: position - offset + 1)
      }
      let byte = bytes[position]
      switch byte & 0xC0 {
      case 0x00:
        if byte == 0 {
          offset = end ?? position + 1
          return labels.isEmpty ? "." : labels.joined(separator: ".")
        }
        let count = Int(byte)
        guard position + 1 + count <= bytes.count else {
          throw .truncated("DNS label", have: bytes.count - position - 1, need: count)
        }
        length += count + 1
        guard length <= 255 else { throw PacketParseError(.malformed, "DNS name longer than 255 bytes") }
        labels.append(
          String(decoding: bytes[(position + 1)...(position + count)], as: UTF8.self).replacingDots())
        position += 1 + count
      case 0xC0:
        guard position + 1 < bytes.count else { throw .truncated("DNS name pointer", have: 1, need: 2) }
        let target = Int(bytes.be16(at: position) & 0x3FFF)
        guard target < position else {
          throw PacketParseError(.malformed, "DNS name pointer at \(position) points forward to \(target)")
        }
        if end == nil { end = position + 2 }
        position = target
      default:
        throw PacketParseError(
          .malformed, "DNS label type 0x\(String(byte & 0xC0, radix: 16)) at \(position) is not supported")
      }
    }
  }
}

extension String {
  /// A label holding a dot is shown escaped, as dig does.
  fileprivate func replacingDots() -> String {
    contains(".") ? split(separator: ".", omittingEmptySubsequences: false).joined(separator: "\\.") : self
  }
}
