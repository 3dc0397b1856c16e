/// A streaming `multipart/form-data` parser (RFC 7578): bytes go in as they
/// arrive, events come out; a part's body is never held whole, only the few
/// bytes that could be the start of the next delimiter.
public struct MultipartParser: Sendable {
  public struct Part: Sendable, Equatable {
    /// The form field name.
    public var name: String
    /// The `filename` (or `filename*`) parameter, nil for a plain field.
    public var filename: String?
    public var contentType: String?

    public init(name: String, filename: String?, contentType: String?) {
      self.name = name
      self.filename = filename
      self.contentType = contentType
    }
  }

  public enum Event: Sendable, Equatable {
    case begin(Part)
    case body([UInt8])
    case end
  }

  /// Longest header block of one part.
  public static let maxHeaderBytes = 8192
  /// The boundary the parser looks for, from the `Content-Type` header.
  public let boundary: String

  enum State: Equatable {
    case preamble, afterDelimiter, headers, body, epilogue
  }

  private var state = State.preamble
  private var buffer: [UInt8] = []
  /// `\r\n--boundary`.
  private let delimiter: [UInt8]

  public init(boundary: String) {
    self.boundary = boundary
    delimiter = Array("\r\n--\(boundary)".utf8)
    // The first delimiter may come without the leading CRLF.
    buffer = Array("\r\n".utf8)
  }

  /// The boundary parameter of a `multipart/form-data` content type.
  public static func boundary(contentType: String) -> Result<String, MultipartError> {
    let parts = contentType.split(separator: ";").map { String($0).trimmingSpaces }
    guard let first = parts.first, first.lowercased() == "multipart/form-data" else {
      return .failure(.notMultipart)
    }
    for parameter in parts.dropFirst() {
      guard let equals = parameter.firstIndex(of: "=") else { continue }
      guard parameter[..<equals].trimmingSpaces.lowercased() == "boundary" else { continue }
      var value = parameter[parameter.index(after: equals)...].trimmingSpaces
      if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
      guard (1...70).contains(value.utf8.count), value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
        return .failure(.badBoundary)
      }
      return .success(value)
    }
    return .failure(.badBoundary)
  }

  /// Whether the closing delimiter was seen.
  public var isFinished: Bool { state == .epilogue }

  /// Feeds the next bytes; returns the events they complete.
  public mutating func feed<C: Collection<UInt8>>(_ bytes: C) throws(MultipartError) -> [Event] {
    if state == .epilogue { return [] }
    buffer.append(contentsOf: bytes)
    var events: [Event] = []
    var start = 0
    loop: while true {
      switch state {
      case .preamble:
        guard let found = Self.find(delimiter, in: buffer, from: start) else {
          // Keep only what could begin a delimiter.
          start = max(start, buffer.count - delimiter.count + 1)
          break loop
        }
        start = found + delimiter.count
        state = .afterDelimiter
      case .afterDelimiter:
        guard buffer.count - start >= 2 else { break loop }
        if buffer[start] == UInt8(ascii: "-") && buffer[start + 1] == UInt8(ascii: "-") {
          state = .epilogue
          start = buffer.count
          break loop
        }
        // Transport padding (spaces, tabs) may follow the boundary.
        var index = start
        while index < buffer.count, buffer[index] == 0x20 || buffer[index] == 0x09 { index += 1 }
        guard buffer.count - index >= 2 else { break loop }
        guard buffer[index] == 0x0D, buffer[index + 1] == 0x0A else { throw .malformed("no CRLF after a boundary") }
        start = index + 2
        state = .headers
      case .headers:
        guard buffer.count - start >= 2 else { break loop }
        let block: [UInt8]
        if buffer[start] == 0x0D && buffer[start + 1] == 0x0A {
          block = []
          start += 2
        } else {
          guard let end = Self.find(Array("\r\n\r\n".utf8), in: buffer, from: start) else {
            if buffer.count - start > Self.maxHeaderBytes { throw .malformed("part headers longer than 8 KiB") }
            break loop
          }
          if end - start > Self.maxHeaderBytes { throw .malformed("part headers longer than 8 KiB") }
          block = Array(buffer[start..<end])
          start = end + 4
        }
        events.append(.begin(try Self.parseHeaders(block)))
        state = .body
      case .body:
        if let found = Self.find(delimiter, in: buffer, from: start) {
          if found > start { events.append(.body(Array(buffer[start..<found]))) }
          events.append(.end)
          start = found + delimiter.count
          state = .afterDelimiter
        } else {
          let safe = buffer.count - delimiter.count + 1
          if safe > start {
            events.append(.body(Array(buffer[start..<safe])))
            start = safe
          }
          break loop
        }
      case .epilogue:
        start = buffer.count
        break loop
      }
    }
    buffer.removeFirst(min(start, buffer.count))
    return events
  }

  /// Call at the end of the body: throws unless the closing delimiter came.
  public func finish() throws(MultipartError) {
    guard state == .epilogue else { throw .truncated }
  }

  static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
    guard needle.count <= haystack.count - from, let first = needle.first else { return nil }
    var index = from
    let last = haystack.count - needle.count
    while index <= last {
      if haystack[index] == first {
        var matched = true
        for offset in 1..<needle.count where haystack[index + offset] != needle[offset] {
          matched = false
          break
        }
        if matched { return index }
      }
      index += 1
    }
    return nil
  }

  static func parseHeaders(_ block: [UInt8]) throws(MultipartError) -> Part {
    guard let text = String(validating: block, as: UTF8.self) else { throw .malformed("part headers are not UTF-8") }
    var part = Part(name: "", filename: nil, contentType: nil)
    var sawDisposition = false
    for line in text.split(separator: "\r\n", omittingEmptySubsequences: true) {
      guard let colon = line.firstIndex(of: ":") else { throw .malformed("a part header line has no colon") }
      let name = line[..<colon].trimmingSpaces.lowercased()
      let value = line[line.index(after: colon)...].trimmingSpaces
      switch name {
      case "content-disposition":
        sawDisposition = true
        let parameters = try dispositionParameters(value)
        guard let fieldName = parameters.name else { throw .malformed("Content-Disposition has no name") }
        part.name = fieldName
        part.filename = parameters.filename
      case "content-type":
        part.contentType = value
      default:
        continue
      }
    }
    guard sawDisposition else { throw .malformed("a part has no Content-Disposition") }
    return part
  }

  /// Parses `form-data; name="x"; filename="y"; filename*=UTF-8''z`, quoted
  /// strings with backslash escapes, `filename*` preferred.
  static func dispositionParameters(_ value: String) throws(MultipartError) -> (name: String?, filename: String?) {
    var scalars = Array(value.unicodeScalars)
    var index = 0
    func skipSpaces() { while index < scalars.count, scalars[index] == " " || scalars[index] == "\t" { index += 1 } }
    func token() -> String {
      var out = ""
      while index < scalars.count, scalars[index] != ";", scalars[index] != "=" {
        out.unicodeScalars.append(scalars[index])
        index += 1
      }
      return out.trimmingSpaces
    }
    let kind = token().lowercased()
    guard kind == "form-data" || kind == "attachment" || kind == "inline" else {
      throw .malformed("Content-Disposition is not form-data")
    }
    var name: String?
    var filename: String?
    var extended: String?
    while index < scalars.count {
      guard scalars[index] == ";" else { throw .malformed("bad Content-Disposition parameters") }
      index += 1
      skipSpaces()
      if index == scalars.count { break }
      let key = token().lowercased()
      guard index < scalars.count, scalars[index] == "=" else { throw .malformed("a parameter has no value") }
      index += 1
      skipSpaces()
      var parameter = ""
      if index < scalars.count, scalars[index] == "\"" {
        index += 1
        var closed = false
        while index < scalars.count {
          let scalar = scalars[index]
          index += 1
          if scalar == "\"" {
            closed = true
            break
          }
          if scalar == "\\", index < scalars.count {
            parameter.unicodeScalars.append(scalars[index])
            index += 1
          } else {
            parameter.unicodeScalars.append(scalar)
          }
        }
        guard closed else { throw .malformed("an unterminated quoted parameter") }
        skipSpaces()
      } else {
        parameter = token()
      }
      switch key {
      case "name": name = parameter
      case "filename": filename = parameter
      case "filename*": extended = parameter
      default: continue
      }
    }
    scalars.removeAll()
    if let extended {
      // RFC 8187: charset'language'percent-encoded; only UTF-8 is accepted.
      let pieces = extended.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
      guard pieces.count == 3, pieces[0].lowercased() == "utf-8" else {
        throw .malformed("filename* is not UTF-8''...")
      }
      guard case .success(let bytes) = DropPath.percentDecode(Substring(pieces[2]).utf8),
        let decoded = String(validating: bytes, as: UTF8.self)
      else { throw .malformed("filename* is badly encoded") }
      filename = decoded
    }
    return (name, filename)
  }
}

public enum MultipartError: Error, Sendable, Equatable, CustomStringConvertible {
  case notMultipart
  case badBoundary
  case malformed(String)
  case truncated

  public var description: String {
    switch self {
    case .notMultipart: "the body is not multipart/form-data"
    case .badBoundary: "the multipart boundary is missing or invalid"
    case .malformed(let why): "malformed multipart body: \(why)"
    case .truncated: "the multipart body ended before its closing boundary"
    }
  }
}
