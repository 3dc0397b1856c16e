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
/// The scan works on Unicode scalars, not Swift `Character`s: `"\r\n"` is one
/// `Character`, and so is a quote followed by a combining mark, which would
/// hide line breaks and quotes. A leading byte-order mark is skipped.
///
/// Paths use dots between keys and 1-based indexes for arrays of tables:
/// `watchdog.target[2].host`.
public struct ConfigLocator: Sendable {
  private var lines: [String: Int] = [:]

  /// `\u0000` escapes in basic strings and quoted keys. The TOML library
  /// hands strings over as C strings, cut at the first NUL, so the loader
  /// must refuse them from here: the value it would see is not the one written.
  public private(set) var nulEscapes: [ConfigIssue] = []

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

  private typealias Line = [Unicode.Scalar]

  /// The lines of `source`, split at LF with a CR before it removed.
  private static func lines(of source: String) -> [Line] {
    var result: [Line] = []
    var current: Line = []
    var scalars = source.unicodeScalars[...]
    if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
    for scalar in scalars {
      if scalar == "\n" {
        if current.last == "\r" { current.removeLast() }
        result.append(current)
        current.removeAll(keepingCapacity: true)
      } else {
        current.append(scalar)
      }
    }
    result.append(current)
    return result
  }

  private mutating func scan(_ source: String) {
    var continuation = Continuation.none
    var table = ""  // concrete path of the current table
    var arrayTables: [String: Int] = [:]  // concrete path -> count so far
    var valuePath = ""  // the key whose value is being scanned
    var implicitTables: Set<String> = []  // tables defined only by a header of a sub-table
    for (offset, line) in Self.lines(of: source).enumerated() {
      let lineNumber = offset + 1
      var nul = false
      if case .none = continuation {
        var start = 0
        while start < line.count, line[start] == " " || line[start] == "\t" { start += 1 }
        guard start < line.count, line[start] != "#" else { continue }
        if line[start] == "[" {
          let isArray = start + 1 < line.count && line[start + 1] == "["
          guard let (keys, _) = Self.parseKeys(line, from: start + (isArray ? 2 : 1), terminator: "]") else { continue }
          let paths = Self.resolve(keys, arrayTables: arrayTables, lastIsNew: isArray)
          // `[a.b]` also defines `a`, until a header `[a]` says where it is.
          for path in paths.dropLast() where lines[path] == nil {
            lines[path] = lineNumber
            implicitTables.insert(path)
          }
          table = paths.last!
          if lines[table] == nil || implicitTables.remove(table) != nil { lines[table] = lineNumber }
          if isArray {
            let count = (arrayTables[table] ?? 0) + 1
            arrayTables[table] = count
            table += "[\(count)]"
            lines[table] = lineNumber
          }
          if keys.contains(where: Self.containsNul) { recordNul(table, lineNumber, "key") }
        } else {
          guard let (keys, equals) = Self.parseKeys(line, from: start, terminator: "=") else { continue }
          var path = table
          for key in keys {
            path = path.isEmpty ? key : "\(path).\(key)"
            if lines[path] == nil { lines[path] = lineNumber }
          }
          if keys.contains(where: Self.containsNul) { recordNul(path, lineNumber, "key") }
          valuePath = path
          continuation = Self.scanValue(line, from: equals + 1, state: .none, nul: &nul)
        }
      } else {
        continuation = Self.scanValue(line, from: 0, state: continuation, nul: &nul)
      }
      if nul { recordNul(valuePath, lineNumber, "string") }
    }
  }

  private mutating func recordNul(_ path: String, _ line: Int, _ what: String) {
    let shown = String(
      String.UnicodeScalarView(path.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : $0 }))
    nulEscapes.append(ConfigIssue(path: shown, line: line, message: "a NUL character is not allowed in a \(what)"))
  }

  private static func containsNul(_ key: String) -> Bool { key.unicodeScalars.contains("\0") }

  /// Turns header keys into concrete paths, inserting the current index of
  /// every enclosing array of tables: `[a.b.c]` gives the paths of `a`, `a.b`
  /// and `a.b.c`. `lastIsNew` is set for `[[x]]` headers, whose own index is
  /// assigned by the caller.
  private static func resolve(_ keys: [String], arrayTables: [String: Int], lastIsNew: Bool) -> [String] {
    var paths: [String] = []
    var path = ""
    for (position, key) in keys.enumerated() {
      path = path.isEmpty ? key : "\(path).\(key)"
      let isLast = position == keys.count - 1
      if !(isLast && lastIsNew), let count = arrayTables[path] { path += "[\(count)]" }
      paths.append(path)
    }
    return paths
  }

  /// Parses `key`, `"quoted key"`, `a.b."c"` from `start` up to `terminator`;
  /// returns the keys and the terminator's index.
  private static func parseKeys(_ line: Line, from start: Int, terminator: Unicode.Scalar) -> ([String], Int)? {
    var keys: [String] = []
    var index = start
    func skipSpaces() {
      while index < line.count, line[index] == " " || line[index] == "\t" { index += 1 }
    }
    while true {
      skipSpaces()
      guard index < line.count else { return nil }
      let c = line[index]
      if c == "\"" || c == "'" {
        var key = String.UnicodeScalarView()
        index += 1
        while index < line.count, line[index] != c {
          if c == "\"", line[index] == "\\" {
            index += 1
            guard index < line.count, let (scalar, length) = unescape(line, at: index) else { return nil }
            key.append(scalar)
            index += length
          } else {
            key.append(line[index])
            index += 1
          }
        }
        guard index < line.count else { return nil }
        index += 1
        keys.append(String(key))
      } else {
        let keyStart = index
        while index < line.count, isBareKeyScalar(line[index]) { index += 1 }
        guard keyStart < index else { return nil }
        keys.append(String(String.UnicodeScalarView(line[keyStart..<index])))
      }
      skipSpaces()
      guard index < line.count else { return nil }
      if line[index] == "." {
        index += 1
        continue
      }
      return line[index] == terminator ? (keys, index) : nil
    }
  }

  private static func isBareKeyScalar(_ c: Unicode.Scalar) -> Bool {
    c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "-"
  }

  /// The escape whose letter is at `index` (just after the backslash): the
  /// scalar it stands for and how many scalars it spans.
  private static func unescape(_ line: Line, at index: Int) -> (Unicode.Scalar, Int)? {
    switch line[index] {
    case "b": return ("\u{8}", 1)
    case "t": return ("\t", 1)
    case "n": return ("\n", 1)
    case "f": return ("\u{C}", 1)
    case "r": return ("\r", 1)
    case "\"": return ("\"", 1)
    case "\\": return ("\\", 1)
    case "u", "U":
      let count = line[index] == "u" ? 4 : 8
      guard index + count < line.count else { return nil }
      var value: UInt32 = 0
      for digit in line[(index + 1)...(index + count)] {
        guard let nibble = hexValue(digit) else { return nil }
        value = value << 4 | nibble
      }
      guard let scalar = Unicode.Scalar(value) else { return nil }
      return (scalar, count + 1)
    default:
      return nil
    }
  }

  private static func hexValue(_ c: Unicode.Scalar) -> UInt32? {
    switch c {
    case "0"..."9": c.value - 48
    case "a"..."f": c.value - 87
    case "A"..."F": c.value - 55
    default: nil
    }
  }

  /// Whether the backslash at `index` starts `\u0000` or `\U00000000`.
  private static func isNulEscape(_ line: Line, at index: Int) -> Bool {
    guard index + 1 < line.count, line[index + 1] == "u" || line[index + 1] == "U",
      let (scalar, _) = unescape(line, at: index + 1)
    else { return false }
    return scalar == "\0"
  }

  /// Walks a value (or a continuation line of one) from `start` and says
  /// whether it continues on the next line. Sets `nul` on a NUL escape.
  private static func scanValue(_ chars: Line, from start: Int, state: Continuation, nul: inout Bool) -> Continuation {
    var state = state
    var depth: Int
    switch state {
    case .brackets(let d): depth = d
    default: depth = 0
    }
    /// The length of the run of `quote` at `i`.
    func run(of quote: Unicode.Scalar, at i: Int) -> Int {
      var end = i
      while end < chars.count, chars[end] == quote { end += 1 }
      return end - i
    }
    var i = start
    while i < chars.count {
      switch state {
      case .multilineBasic, .multilineLiteral:
        let quote: Unicode.Scalar = if case .multilineBasic = state { "\"" } else { "'" }
        if quote == "\"", chars[i] == "\\" {
          if isNulEscape(chars, at: i) { nul = true }
          i += 2
          continue
        }
        if chars[i] == quote {
          // Up to two quotes may precede the closing three.
          let quotes = run(of: quote, at: i)
          if quotes >= 3 { state = depth > 0 ? .brackets(depth) : .none }
          i += min(quotes, 5)
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
        if run(of: c, at: i) >= 3 {
          state = c == "\"" ? .multilineBasic : .multilineLiteral
          i += 3
          continue
        }
        // single-line string: skip to its end
        i += 1
        while i < chars.count, chars[i] != c {
          if c == "\"", chars[i] == "\\" {
            if isNulEscape(chars, at: i) { nul = true }
            i += 1
          }
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
