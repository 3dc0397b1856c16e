import NIOCore
import VigieCore

/// What the line decoder hands up: a line without its LF, or the size of a
/// line that was too long and was thrown away (the connection lives on).
public enum IRCInbound: Sendable, Hashable {
  case line([UInt8])
  case oversized(bytes: Int)
}

/// Splits the byte stream on LF. A line longer than `maxLength` (tags plus
/// the 512-byte body) is discarded up to its LF, reported as `.oversized`,
/// and never buffered whole, so a hostile server cannot make us hold an
/// unbounded line.
struct IRCLineDecoder: ByteToMessageDecoder {
  typealias InboundOut = IRCInbound
  let maxLength: Int
  /// Bytes already thrown away of the current oversized line.
  private var discarded = 0

  init(maxLength: Int = IRCMessage.maxTagBytes + IRCMessage.maxLineBytes) {
    self.maxLength = maxLength
  }

  mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
    let view = buffer.readableBytesView
    if let newline = view.firstIndex(of: 0x0A) {
      let length = newline - view.startIndex
      if discarded > 0 || length + 1 > maxLength {
        buffer.moveReaderIndex(forwardBy: length + 1)
        context.fireChannelRead(wrapInboundOut(.oversized(bytes: discarded + length + 1)))
        discarded = 0
        return .continue
      }
      let bytes = buffer.readBytes(length: length)!
      buffer.moveReaderIndex(forwardBy: 1)
      context.fireChannelRead(wrapInboundOut(.line(bytes)))
      return .continue
    }
    if buffer.readableBytes > maxLength || discarded > 0 {
      discarded += buffer.readableBytes
      buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
    }
    return .needMoreData
  }

  mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
    -> DecodingState
  {
    while try decode(context: context, buffer: &buffer) == .continue {}
    // A last line without LF is dropped: the server closed mid-line.
    buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
    return .needMoreData
  }
}
