/// A type that can appear as a configuration value.
public protocol ConfigValueType: Sendable {
  /// How the expected type is named in error messages and in the reference,
  /// e.g. `string`, `duration`.
  static var typeName: String { get }
  /// Decodes `node`, appending a precise issue (with `path` and the node's
  /// line) and returning nil when the value is unusable.
  static func decode(_ node: ConfigNode, path: String, issues: inout [ConfigIssue]) -> Self?
  /// The value as a TOML literal (for `vigie config show` and the reference).
  var tomlLiteral: String { get }
}

/// A table of the configuration, described by a list of fields. The field
/// list drives decoding (unknown keys are errors with a hint), `config show`
/// (with secrets masked) and the reference documentation, so the three can
/// never disagree.
public protocol ConfigSection: ConfigValueType, Equatable, ConfigSectionRenderable {
  /// The defaults: every field has one, so an empty table is valid.
  init()
  static var fields: [ConfigField<Self>] { get }
}

/// One key of a `ConfigSection`.
public struct ConfigField<Root>: Sendable {
  public enum Kind: Sendable {
    case value
    case table
    case arrayOfTables
  }

  public let name: String
  public let typeName: String
  public let doc: String
  /// Masked in `config show` and never logged.
  public let secret: Bool
  public let kind: Kind
  let decodeInto: @Sendable (ConfigNode, String, inout Root, inout [ConfigIssue]) -> Void
  let literal: @Sendable (Root) -> String
  let nested: @Sendable (Root) -> [any ConfigSectionRenderable]
  /// The section type of a `.table` field or the element type of an
  /// `.arrayOfTables` field (nil for plain values): the reference walks it.
  let sectionType: (any ConfigSection.Type)?

  /// A plain value field.
  public init<V: ConfigValueType>(
    _ name: String, _ keyPath: any WritableKeyPath<Root, V> & Sendable, doc: String, secret: Bool = false
  ) {
    self.name = name
    self.typeName = V.typeName
    self.doc = doc
    self.secret = secret
    self.kind = .value
    self.decodeInto = { node, path, root, issues in
      if let value = V.decode(node, path: path, issues: &issues) { root[keyPath: keyPath] = value }
    }
    self.literal = { root in
      let value = root[keyPath: keyPath]
      guard secret else { return value.tomlLiteral }
      return value.tomlLiteral == "\"\"" ? "\"\"" : "\"********\""
    }
    self.nested = { _ in [] }
    self.sectionType = nil
  }

  /// A sub-table, e.g. `[modem]` in the root.
  public init<S: ConfigSection>(_ name: String, table keyPath: any WritableKeyPath<Root, S> & Sendable, doc: String) {
    self.name = name
    self.typeName = "table"
    self.doc = doc
    self.secret = false
    self.kind = .table
    self.decodeInto = { node, path, root, issues in
      if let value = S.decode(node, path: path, issues: &issues) { root[keyPath: keyPath] = value }
    }
    self.literal = { _ in "" }
    self.nested = { root in [root[keyPath: keyPath]] }
    self.sectionType = S.self
  }

  /// An array of tables, e.g. `[[watchdog.target]]`.
  public init<S: ConfigSection>(_ name: String, tables keyPath: any WritableKeyPath<Root, [S]> & Sendable, doc: String)
  {
    self.name = name
    self.typeName = "array of tables"
    self.doc = doc
    self.secret = false
    self.kind = .arrayOfTables
    self.decodeInto = { node, path, root, issues in
      if let value = [S].decode(node, path: path, issues: &issues) { root[keyPath: keyPath] = value }
    }
    self.literal = { root in root[keyPath: keyPath].isEmpty ? "[]" : "" }
    self.nested = { root in root[keyPath: keyPath] }
    self.sectionType = S.self
  }
}

/// Type-erased access to a section for rendering.
public protocol ConfigSectionRenderable: Sendable {
  func renderTOML(path: String, into lines: inout [String])
}

extension ConfigSection {
  public static var typeName: String { "table" }

  public static func decode(_ node: ConfigNode, path: String, issues: inout [ConfigIssue]) -> Self? {
    guard case .table(let entries) = node.value else {
      let what = path.isEmpty ? "the document" : "[\(path)]"
      issues.append(
        ConfigIssue(
          path: path, line: node.line, message: "expected \(what) to be a table, found \(node.typeDescription)"))
      return nil
    }
    var result = Self()
    let fields = Self.fields
    for (key, child) in entries {
      let childPath = path.isEmpty ? key : "\(path).\(key)"
      if let field = fields.first(where: { $0.name == key }) {
        field.decodeInto(child, childPath, &result, &issues)
      } else {
        var message = "unknown key '\(key)'"
        if let hint = Suggest.closest(to: key, in: fields.map(\.name)) {
          message += "; did you mean '\(hint)'?"
        } else {
          let known = fields.map(\.name).joined(separator: ", ")
          message += path.isEmpty ? "; the sections are: \(known)" : "; keys of [\(path)] are: \(known)"
        }
        issues.append(ConfigIssue(path: childPath, line: child.line, message: message))
      }
    }
    return result
  }

  public var tomlLiteral: String {
    let parts = Self.fields.filter { $0.kind == .value }.map { "\($0.name) = \($0.literal(self))" }
    return "{ " + parts.joined(separator: ", ") + " }"
  }
}

extension ConfigSection {
  /// Renders this section and its sub-tables as TOML, secrets masked.
  public func renderTOML(path: String, into lines: inout [String]) {
    let fields = Self.fields
    let values = fields.filter { $0.kind == .value || ($0.kind == .arrayOfTables && $0.literal(self) == "[]") }
    if !path.isEmpty, !values.isEmpty || fields.allSatisfy({ $0.kind == .value }) {
      if !lines.isEmpty { lines.append("") }
      lines.append(path.hasSuffix("[]") ? "[[\(path.dropLast(2))]]" : "[\(path)]")
    }
    for field in values { lines.append("\(field.name) = \(field.literal(self))") }
    for field in fields where field.kind != .value {
      let childPath = path.isEmpty ? field.name : "\(path).\(field.name)"
      for child in field.nested(self) {
        child.renderTOML(path: field.kind == .arrayOfTables ? childPath + "[]" : childPath, into: &lines)
      }
    }
  }
}

// MARK: - Scalar types

extension Bool: ConfigValueType {
  public static var typeName: String { "boolean" }
  public static func decode(_ node: ConfigNode, path: String, issues: inout [ConfigIssue]) -> Bool? {
    if case .bool(let b) = node.value { return b }
    issues.append(.typeMismatch(path: path, node: node, expected: "a boolean (true or false)"))
    return nil
  }
  public var tomlLiteral: String { self ? "true" : "false" }
}

extension Int: ConfigValueType {
  public static var typeName: String { "integer" }
  public static func decode(_ node: ConfigNode, path: String, issues: inout [ConfigIssue]) -> Int? {
    if case .integer(let i) = node.value { return i }
    issues.append(.typeMismatch(path: path, node: node, expected: "an integer"))
    return nil
  }
  public var tomlLiteral: String { String(self) }
}

extension Double: ConfigValueType {
  public static var typeName: String { "number" }
  public static func decode(_ node: ConfigNode, path: String, issues: inout [ConfigIssue]) -> Double? {
    switch node.value {
    case .float(let d) where d.isFinite: return d
    case .integer(let i): return Double(i)
    default:
      issues.append(.typeMismatch(path: path, node: node, expected: "a finite number"))
      return nil
    }
  }
  public var tomlLiteral: String { String(self) }
}

extension String: ConfigValueType {
  public static var typeName: String { "string" }
  public static func decode(_ node: ConfigNode, path: String, issues: inout [ConfigIssue]) -> String? {
    if case .string(let s) = node.value {
      if s.unicodeScalars.contains(where: { $0 == "\0" }) {
        issues.append(ConfigIssue(path: path, line: node.line, message: "a NUL character is not allowed in a string"))
        return nil
      }
      return s
    }
    issues.append(.typeMismatch(path: path, node: node, expected: "a string"))
    return nil
  }
  public var tomlLiteral: String {
    var out = "\""
    for scalar in unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7F {
          let hex = String(scalar.value, radix: 16, uppercase: true)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }
}

extension Array: ConfigValueType where Element: ConfigValueType {
  public static var typeName: String {
    Element.self is any ConfigSection.Type ? "array of tables" : "array of \(Element.typeName)s"
  }
  public static func decode(_ node: ConfigNode, path: String, issues: inout [ConfigIssue]) -> [Element]? {
    guard case .array(let items) = node.value else {
      issues.append(.typeMismatch(path: path, node: node, expected: "an array of \(Element.typeName)s"))
      return nil
    }
    var result: [Element] = []
    var ok = true
    for (index, item) in items.enumerated() {
      if let value = Element.decode(item, path: "\(path)[\(index + 1)]", issues: &issues) {
        result.append(value)
      } else {
        ok = false
      }
    }
    return ok ? result : nil
  }
  public var tomlLiteral: String { "[" + map(\.tomlLiteral).joined(separator: ", ") + "]" }
}

/// A string-valued enumeration in the configuration (`log_level = "info"`).
public protocol ConfigEnum: ConfigValueType, RawRepresentable<String>, CaseIterable {}

extension ConfigEnum {
  public static var typeName: String { "one of " + allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") }
  public static func decode(_ node: ConfigNode, path: String, issues: inout [ConfigIssue]) -> Self? {
    guard case .string(let s) = node.value else {
      issues.append(.typeMismatch(path: path, node: node, expected: typeName))
      return nil
    }
    if let value = Self(rawValue: s) ?? allCases.first(where: { $0.rawValue.lowercased() == s.lowercased() }) {
      return value
    }
    var message = "\"\(ConfigNode.abbreviate(s))\" is not \(typeName)"
    if let hint = Suggest.closest(to: s, in: allCases.map(\.rawValue)) { message += "; did you mean \"\(hint)\"?" }
    issues.append(ConfigIssue(path: path, line: node.line, message: message))
    return nil
  }
  public var tomlLiteral: String { rawValue.tomlLiteral }
}

extension ConfigIssue {
  static func typeMismatch(path: String, node: ConfigNode, expected: String) -> ConfigIssue {
    ConfigIssue(path: path, line: node.line, message: "expected \(expected), found \(node.typeDescription)")
  }
}
