/// Why bytes could not be parsed as a packet. Parsers never trap on input:
/// every truncated or malformed packet gives one of these, and the caller
/// drops the packet.
public struct PacketParseError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The kind of problem. New kinds may be added.
  public struct Code: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable { case truncated, malformed, badChecksum }
    private let kind: Kind
    private init(_ kind: Kind) { self.kind = kind }

    /// Fewer bytes than the format or a length field requires.
    public static let truncated = Code(.truncated)
    /// A field has a value the format does not allow (version, length).
    public static let malformed = Code(.malformed)
    /// The checksum does not match the bytes.
    public static let badChecksum = Code(.badChecksum)

    public var description: String {
      switch kind {
      case .truncated: "truncated"
      case .malformed: "malformed"
      case .badChecksum: "bad checksum"
      }
    }
  }

  /// The kind of problem.
  public var code: Code
  /// What is wrong, on which packet part, e.g.
  /// `IPv4 header truncated: 12 bytes, at least 20 needed`.
  public var message: String

  /// An error of kind `code` explained by `message`.
  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message + " (packet dropped)" }

  /// `what truncated: N bytes, at least M needed`.
  static func truncated(_ what: String, have: Int, need: Int) -> PacketParseError {
    PacketParseError(.truncated, "\(what) truncated: \(have) bytes, at least \(need) needed")
  }
}

/// Big-endian reads at offsets the caller has already checked against the
/// length.
extension [UInt8] {
  @inline(__always)
  func be16(at offset: Int) -> UInt16 {
    UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
  }

  @inline(__always)
  func be32(at offset: Int) -> UInt32 {
    UInt32(be16(at: offset)) << 16 | UInt32(be16(at: offset + 2))
  }

  @inline(__always)
  func be64(at offset: Int) -> UInt64 {
    UInt64(be32(at: offset)) << 32 | UInt64(be32(at: offset + 4))
  }

  @inline(__always)
  mutating func setBE16(_ value: UInt16, at offset: Int) {
    self[offset] = UInt8(truncatingIfNeeded: value >> 8)
    self[offset + 1] = UInt8(truncatingIfNeeded: value)
  }

  @inline(__always)
  mutating func appendBE16(_ value: UInt16) {
    append(UInt8(truncatingIfNeeded: value >> 8))
    append(UInt8(truncatingIfNeeded: value))
  }
}
