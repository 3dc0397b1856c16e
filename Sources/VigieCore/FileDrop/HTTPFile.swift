/// What a `Range` header asks of a representation of `size` bytes (RFC 9110 §14).
public enum RangeRequest: Equatable, Sendable {
  /// No range, a syntax the server ignores, or several ranges (the whole
  /// representation is sent with 200, which RFC 9110 allows).
  case whole
  /// One satisfiable range: 206.
  case partial(ClosedRange<Int64>)
  /// No satisfiable range: 416 with `Content-Range: bytes */size`.
  case unsatisfiable

  /// At most this many ranges are looked at; more is abuse.
  public static let maxRanges = 16

  /// Evaluates `header` (nil when absent) against `size`.
  public static func evaluate(_ header: String?, size: Int64) -> RangeRequest {
    guard let header else { return .whole }
    let trimmed = header.trimmingSpaces
    guard trimmed.lowercased().hasPrefix("bytes=") else { return .whole }
    let specs = trimmed.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false)
    guard !specs.isEmpty, specs.count <= maxRanges else { return .whole }
    var satisfiable: [ClosedRange<Int64>] = []
    for spec in specs {
      let text = String(spec).trimmingSpaces
      guard let dash = text.firstIndex(of: "-") else { return .whole }
      let first = text[..<dash]
      let last = text[text.index(after: dash)...]
      if first.isEmpty {
        // Suffix range: the last N bytes.
        guard let count = Int64.decimal(last) else { return .whole }
        if count > 0 && size > 0 { satisfiable.append(max(0, size - count)...(size - 1)) }
      } else {
        guard let start = Int64.decimal(first) else { return .whole }
        var end = size - 1
        if !last.isEmpty {
          guard let value = Int64.decimal(last), value >= start else { return .whole }
          end = min(value, size - 1)
        }
        if start < size { satisfiable.append(start...end) }
      }
    }
    if satisfiable.isEmpty { return .unsatisfiable }
    if satisfiable.count == 1 { return .partial(satisfiable[0]) }
    return .whole
  }
}

/// The validators of a file and the evaluation of conditional requests
/// (RFC 9110 §13) for GET and HEAD.
public struct FileValidators: Sendable, Equatable {
  public let etag: String
  /// Seconds since the epoch, the resolution of HTTP dates.
  public let lastModified: Int64

  /// A strong entity tag from the inode, size and modification time (with
  /// nanoseconds, so a rewrite within the same second changes it).
  public init(inode: UInt64, size: Int64, modifiedSeconds: Int64, modifiedNanoseconds: Int64) {
    etag =
      "\"\(String(inode, radix: 16))-\(String(size, radix: 16))-\(String(modifiedSeconds, radix: 16)).\(String(modifiedNanoseconds, radix: 16))\""
    lastModified = modifiedSeconds
  }

  public enum Outcome: Equatable, Sendable {
    /// Serve the representation; `honourRange` is false when `If-Range` did not match.
    case proceed(honourRange: Bool)
    case notModified
  }

  /// Evaluates `If-None-Match`, `If-Modified-Since` (ignored when
  /// `If-None-Match` is present) and `If-Range`.
  public func evaluate(ifNoneMatch: String?, ifModifiedSince: String?, ifRange: String?) -> Outcome {
    if let ifNoneMatch {
      if Self.matchesWeakly(ifNoneMatch, etag) { return .notModified }
    } else if let ifModifiedSince, let date = HTTPDate.parse(ifModifiedSince), lastModified <= date {
      return .notModified
    }
    guard let ifRange = ifRange?.trimmingSpaces else { return .proceed(honourRange: true) }
    if ifRange.hasPrefix("\"") || ifRange.hasPrefix("W/") {
      // Strong comparison: a weak tag never matches.
      return .proceed(honourRange: ifRange == etag)
    }
    guard let date = HTTPDate.parse(ifRange) else { return .proceed(honourRange: false) }
    return .proceed(honourRange: date == lastModified)
  }

  /// Whether the `If-None-Match` list contains `*` or a tag equal to `etag`
  /// ignoring the weakness prefix.
  static func matchesWeakly(_ list: String, _ etag: String) -> Bool {
    let target = etag.hasPrefix("W/") ? String(etag.dropFirst(2)) : etag
    for item in list.split(separator: ",") {
      var tag = String(item).trimmingSpaces
      if tag == "*" { return true }
      if tag.hasPrefix("W/") { tag = String(tag.dropFirst(2)) }
      if tag == target { return true }
    }
    return false
  }
}

/// HTTP dates: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), written and read;
/// the obsolete formats are ignored, as RFC 9110 allows for validators.
public enum HTTPDate {
  static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
  static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

  public static func format(_ seconds: Int64) -> String {
    let dayNumber = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
    let secondOfDay = seconds - dayNumber * 86400
    let (year, month, day) = civil(fromDays: dayNumber)
    let weekday = days[Int(((dayNumber % 7) + 7) % 7)]
    func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return
      "\(weekday), \(two(day)) \(months[Int(month) - 1]) \(year) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) GMT"
  }

  public static func parse(_ text: String) -> Int64? {
    let parts = text.trimmingSpaces.split(separator: " ")
    guard parts.count == 6, parts[0].count == 4, parts[0].hasSuffix(","), parts[5] == "GMT",
      let day = Int64.decimal(parts[1]), parts[1].count == 2, let month = months.firstIndex(of: String(parts[2])),
      let year = Int64.decimal(parts[3]), parts[3].count == 4
    else { return nil }
    let time = parts[4].split(separator: ":", omittingEmptySubsequences: false)
    guard time.count == 3, time.allSatisfy({ $0.count == 2 }), let hour = Int64.decimal(time[0]),
      let minute = Int64.decimal(time[1]), let second = Int64.decimal(time[2]), hour < 24, minute < 60, second < 61,
      (1...31).contains(day)
    else { return nil }
    return days(fromCivil: year, Int64(month + 1), day) * 86400 + hour * 3600 + minute * 60 + second
  }

  /// Howard Hinnant's days-from-civil (proleptic Gregorian).
  static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146097 + doe - 719468
  }

  static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
    let z = z0 + 719468
    let era = (z >= 0 ? z : z - 146096) / 146097
    let doe = z - era * 146097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }
}

/// Response header values and page text built from file names.
public enum FileNames {
  /// `attachment` (or `inline`) with an ASCII `filename` fallback and the
  /// exact name in RFC 5987/8187 `filename*`.
  public static func contentDisposition(_ name: String, inline: Bool = false) -> String {
    var fallback = ""
    for scalar in name.unicodeScalars {
      switch scalar.value {
      case 0x20...0x7E where scalar != "\"" && scalar != "\\" && scalar != "%": fallback.unicodeScalars.append(scalar)
      default: fallback += "_"
      }
    }
    return
      "\(inline ? "inline" : "attachment"); filename=\"\(fallback)\"; filename*=UTF-8''\(DropPath.percentEncode(name))"
  }

  /// Escapes `text` as a JSON string literal (with the quotes).
  public static func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      // < and > escaped so that JSON embedded in a page cannot close a script.
      case "<": out += "\\u003c"
      case ">": out += "\\u003e"
      case "&": out += "\\u0026"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029 {
          let hex = String(scalar.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }

  /// The `n`th alternative name for a clash: `name (n).ext`; double
  /// extensions such as `.tar.gz` stay together, a leading dot is part of
  /// the name. The base is shortened so that the result fits in 255 bytes.
  public static func alternative(_ name: String, _ n: Int) -> String {
    var base = name
    var ext = ""
    let lower = name.lowercased()
    for double in [".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst"]
    where lower.hasSuffix(double) && lower.count > double.count {
      base = String(name.dropLast(double.count))
      ext = String(name.suffix(double.count))
      break
    }
    if ext.isEmpty, let dot = name.lastIndex(of: "."), dot != name.startIndex {
      base = String(name[..<dot])
      ext = String(name[dot...])
    }
    let suffix = " (\(n))" + ext
    while base.utf8.count + suffix.utf8.count > DropPath.maxNameBytes, !base.isEmpty { base.removeLast() }
    return base + suffix
  }

  /// The media type for a file name, from its extension;
  /// `application/octet-stream` when unknown.
  public static func mediaType(_ name: String) -> String {
    guard let dot = name.lastIndex(of: ".") else { return "application/octet-stream" }
    let ext = name[name.index(after: dot)...].lowercased()
    return mediaTypes[ext] ?? "application/octet-stream"
  }

  static let mediaTypes: [String: String] = [
    "txt": "text/plain; charset=utf-8", "log": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8", "json": "application/json", "xml": "application/xml",
    // Served as attachments anyway; text/html is never sent for user files.
    "html": "text/plain; charset=utf-8", "htm": "text/plain; charset=utf-8", "svg": "text/plain; charset=utf-8",
    "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip", "tgz": "application/gzip",
    "tar": "application/x-tar", "xz": "application/x-xz", "bz2": "application/x-bzip2",
    "7z": "application/x-7z-compressed",
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
    "heic": "image/heic", "mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav", "flac": "audio/flac",
    "m4a": "audio/mp4", "mp4": "video/mp4", "mkv": "video/x-matroska", "webm": "video/webm", "mov": "video/quicktime",
    "iso": "application/octet-stream", "img": "application/octet-stream",
  ]
}

extension String {
  var trimmingSpaces: String {
    var s = Substring(self)
    while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
    while let last = s.last, last == " " || last == "\t" { s.removeLast() }
    return String(s)
  }
}

extension Int64 {
  /// Parses ASCII decimal digits only (no sign, no spaces), refusing overflow.
  static func decimal<S: StringProtocol>(_ text: S) -> Int64? {
    guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
    return Int64(text)
  }
}
