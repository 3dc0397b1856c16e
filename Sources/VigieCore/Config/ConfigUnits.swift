/// Durations in the configuration: `"500ms"`, `"30s"`, `"5m"`, `"2h"`, `"1d"`,
/// combinations such as `"1h30m"`, or an integer number of seconds.
extension Duration: ConfigValueType {
  public static var typeName: String { "duration" }

  public static func decode(_ node: ConfigNode, path: String, issues: inout [ConfigIssue]) -> Duration? {
    switch node.value {
    case .integer(let seconds) where seconds >= 0:
      guard seconds <= Int64.max / 1000 else {
        issues.append(ConfigIssue(path: path, line: node.line, message: "\(seconds) seconds is too long a duration"))
        return nil
      }
      return .seconds(seconds)
    case .string(let text):
      if let duration = Duration(configText: text) { return duration }
      issues.append(
        ConfigIssue(
          path: path, line: node.line,
          message:
            "\"\(ConfigNode.abbreviate(text))\" is not a duration; write e.g. \"500ms\", \"30s\", \"5m\", \"2h\", \"1d\" or \"1h30m\""
        ))
      return nil
    default:
      issues.append(
        .typeMismatch(
          path: path, node: node, expected: "a duration such as \"30s\" or a non-negative integer number of seconds"))
      return nil
    }
  }

  /// Parses the text form; nil when it is not a valid, non-negative duration
  /// or when it does not fit in 64-bit milliseconds.
  public init?(configText text: String) {
    let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
    var milliseconds: Int64 = 0
    var rest = Substring(text.trimmingSpaces)
    guard !rest.isEmpty else { return nil }
    while !rest.isEmpty {
      let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
      guard !digits.isEmpty, let number = Int64(digits) else { return nil }
      rest = rest.dropFirst(digits.count)
      let unitText = rest.prefix(while: { $0.isLetter })
      guard let unit = units.first(where: { $0.0 == unitText.lowercased() }) else { return nil }
      rest = rest.dropFirst(unitText.count)
      let (product, overflow) = number.multipliedReportingOverflow(by: unit.1)
      guard !overflow else { return nil }
      let (sum, sumOverflow) = milliseconds.addingReportingOverflow(product)
      guard !sumOverflow else { return nil }
      milliseconds = sum
    }
    self = .milliseconds(milliseconds)
  }

  /// The compact text form, e.g. `1h30m`, `500ms`, `0s` (whole milliseconds).
  public var configText: String {
    // Exact integer arithmetic: a Double loses milliseconds beyond 2^53.
    let (wholeSeconds, attoseconds) = components
    var ms = Int128(wholeSeconds) * 1000 + Int128(attoseconds / 1_000_000_000_000_000)
    if ms == 0 { return "0s" }
    var out = ""
    if ms < 0 {
      out = "-"
      ms = -ms
    }
    for (unit, size) in [("d", Int128(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
      if ms >= size {
        out += "\(ms / size)\(unit)"
        ms %= size
      }
    }
    return out
  }

  public var tomlLiteral: String { configText.tomlLiteral }
}

/// A size in bytes: `"512K"`, `"10M"`, `"1.5G"`, `"2GiB"`, `"100MB"` (all
/// binary: K = 1024), or an integer number of bytes.
public struct ByteSize: ConfigValueType, Hashable, Comparable, CustomStringConvertible {
  public var bytes: Int64

  public init(bytes: Int64) { self.bytes = bytes }
  public static func kib(_ n: Int64) -> ByteSize { ByteSize(bytes: n << 10) }
  public static func mib(_ n: Int64) -> ByteSize { ByteSize(bytes: n << 20) }
  public static func gib(_ n: Int64) -> ByteSize { ByteSize(bytes: n << 30) }

  public static var typeName: String { "size" }

  public static func decode(_ node: ConfigNode, path: String, issues: inout [ConfigIssue]) -> ByteSize? {
    switch node.value {
    case .integer(let n) where n >= 0:
      return ByteSize(bytes: Int64(n))
    case .string(let text):
      if let size = ByteSize(text: text) { return size }
      issues.append(
        ConfigIssue(
          path: path, line: node.line,
          message: "\"\(ConfigNode.abbreviate(text))\" is not a size; write e.g. \"512K\", \"10M\", \"1.5G\""))
      return nil
    default:
      issues.append(.typeMismatch(path: path, node: node, expected: "a size such as \"10M\" or an integer of bytes"))
      return nil
    }
  }

  public init?(text: String) {
    let trimmed = text.trimmingSpaces
    let number = trimmed.prefix(while: { ($0.isASCII && $0.isNumber) || $0 == "." })
    var unit = trimmed.dropFirst(number.count).trimmingSpaces.uppercased()
    if unit.hasSuffix("IB") { unit.removeLast(2) } else if unit.hasSuffix("B") { unit.removeLast() }
    let shifts: [String: Int64] = ["": 0, "K": 10, "M": 20, "G": 30, "T": 40]
    guard let shift = shifts[unit], let value = Double(number), value >= 0 else { return nil }
    let bytes = value * Double(Int64(1) << shift)
    guard bytes < 9.2e18 else { return nil }
    self.bytes = Int64(bytes)
  }

  public var description: String {
    for (unit, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] where bytes >= Int64(1) << shift {
      let size = Int64(1) << shift
      return bytes % size == 0 ? "\(bytes / size)\(unit)" : "\(Double(bytes) / Double(size))\(unit)"
    }
    return "\(bytes)"
  }

  /// `"1.5G"` when that text reads back exactly, else the number of bytes.
  public var tomlLiteral: String {
    bytes < 1024 || ByteSize(text: description) != self ? String(bytes) : description.tomlLiteral
  }

  public static func < (a: ByteSize, b: ByteSize) -> Bool { a.bytes < b.bytes }
}

extension StringProtocol {
  /// The string without leading and trailing spaces and tabs.
  var trimmingSpaces: String {
    let scalars = unicodeScalars
    guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
      let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })
    else { return "" }
    return String(String.UnicodeScalarView(scalars[first...last]))
  }
}
