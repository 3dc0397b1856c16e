/// Finds the line on which each key of a TOML document is written.
///
/// TOML libraries give values but not their positions; error messages must
/// name the line. This is a lexical scan, not a second parser: it recognises
/// table headers (`[a.b]`, `[[a.b]]`), keys (bare, quoted, dotted) and skips
/// over values, including multi-line strings and arrays spanning lines. The
/// document has already been parsed successfully when this runs, so it never
/// has to report errors; on anything surprising it simply records nothing and
/// lookups fall back to the enclosing table's line.
///
/// Paths use dots between keys and 1-based indexes for arrays of tables:
/// `watchdog.target[2].host`.
public struct ConfigLocator: Sendable {
  private var lines: [String: Int] = [:]

  public init(source: String) {
    scan(source)
  }

  /// The line of `path`, or of its nearest enclosing table or key.
  public func line(for path: String) -> Int? {
    var path = path
    while !path.isEmpty {
      if let line = lines[path] { return line }
      guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
      path = String(path[..<cut])
    }
    return nil
  }

  /// Attaches line numbers to every node of `root` that was written in the source.
  public func annotate(_ root: ConfigNode) -> ConfigNode {
    annotate(root, path: "")
  }

  private func annotate(_ node: ConfigNode, path: String) -> ConfigNode {
    var node = node
    if !path.isEmpty { node.line = line(for: path) }
    switch node.value {
    case .table(let entries):
      node.value = .table(
        entries.map { entry in
          (entry.key, annotate(entry.node, path: path.isEmpty ? entry.key : "\(path).\(entry.key)"))
        })
    case .array(let items):
      node.value = .array(
        items.enumerated().map { index, item in
          var child = annotate(item, path: "\(path)[\(index + 1)]")
          if child.line == nil { child.line = node.line }
          return child
        })
    default:
      break
    }
    return node
  }

  // MARK: Scanning

  private enum Continuation {
    case none
    case multilineBasic
    case multilineLiteral
    case brackets(Int)
  }

  private mutating func scan(_ source: String) {
    var continuation = Continuation.none
    var table = ""  // concrete path of the current table
    var arrayTables: [String: Int] = [:]  // concrete path -> count so far
    var lineNumber = 0
    for rawLine in source.split(separator: "\n", omittingEmptySubsequences: false) {
      lineNumber += 1
      let line = Substring(rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine)
      if case .none = continuation {
        let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
        if trimmed.hasPrefix("[[") {
          guard let keys = Self.parseKeys(trimmed.dropFirst(2), terminator: "]") else { continue }
          let abstract = Self.resolve(keys, arrayTables: arrayTables, lastIsNew: true)
          let count = (arrayTables[abstract] ?? 0) + 1
          arrayTables[abstract] = count
          table = "\(abstract)[\(count)]"
          lines[table] = lineNumber
          if lines[abstract] == nil { lines[abstract] = lineNumber }
        } else if trimmed.hasPrefix("[") {
          guard let keys = Self.parseKeys(trimmed.dropFirst(), terminator: "]") else { continue }
          table = Self.resolve(keys, arrayTables: arrayTables, lastIsNew: false)
          if lines[table] == nil { lines[table] = lineNumber }
        } else if !trimmed.isEmpty, !trimmed.hasPrefix("#") {
          guard let keys = Self.parseKeys(trimmed, terminator: "="),
            let equals = Self.indexAfterKey(trimmed)
          else { continue }
          var path = table
          for key in keys {
            path = path.isEmpty ? key : "\(path).\(key)"
            if lines[path] == nil { lines[path] = lineNumber }
          }
          continuation = Self.scanValue(trimmed[equals...], from: .none)
        }
      } else {
        continuation = Self.scanValue(line, from: continuation)
      }
    }
  }

  /// Turns header keys into a concrete path, inserting the current index of
  /// every enclosing array of tables. `lastIsNew` is set for `[[x]]` headers,
  /// whose own index is assigned by the caller.
  private static func resolve(_ keys: [String], arrayTables: [String: Int], lastIsNew: Bool) -> String {
    var path = ""
    for (position, key) in keys.enumerated() {
      path = path.isEmpty ? key : "\(path).\(key)"
      let isLast = position == keys.count - 1
      if !(isLast && lastIsNew), let count = arrayTables[path] { path += "[\(count)]" }
    }
    return path
  }

  /// Parses `key`, `"quoted key"`, `a.b."c"` up to `terminator`.
  private static func parseKeys(_ text: Substring, terminator: Character) -> [String]? {
    var keys: [String] = []
    var index = text.startIndex
    func skipSpaces() {
      while index < text.endIndex, text[index] == " " || text[index] == "\t" { index = text.index(after: index) }
    }
    while true {
      skipSpaces()
      guard index < text.endIndex else { return nil }
      let c = text[index]
      if c == "\"" || c == "'" {
        var key = ""
        index = text.index(after: index)
        while index < text.endIndex, text[index] != c {
          if c == "\"", text[index] == "\\" {
            index = text.index(after: index)
            guard index < text.endIndex else { return nil }
            switch text[index] {
            case "n": key.append("\n")
            case "t": key.append("\t")
            case "\"": key.append("\"")
            case "\\": key.append("\\")
            default: key.append(text[index])  // \uXXXX in keys is rare; best effort
            }
          } else {
            key.append(text[index])
          }
          index = text.index(after: index)
        }
        guard index < text.endIndex else { return nil }
        index = text.index(after: index)
        keys.append(key)
      } else {
        let start = index
        while index < text.endIndex, text[index].isLetter || text[index].isNumber || text[index] == "_" || text[index] == "-" {
          index = text.index(after: index)
        }
        guard start < index else { return nil }
        keys.append(String(text[start..<index]))
      }
      skipSpaces()
      guard index < text.endIndex else { return nil }
      if text[index] == "." {
        index = text.index(after: index)
        continue
      }
      return text[index] == terminator ? keys : nil
    }
  }

  /// The index just after the `=` that follows a key.
  private static func indexAfterKey(_ text: Substring) -> Substring.Index? {
    var quote: Character?
    var index = text.startIndex
    while index < text.endIndex {
      let c = text[index]
      if let q = quote {
        if c == "\\", q == "\"" {
          index = text.index(after: index)
        } else if c == q {
          quote = nil
        }
      } else if c == "\"" || c == "'" {
        quote = c
      } else if c == "=" {
        return text.index(after: index)
      }
      if index < text.endIndex { index = text.index(after: index) }
    }
    return nil
  }

  /// Walks a value (or a continuation line of one) and says whether it
  /// continues on the next line.
  private static func scanValue(_ text: Substring, from state: Continuation) -> Continuation {
    var state = state
    var depth: Int
    switch state {
    case .brackets(let d): depth = d
    default: depth = 0
    }
    let chars = Array(text)
    var i = 0
    while i < chars.count {
      switch state {
      case .multilineBasic:
        if chars[i] == "\\" {
          i += 2
          continue
        }
        if chars[i] == "\"", i + 2 < chars.count, chars[i + 1] == "\"", chars[i + 2] == "\"" {
          state = depth > 0 ? .brackets(depth) : .none
          i += 3
          continue
        }
        i += 1
        continue
      case .multilineLiteral:
        if chars[i] == "'", i + 2 < chars.count, chars[i + 1] == "'", chars[i + 2] == "'" {
          state = depth > 0 ? .brackets(depth) : .none
          i += 3
          continue
        }
        i += 1
        continue
      case .none, .brackets:
        break
      }
      let c = chars[i]
      if c == "#" { break }
      if c == "\"" || c == "'" {
        if i + 2 < chars.count, chars[i + 1] == c, chars[i + 2] == c {
          state = c == "\"" ? .multilineBasic : .multilineLiteral
          i += 3
          continue
        }
        // single-line string: skip to its end
        i += 1
        while i < chars.count, chars[i] != c {
          if c == "\"", chars[i] == "\\" { i += 1 }
          i += 1
        }
        i += 1
        continue
      }
      if c == "[" || c == "{" { depth += 1 }
      if c == "]" || c == "}" { depth = max(0, depth - 1) }
      state = depth > 0 ? .brackets(depth) : .none
      i += 1
    }
    switch state {
    case .multilineBasic, .multilineLiteral: return state
    default: return depth > 0 ? .brackets(depth) : .none
    }
  }
}
