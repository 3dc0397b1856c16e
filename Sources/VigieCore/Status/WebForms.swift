/// `application/x-www-form-urlencoded` bodies, parsed strictly: a bad
/// percent escape, invalid UTF-8, a repeated field or too many fields is an
/// error with a precise message, never a guess.
public enum FormURLEncoded {
  public struct ParseError: Error, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
  }

  public static let maximumFields = 32

  public static func parse(_ body: String) -> Result<[String: String], ParseError> {
    var fields: [String: String] = [:]
    if body.isEmpty { return .success(fields) }
    let pairs = body.split(separator: "&", omittingEmptySubsequences: false)
    guard pairs.count <= maximumFields else {
      return .failure(ParseError("more than \(maximumFields) form fields"))
    }
    for (index, pair) in pairs.enumerated() {
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard parts.count == 2 else { return .failure(ParseError("form field \(index + 1) has no '='")) }
      let name: String
      let value: String
      switch (decode(parts[0]), decode(parts[1])) {
      case (.success(let n), .success(let v)):
        name = n
        value = v
      case (.failure(let error), _), (_, .failure(let error)):
        return .failure(ParseError("form field \(index + 1): \(error.description)"))
      }
      guard !name.isEmpty else { return .failure(ParseError("form field \(index + 1) has an empty name")) }
      guard fields[name] == nil else { return .failure(ParseError("form field '\(name)' is repeated")) }
      fields[name] = value
    }
    return .success(fields)
  }

  /// `+` is a space, `%XX` a byte; the bytes must be UTF-8 without NUL.
  public static func decode(_ text: Substring) -> Result<String, ParseError> {
    var bytes: [UInt8] = []
    var iterator = Array(text.utf8).makeIterator()
    while let byte = iterator.next() {
      switch byte {
      case UInt8(ascii: "+"): bytes.append(0x20)
      case UInt8(ascii: "%"):
        guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
          return .failure(ParseError("a '%' is not followed by two hexadecimal digits"))
        }
        bytes.append(high << 4 | low)
      default: bytes.append(byte)
      }
    }
    guard !bytes.contains(0) else { return .failure(ParseError("a NUL byte is not allowed")) }
    guard let string = String(validating: bytes, as: UTF8.self) else {
      return .failure(ParseError("the text is not valid UTF-8"))
    }
    return .success(string)
  }

  static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}

/// The cross-site half of CSRF protection for browser POSTs: a request
/// another site's page made is refused before its token is even looked at.
public enum CrossSiteCheck {
  /// nil when the request may come from our own page; otherwise why not.
  /// - Parameters:
  ///   - origin: the `Origin` header (browsers send it on POST).
  ///   - fetchSite: `Sec-Fetch-Site` (`same-origin`, `same-site`, `cross-site`, `none`).
  ///   - host: the `Host` the request was sent to.
  public static func problem(origin: String?, fetchSite: String?, host: String?) -> String? {
    if let fetchSite, fetchSite.lowercased() == "cross-site" {
      return "cross-site request refused (Sec-Fetch-Site: cross-site)"
    }
    guard let origin else { return nil }  // curl and other non-browser clients
    guard origin != "null" else { return "request from an opaque origin refused (Origin: null)" }
    guard let host, !host.isEmpty else { return "the request has an Origin but no Host" }
    let stripped =
      origin.hasPrefix("http://") ? origin.dropFirst(7) : origin.hasPrefix("https://") ? origin.dropFirst(8) : nil
    guard let stripped, stripped.lowercased() == host.lowercased() else {
      return "cross-origin request refused (Origin \(origin) is not this page's \(host))"
    }
    return nil
  }
}

/// What the status page's buttons may ask for: a closed list, so a forged
/// or edited form cannot run any other command through the page.
public struct AdminAction: Sendable, Hashable {
  public var commandLine: String

  /// `RESTART <service>`, `ACK <alert>` or `SILENCE <target> <duration>`
  /// with plain words; anything else is nil.
  public static func parse(_ text: String) -> AdminAction? {
    let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    func plain(_ word: String) -> Bool {
      !word.isEmpty && word.count <= 64
        && word.unicodeScalars.allSatisfy {
          $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0))
        }
    }
    guard let verb = words.first?.uppercased(), words.dropFirst().allSatisfy(plain) else { return nil }
    switch (verb, words.count) {
    case ("RESTART", 2), ("ACK", 2), ("SILENCE", 3):
      return AdminAction(commandLine: ([verb] + words.dropFirst()).joined(separator: " "))
    default: return nil
    }
  }
}
