/// OpenVPN control packets for the `udp-openvpn` and `tcp-openvpn` probes
/// (OpenVPN's ssl_pkt.h and reliable.c): the client's hard reset, and the
/// server's answer parsed.
///
/// Layout without tls-auth or tls-crypt (the probe has no key, so a server
/// using one drops the reset in silence):
///
/// | bytes | field |
/// | --- | --- |
/// | 1 | opcode (high 5 bits) and key id (low 3 bits) |
/// | 8 | sender's session id |
/// | 1 | ack count n |
/// | 4 × n | acknowledged packet ids |
/// | 8 if n > 0 | the session id being acknowledged (the peer's) |
/// | 4 | message packet id (not in P_ACK_V1) |
/// | rest | TLS records, or in a reset OpenVPN 2.6's early-negotiation TLVs |
///
/// Over TCP each packet is prefixed with its length, 16 bits big-endian.
public enum OpenVPN {
  /// Control and data opcodes (the high 5 bits of the first byte).
  public enum Opcode {
    public static let controlSoftResetV1: UInt8 = 3
    public static let controlV1: UInt8 = 4
    public static let ackV1: UInt8 = 5
    public static let dataV1: UInt8 = 6
    public static let hardResetClientV2: UInt8 = 7
    public static let hardResetServerV2: UInt8 = 8
    public static let dataV2: UInt8 = 9
    public static let hardResetClientV3: UInt8 = 10
    public static let controlWKCV1: UInt8 = 11

    static func name(_ opcode: UInt8) -> String {
      switch opcode {
      case 1: "P_CONTROL_HARD_RESET_CLIENT_V1"
      case 2: "P_CONTROL_HARD_RESET_SERVER_V1"
      case 3: "P_CONTROL_SOFT_RESET_V1"
      case 4: "P_CONTROL_V1"
      case 5: "P_ACK_V1"
      case 6: "P_DATA_V1"
      case 7: "P_CONTROL_HARD_RESET_CLIENT_V2"
      case 8: "P_CONTROL_HARD_RESET_SERVER_V2"
      case 9: "P_DATA_V2"
      case 10: "P_CONTROL_HARD_RESET_CLIENT_V3"
      case 11: "P_CONTROL_WKC_V1"
      default: "opcode \(opcode)"
      }
    }
  }

  /// P_CONTROL_HARD_RESET_CLIENT_V2, key id 0, no acks, message packet id 0:
  /// 14 bytes (16 with the TCP length prefix).
  public static func hardResetClient(sessionID: UInt64, tcp: Bool) -> [UInt8] {
    var bytes: [UInt8] = []
    if tcp { bytes.appendBE16(14) }
    bytes.append(Opcode.hardResetClientV2 << 3)
    for index in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: sessionID >> (56 - 8 * index))) }
    bytes.append(0)  // no acks
    bytes += [0, 0, 0, 0]  // message packet id 0
    return bytes
  }

  /// A control packet as parsed.
  public struct ControlPacket: Sendable, Hashable {
    public var opcode: UInt8
    public var keyID: UInt8
    public var sessionID: UInt64
    public var acks: [UInt32]
    /// The session id the acks are for (ours, in a server's answer).
    public var ackedSessionID: UInt64?
    /// nil for P_ACK_V1, which has none.
    public var packetID: UInt32?
    public var payload: [UInt8]

    public var opcodeName: String { Opcode.name(opcode) }

    /// Whether this is a server's hard reset answering our session
    /// `sessionID` (acked, or not acking anything).
    public func answersReset(of sessionID: UInt64) -> Bool {
      opcode == Opcode.hardResetServerV2 && (ackedSessionID == nil || ackedSessionID == sessionID)
    }
  }

  /// Parses one control packet without tls-auth (as a UDP datagram, or a
  /// TCP packet without its length prefix). Data packets and unknown opcodes
  /// are refused.
  public static func parseControl(_ bytes: [UInt8]) throws(PacketParseError) -> ControlPacket {
    guard bytes.count >= 10 else { throw .truncated("OpenVPN packet", have: bytes.count, need: 10) }
    let opcode = bytes[0] >> 3
    let keyID = bytes[0] & 0x7
    guard (1...11).contains(opcode), opcode != Opcode.dataV1, opcode != Opcode.dataV2 else {
      throw PacketParseError(.malformed, "OpenVPN \(Opcode.name(opcode)) is not a control packet")
    }
    let sessionID = bytes.be64(at: 1)
    let ackCount = Int(bytes[9])
    guard ackCount <= 8 else {
      throw PacketParseError(.malformed, "OpenVPN packet acknowledges \(ackCount) packets (at most 8)")
    }
    var offset = 10
    var acks: [UInt32] = []
    var ackedSessionID: UInt64?
    if ackCount > 0 {
      let need = 4 * ackCount + 8
      guard offset + need <= bytes.count else {
        throw .truncated("OpenVPN ack array", have: bytes.count - offset, need: need)
      }
      for _ in 0..<ackCount {
        acks.append(bytes.be32(at: offset))
        offset += 4
      }
      ackedSessionID = bytes.be64(at: offset)
      offset += 8
    }
    var packetID: UInt32?
    if opcode != Opcode.ackV1 {
      guard offset + 4 <= bytes.count else {
        throw .truncated("OpenVPN message packet id", have: bytes.count - offset, need: 4)
      }
      packetID = bytes.be32(at: offset)
      offset += 4
    }
    return ControlPacket(
      opcode: opcode, keyID: keyID, sessionID: sessionID, acks: acks, ackedSessionID: ackedSessionID,
      packetID: packetID, payload: Array(bytes[offset...]))
  }

  /// Splits a TCP stream into packets: the complete packets at the front of
  /// `stream` and how many bytes they took. A zero length is malformed.
  public static func splitTCPStream(_ stream: [UInt8]) throws(PacketParseError) -> (packets: [[UInt8]], consumed: Int) {
    var packets: [[UInt8]] = []
    var offset = 0
    while offset + 2 <= stream.count {
      let length = Int(stream.be16(at: offset))
      guard length > 0 else { throw PacketParseError(.malformed, "OpenVPN TCP packet of length 0") }
      guard offset + 2 + length <= stream.count else { break }
      packets.append(Array(stream[(offset + 2)..<(offset + 2 + length)]))
      offset += 2 + length
    }
    return (packets, offset)
  }
}
