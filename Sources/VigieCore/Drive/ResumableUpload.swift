/// The client side of Google's resumable upload protocol, as a pure state
/// machine ("Upload file data", resumable): the session URI comes from the
/// initiation; chunks are PUT with `Content-Range: bytes a-b/N`; a 308
/// answer's `Range: bytes=0-k` says how much is stored (no `Range`: nothing);
/// after a failure without an answer the client asks with an empty PUT and
/// `Content-Range: bytes */N`; a 404 means the session is gone and the
/// upload starts over with a new one; 200/201 carries the file.
///
/// Every chunk but the last is a multiple of 256 KiB, as Google requires.
public struct ResumableUpload: Sendable, Equatable {
  public static let granularity: Int64 = 256 * 1024

  public enum Phase: Sendable, Equatable {
    /// No session yet (or the old one expired): initiate.
    case needsSession
    /// Send the chunk `nextChunk`.
    case sending
    /// The last request's outcome is unknown: send a status query.
    case needsStatusQuery
    /// The server has the whole file.
    case finished
  }

  public enum ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    case badRangeHeader(String)
    case rangeBeyondSize(stored: Int64, size: Int64)
    case rangeWentBackwards(stored: Int64, had: Int64)
    case unexpectedStatus(Int)

    public var description: String {
      switch self {
      case .badRangeHeader(let h): "unparsable Range header \"\(h.prefix(80))\" in a 308 answer"
      case .rangeBeyondSize(let s, let n): "the server says it stored \(s) bytes of a \(n)-byte file"
      case .rangeWentBackwards(let s, let h): "the server now says \(s) bytes where it said \(h)"
      case .unexpectedStatus(let s): "HTTP \(s) in the upload protocol"
      }
    }
  }

  public let size: Int64
  public let chunkSize: Int64
  public private(set) var sessionURI: String?
  /// Bytes the server confirmed it stores.
  public private(set) var confirmed: Int64 = 0
  public private(set) var phase: Phase = .needsSession

  /// `chunkSize` is rounded down to a multiple of 256 KiB (at least 256 KiB).
  public init(size: Int64, chunkSize: Int64, sessionURI: String? = nil, confirmed: Int64 = 0) {
    precondition(size >= 0)
    self.size = size
    self.chunkSize = max(Self.granularity, chunkSize / Self.granularity * Self.granularity)
    if let sessionURI {
      self.sessionURI = sessionURI
      // A persisted session is resumed by asking where it stands.
      self.confirmed = min(max(0, confirmed), size)
      phase = .needsStatusQuery
    }
  }

  /// The next chunk to send: offset and length (the last one may be short
  /// and may be empty for an empty file).
  public var nextChunk: (offset: Int64, length: Int64) {
    (confirmed, min(chunkSize, size - confirmed))
  }

  /// The `Content-Range` of the next chunk.
  public var chunkContentRange: String {
    let (offset, length) = nextChunk
    if length == 0 { return "bytes */\(size)" }
    return "bytes \(offset)-\(offset + length - 1)/\(size)"
  }

  /// The `Content-Range` of a status query.
  public var statusQueryContentRange: String { "bytes */\(size)" }

  /// A session was created.
  public mutating func sessionStarted(uri: String) {
    sessionURI = uri
    confirmed = 0
    phase = .sending
  }

  /// A chunk or status query got no answer (cut, timeout): ask next time.
  public mutating func ambiguousFailure() {
    if phase != .needsSession, phase != .finished { phase = .needsStatusQuery }
  }

  /// An answer to a chunk PUT or a status query.
  public mutating func received(status: Int, rangeHeader: String?) throws(ProtocolError) {
    switch status {
    case 200, 201:
      confirmed = size
      phase = .finished
    case 308:
      let stored: Int64
      if let rangeHeader {
        stored = try Self.parseStoredBytes(rangeHeader)
      } else {
        stored = 0
      }
      guard stored <= size else { throw .rangeBeyondSize(stored: stored, size: size) }
      // A server may keep less than a cut chunk, never less than it confirmed.
      guard stored >= confirmed else { throw .rangeWentBackwards(stored: stored, had: confirmed) }
      confirmed = stored
      phase = .sending
    case 404, 410:
      sessionURI = nil
      confirmed = 0
      phase = .needsSession
    default:
      throw .unexpectedStatus(status)
    }
  }

  /// `bytes=0-k` → k + 1. Google always starts at 0; anything else,
  /// several ranges, signs, spaces inside numbers or overflow is refused.
  public static func parseStoredBytes(_ header: String) throws(ProtocolError) -> Int64 {
    let text = header.trimmingSpaces
    guard text.hasPrefix("bytes=0-") else { throw .badRangeHeader(header) }
    let last = text.dropFirst("bytes=0-".count)
    guard !last.isEmpty, last.count <= 18, last.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
      let value = Int64(last)
    else { throw .badRangeHeader(header) }
    return value + 1
  }
}
