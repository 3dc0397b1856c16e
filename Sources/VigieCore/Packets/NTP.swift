/// NTP packets (RFC 5905) for the `ntp` probe: a mode-3 client request, and
/// the mode-4 server reply parsed and judged.
public enum NTP {
  /// An NTP timestamp: seconds since 1900-01-01 and a binary fraction.
  public struct Timestamp: Sendable, Hashable, CustomStringConvertible {
    /// The 64-bit value: 32 bits of seconds, 32 of fraction.
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    /// Seconds from 1900 (NTP era 0) to 1970 (the Unix epoch).
    public static let unixEpochOffset: UInt64 = 2_208_988_800

    /// The timestamp of a Unix time (seconds and nanoseconds since 1970).
    public init(unixSeconds: Int64, nanoseconds: Int64) {
      let seconds = UInt64(truncatingIfNeeded: unixSeconds &+ Int64(Self.unixEpochOffset)) & 0xFFFF_FFFF
      let fraction = (UInt64(max(0, min(nanoseconds, 999_999_999))) << 32) / 1_000_000_000
      value = seconds << 32 | fraction
    }

    public var seconds: UInt32 { UInt32(truncatingIfNeeded: value >> 32) }
    public var fraction: UInt32 { UInt32(truncatingIfNeeded: value) }

    /// Seconds since 1970 (era 0, which ends in 2036).
    public var unixSeconds: Double {
      Double(Int64(seconds) - Int64(Self.unixEpochOffset)) + Double(fraction) / 4_294_967_296
    }

    public var description: String { "\(seconds).\(fraction)" }
  }

  /// The leap indicator value that means "clock not synchronised".
  public static let leapUnsynchronised: UInt8 = 3

  /// A 48-byte client request: LI 0, version 4, mode 3, everything zero but
  /// the transmit timestamp, which the server copies into its reply's origin
  /// timestamp (that is how the reply is matched to the request).
  public static func clientRequest(transmit: Timestamp) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 48)
    bytes[0] = 0 << 6 | 4 << 3 | 3
    for index in 0..<8 { bytes[40 + index] = UInt8(truncatingIfNeeded: transmit.value >> (56 - 8 * index)) }
    return bytes
  }

  /// A server's reply, as far as the probe reads it.
  public struct Reply: Sendable, Hashable {
    public var leapIndicator: UInt8
    public var version: UInt8
    public var mode: UInt8
    /// 1 (primary, e.g. GPS) to 15; 0 is a kiss-o'-death; 16 is unsynchronised.
    public var stratum: UInt8
    public var poll: Int8
    public var precision: Int8
    /// Root delay and dispersion, in seconds (16.16 fixed point on the wire).
    public var rootDelay: Double
    public var rootDispersion: Double
    /// The reference id: the upstream server's IPv4 address, a source name
    /// (`GPS`, `LOCL`) for stratum 1, a kiss code for stratum 0.
    public var referenceID: [UInt8]
    public var reference: Timestamp
    public var origin: Timestamp
    public var receive: Timestamp
    public var transmit: Timestamp

    /// The kiss code (`RATE`, `DENY`, ...) of a stratum 0 reply, else nil.
    /// A stratum 0 reply whose reference id is not a printable code (chrony
    /// sends zeros while unsynchronised) has none.
    public var kissCode: String? {
      guard stratum == 0 else { return nil }
      let text = referenceID.prefix { $0 != 0 }
      guard !text.isEmpty, text.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
      return String(decoding: text, as: UTF8.self)
    }

    /// Why this reply does not show a working time server for our request
    /// sent with `transmit`, or nil when it does.
    public func problem(request transmit: Timestamp) -> String? {
      if origin != transmit {
        return "the reply's origin timestamp \(origin) is not our request's \(transmit) (a stale or forged reply)"
      }
      if let kiss = kissCode { return "kiss-o'-death \(kiss)" }
      if leapIndicator == NTP.leapUnsynchronised || stratum == 0 || stratum >= 16 {
        return "the server's clock is not synchronised (stratum \(stratum), leap indicator \(leapIndicator))"
      }
      if self.transmit.value == 0 { return "the reply's transmit timestamp is zero" }
      return nil
    }

    /// `stratum 2, reference 192.0.2.1` for logs.
    public var summary: String {
      let reference: String
      if stratum == 1 {
        reference = String(decoding: referenceID.prefix { $0 != 0 }, as: UTF8.self)
      } else if stratum > 1 && stratum < 16, let v4 = IPv4Address(bytes: referenceID) {
        reference = v4.description
      } else {
        reference = "0x" + referenceID.hex
      }
      return "stratum \(stratum), reference \(reference)"
    }
  }

  /// Parses a server reply: at least 48 bytes, version 1 to 4, mode 4
  /// (server). Extension fields and MACs after byte 48 are ignored.
  public static func parseReply(_ bytes: [UInt8]) throws(PacketParseError) -> Reply {
    guard bytes.count >= 48 else { throw .truncated("NTP packet", have: bytes.count, need: 48) }
    let version = (bytes[0] >> 3) & 0x7
    let mode = bytes[0] & 0x7
    guard (1...4).contains(version) else {
      throw PacketParseError(.malformed, "NTP version \(version) is not 1 to 4")
    }
    guard mode == 4 else {
      throw PacketParseError(.malformed, "NTP mode \(mode) is not 4 (server)")
    }
    func fixed16(_ offset: Int) -> Double { Double(bytes.be32(at: offset)) / 65536 }
    return Reply(
      leapIndicator: bytes[0] >> 6, version: version, mode: mode, stratum: bytes[1],
      poll: Int8(bitPattern: bytes[2]), precision: Int8(bitPattern: bytes[3]), rootDelay: fixed16(4),
      rootDispersion: fixed16(8), referenceID: Array(bytes[12..<16]), reference: Timestamp(bytes.be64(at: 16)),
      origin: Timestamp(bytes.be64(at: 24)), receive: Timestamp(bytes.be64(at: 32)),
      transmit: Timestamp(bytes.be64(at: 40)))
  }
}

extension [UInt8] {
  /// Lower-case hexadecimal, two digits a byte.
  var hex: String {
    map { byte in
      let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
      return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }.joined()
  }
}
