/// A path inside the file drop's root, taken from a request's URL path.
///
/// Parsing is the first of two containment checks: it refuses anything that
/// could name a place outside the root before the file system is touched
/// (`..`, encoded slashes and backslashes, NUL and other control characters,
/// invalid UTF-8, over-long names). The second check, done by the service,
/// opens every component with `O_NOFOLLOW` or resolves symbolic links and
/// refuses to leave the root.
public struct DropPath: Sendable, Hashable, CustomStringConvertible {
  /// The components, none empty, `.` or `..`, none containing `/` or NUL.
  public let components: [String]

  /// The root itself.
  public static let root = DropPath(checked: [])

  /// Longest single name in bytes (NAME_MAX on Linux).
  public static let maxNameBytes = 255
  /// Deepest path accepted.
  public static let maxDepth = 64

  init(checked components: [String]) { self.components = components }

  /// The path relative to the root, without a leading slash (`""` for the root).
  public var relative: String { components.joined(separator: "/") }
  /// The path as a URL path, each component percent-encoded, with a leading slash.
  public var urlPath: String { "/" + components.map(Self.percentEncode).joined(separator: "/") }
  public var description: String { "/" + relative }
  public var isRoot: Bool { components.isEmpty }
  /// The last component (`""` for the root).
  public var name: String { components.last ?? "" }
  /// The containing directory (the root for the root).
  public var parent: DropPath { DropPath(checked: Array(components.dropLast())) }

  /// `self` with `name` appended, checked like a URL component (`name` is
  /// not percent-decoded).
  public func appending(_ name: String) -> Result<DropPath, DropPathError> {
    switch Self.check(name: name) {
    case .failure(let error): return .failure(error)
    case .success: break
    }
    guard components.count < Self.maxDepth else { return .failure(.tooDeep) }
    return .success(DropPath(checked: components + [name]))
  }

  /// Parses the path part of a request target (no query), percent-encoded
  /// as it came on the wire. Empty segments and `.` are dropped (`//a/./b`
  /// is `/a/b`); `..` is refused rather than resolved, so that no spelling of
  /// a path can climb, even one that would stay inside.
  public static func parse(urlPath: String) -> Result<DropPath, DropPathError> {
    guard urlPath.first == "/" else { return .failure(.notAbsolute) }
    var components: [String] = []
    for segment in urlPath.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
      let decoded: [UInt8]
      switch percentDecode(segment) {
      case .failure(let error): return .failure(error)
      case .success(let bytes): decoded = bytes
      }
      if decoded.contains(UInt8(ascii: "/")) { return .failure(.encodedSlash) }
      guard let name = String(validating: decoded, as: UTF8.self) else { return .failure(.invalidUTF8) }
      if name == "." { continue }
      switch check(name: name) {
      case .failure(let error): return .failure(error)
      case .success: break
      }
      components.append(name)
      if components.count > maxDepth { return .failure(.tooDeep) }
    }
    return .success(DropPath(checked: components))
  }

  /// Parses a path relative to the root given by a person (`vigie share
  /// docs/a.pdf`, `SHARE docs/a.pdf`), not percent-encoded; a leading slash
  /// is allowed.
  public static func parse(relative: String) -> Result<DropPath, DropPathError> {
    var components: [String] = []
    for segment in relative.split(separator: "/", omittingEmptySubsequences: true) {
      let name = String(segment)
      if name == "." { continue }
      switch check(name: name) {
      case .failure(let error): return .failure(error)
      case .success: break
      }
      components.append(name)
      if components.count > maxDepth { return .failure(.tooDeep) }
    }
    return .success(DropPath(checked: components))
  }

  /// Whether `name` may be one component: not empty, `.` or `..`, no `/`,
  /// `\`, NUL or control characters, at most 255 bytes.
  public static func check(name: String) -> Result<Void, DropPathError> {
    if name.isEmpty { return .failure(.emptyName) }
    if name == "." || name == ".." { return .failure(.dotDot) }
    if name.utf8.count > maxNameBytes { return .failure(.nameTooLong) }
    for scalar in name.unicodeScalars {
      switch scalar.value {
      case 0: return .failure(.nul)
      case 0x2F: return .failure(.encodedSlash)
      // A backslash is a separator for Windows clients and in some
      // traversal payloads; refusing it costs nothing on a LAN drop.
      case 0x5C: return .failure(.backslash)
      case 0x01...0x1F, 0x7F: return .failure(.controlCharacter)
      default: continue
      }
    }
    return .success(())
  }

  public static func percentDecode(_ bytes: Substring.UTF8View) -> Result<[UInt8], DropPathError> {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var index = bytes.startIndex
    while index != bytes.endIndex {
      let byte = bytes[index]
      if byte == UInt8(ascii: "%") {
        let first = bytes.index(after: index)
        guard first != bytes.endIndex, bytes.index(after: first) != bytes.endIndex,
          let high = hexValue(bytes[first]), let low = hexValue(bytes[bytes.index(after: first)])
        else { return .failure(.badPercentEncoding) }
        out.append(high << 4 | low)
        index = bytes.index(first, offsetBy: 2)
      } else {
        out.append(byte)
        index = bytes.index(after: index)
      }
    }
    return .success(out)
  }

  static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }

  /// Percent-encodes everything but RFC 3986 unreserved characters.
  public static func percentEncode(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
        UInt8(ascii: "~"):
        out.unicodeScalars.append(Unicode.Scalar(byte))
      default:
        let hex = Array("0123456789ABCDEF".unicodeScalars)
        out.unicodeScalars.append("%")
        out.unicodeScalars.append(hex[Int(byte >> 4)])
        out.unicodeScalars.append(hex[Int(byte & 0xF)])
      }
    }
    return out
  }
}

/// Why a request path was refused. Every case is a 400 (or 404 for the
/// caller's taste); none reveals anything about the file system.
public enum DropPathError: Error, Sendable, Equatable, CustomStringConvertible {
  case notAbsolute
  case badPercentEncoding
  case encodedSlash
  case backslash
  case nul
  case controlCharacter
  case invalidUTF8
  case dotDot
  case emptyName
  case nameTooLong
  case tooDeep

  public var description: String {
    switch self {
    case .notAbsolute: "the path must start with /"
    case .badPercentEncoding: "bad percent-encoding (% must be followed by two hex digits)"
    case .encodedSlash: "a name contains a slash (%2F)"
    case .backslash: "a name contains a backslash"
    case .nul: "a name contains a NUL byte"
    case .controlCharacter: "a name contains a control character"
    case .invalidUTF8: "a name is not valid UTF-8"
    case .dotDot: "'..' is not allowed in paths"
    case .emptyName: "a name is empty"
    case .nameTooLong: "a name is longer than 255 bytes"
    case .tooDeep: "the path is deeper than \(DropPath.maxDepth) folders"
    }
  }
}
