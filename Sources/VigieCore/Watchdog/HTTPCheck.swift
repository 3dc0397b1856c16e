/// What an `http:URL` probe expects, and how it judges what came back. The
/// transfer itself is libcurl's (VigieWatchdog); this is the pure part.
public struct HTTPCheck: Sendable, Hashable {
  /// Accepted status codes, as inclusive ranges.
  public var statuses: [ClosedRange<Int>]
  /// Text the body must contain; empty for none.
  public var bodyContains: String
  /// A certificate expiring in fewer days is a failure; 0 for no check.
  public var minimumCertificateDays: Int

  public init(statuses: [ClosedRange<Int>] = [200...399], bodyContains: String = "", minimumCertificateDays: Int = 0) {
    self.statuses = statuses
    self.bodyContains = bodyContains
    self.minimumCertificateDays = minimumCertificateDays
  }

  /// Parses `200`, `200-299`, `200,204,300-399` (spaces allowed around
  /// items). Each code within 100...599.
  public static func parseStatuses(_ text: String) -> Result<[ClosedRange<Int>], StatusParseError> {
    var ranges: [ClosedRange<Int>] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
      let trimmed = item.trimmingSpaces
      let bounds = trimmed.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
      guard (1...2).contains(bounds.count), let low = Int(bounds[0]), let high = Int(bounds.last!),
        (100...599).contains(low), (100...599).contains(high)
      else {
        return .failure(
          StatusParseError(
            "\"\(trimmed)\" is not an HTTP status or range (e.g. 200, 200-299, 200,301); codes are 100 to 599"))
      }
      guard low <= high else { return .failure(StatusParseError("\"\(trimmed)\": \(low) is above \(high)")) }
      ranges.append(low...high)
    }
    return .success(ranges)
  }

  public struct StatusParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
  }

  /// What came back from one request.
  public struct Response: Sendable, Hashable {
    public var status: Int
    /// The body, or its first part (the probe reads a bounded amount).
    public var body: [UInt8]
    /// Seconds from now to the leaf certificate's end of validity (HTTPS
    /// only; negative once expired).
    public var certificateSecondsLeft: Int64?

    public init(status: Int, body: [UInt8], certificateSecondsLeft: Int64? = nil) {
      self.status = status
      self.body = body
      self.certificateSecondsLeft = certificateSecondsLeft
    }
  }

  /// nil when `response` is what the check expects, else why not.
  public func problem(_ response: Response) -> String? {
    guard statuses.contains(where: { $0.contains(response.status) }) else {
      let expected = statuses.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
      return "HTTP status \(response.status), expected \(expected.joined(separator: ","))"
    }
    if !bodyContains.isEmpty && !Self.contains(response.body, Array(bodyContains.utf8)) {
      return "the body does not contain \"\(bodyContains)\""
    }
    if minimumCertificateDays > 0, let left = response.certificateSecondsLeft {
      if left <= 0 { return "the TLS certificate has expired" }
      let days = left / 86400
      if left < Int64(minimumCertificateDays) * 86400 {
        return "the TLS certificate expires in \(days) days (less than \(minimumCertificateDays))"
      }
    }
    return nil
  }

  static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty else { return true }
    guard haystack.count >= needle.count else { return false }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
      if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
    }
    return false
  }

  /// Parses OpenSSL's certificate date as libcurl's CURLINFO_CERTINFO gives
  /// it (`Expire date:Nov 27 10:41:37 2026 GMT`, the day padded with a
  /// space) into seconds since 1970. nil for anything else.
  public static func parseCertificateDate(_ text: String) -> Int64? {
    let parts = text.split(separator: " ", omittingEmptySubsequences: true)
    guard parts.count == 5, parts[4] == "GMT" else { return nil }
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    guard let monthIndex = months.firstIndex(of: String(parts[0])), let day = Int(parts[1]), (1...31).contains(day),
      let year = Int(parts[3]), (1970...9999).contains(year)
    else { return nil }
    let clock = parts[2].split(separator: ":", omittingEmptySubsequences: false).compactMap { Int($0) }
    guard clock.count == 3, (0...23).contains(clock[0]), (0...59).contains(clock[1]), (0...60).contains(clock[2])
    else { return nil }
    return daysSinceEpoch(year: year, month: monthIndex + 1, day: day) * 86400 + Int64(clock[0] * 3600)
      + Int64(clock[1] * 60) + Int64(clock[2])
  }

  /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
  /// days_from_civil).
  static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int64 {
    let y = Int64(month <= 2 ? year - 1 : year)
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let m = Int64(month)
    let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146097 + dayOfEra - 719468
  }
}

extension Substring {
  fileprivate var trimmingSpaces: Substring {
    var text = self
    while text.first == " " { text = text.dropFirst() }
    while text.last == " " { text = text.dropLast() }
    return text
  }
}
