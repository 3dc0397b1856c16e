/// A parsed configuration document, independent of the TOML library that
/// produced it: VigieRuntime converts TOMLKit's tables into this tree and
/// attaches the line each key was written on (see `ConfigLocator`).
public struct ConfigNode: Sendable, Equatable {
  public indirect enum Value: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)
    /// TOML dates, times and date-times, kept as their text.
    case datetime(String)
    case array([ConfigNode])
    case table([(key: String, node: ConfigNode)])

    public static func == (lhs: Value, rhs: Value) -> Bool {
      switch (lhs, rhs) {
      case (.string(let a), .string(let b)): a == b
      case (.integer(let a), .integer(let b)): a == b
      case (.float(let a), .float(let b)): a == b || (a.isNaN && b.isNaN)
      case (.bool(let a), .bool(let b)): a == b
      case (.datetime(let a), .datetime(let b)): a == b
      case (.array(let a), .array(let b)): a == b
      case (.table(let a), .table(let b)):
        a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.node == $1.node }
      default: false
      }
    }
  }

  public var value: Value
  /// The 1-based line where this value's key is written, when known.
  public var line: Int?

  public init(_ value: Value, line: Int? = nil) {
    self.value = value
    self.line = line
  }

  /// An empty table: what an empty configuration file parses to.
  public static let emptyTable = ConfigNode(.table([]))

  /// A human name of the value's type, for error messages.
  public var typeDescription: String {
    switch value {
    case .string(let s): "string \"\(ConfigNode.abbreviate(s))\""
    case .integer(let i): "integer \(i)"
    case .float(let d): "float \(d)"
    case .bool(let b): "boolean \(b)"
    case .datetime(let d): "date-time \(d)"
    case .array: "array"
    case .table: "table"
    }
  }

  static func abbreviate(_ s: String) -> String {
    let printable = s.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : String($0) }.joined()
    return printable.count > 40 ? String(printable.prefix(37)) + "..." : printable
  }
}

/// One problem found in a configuration: where, and what is wrong.
public struct ConfigIssue: Sendable, Hashable, CustomStringConvertible {
  public enum Severity: String, Sendable, Hashable {
    case error
    case warning
  }

  /// The dotted key path, e.g. `watchdog.target[2].interval` (indexes are 1-based).
  public var path: String
  /// 1-based line in the file, when known.
  public var line: Int?
  public var message: String
  public var severity: Severity

  public init(path: String, line: Int?, message: String, severity: Severity = .error) {
    self.path = path
    self.line = line
    self.message = message
    self.severity = severity
  }

  public var description: String {
    var text = line.map { "line \($0): " } ?? ""
    if !path.isEmpty { text += "\(path): " }
    text += message
    return severity == .warning ? "warning: " + text : text
  }
}

/// The configuration could not be used: every problem found, not just the first.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
  /// The file the problems are in, when the configuration came from a file.
  public var file: String?
  public var issues: [ConfigIssue]

  public init(file: String?, issues: [ConfigIssue]) {
    self.file = file
    self.issues = issues
  }

  public var description: String {
    let errors = issues.filter { $0.severity == .error }
    let count = errors.count == 1 ? "1 problem" : "\(errors.count) problems"
    var text = "invalid configuration\(file.map { " \($0)" } ?? ""): \(count)"
    for issue in issues { text += "\n  " + issue.description }
    return text
  }
}
