/// The key reference of `docs/configuration.md`, generated from the field
/// tables so that the documentation cannot drift from the decoder.
extension VigieConfig {
  /// The reference of every section and key, as Markdown: for each section a
  /// `## [section]` heading, its description and a table of its keys (type,
  /// default, description); arrays of tables such as `[[watchdog.target]]`
  /// follow their section under a `### [[section.key]]` heading with a table
  /// of their own keys. Secrets show an empty default. The text ends with a
  /// single newline and has no trailing blank line.
  public static func referenceMarkdown() -> String {
    var lines: [String] = []
    for field in fields {
      guard let section = field.sectionType else { continue }
      appendReference(
        of: section, path: field.name, doc: field.doc, arrayOfTables: field.kind == .arrayOfTables,
        level: 2,
        into: &lines)
    }
    return lines.joined(separator: "\n") + "\n"
  }

  private static func appendReference<S: ConfigSection>(
    of section: S.Type, path: String, doc: String, arrayOfTables: Bool, level: Int,
    into lines: inout [String]
  ) {
    if !lines.isEmpty { lines.append("") }
    lines.append(
      String(repeating: "#", count: level) + (arrayOfTables ? " [[\(path)]]" : " [\(path)]"))
    lines.append("")
    lines.append(doc)
    lines.append("")
    lines.append("| key | type | default | description |")
    lines.append("| --- | --- | --- | --- |")
    let defaults = S()
    for field in S.fields {
      let defaultValue: String
      var description = field.doc
      switch field.kind {
      case .value:
        defaultValue = codeSpan(field.secret ? "\"\"" : field.literal(defaults))
      case .arrayOfTables:
        let literal = field.literal(defaults)
        defaultValue = literal.isEmpty ? "" : codeSpan(literal)
        description += " See `[[\(path).\(field.name)]]` below."
      case .table:
        defaultValue = ""
        description += " See `[\(path).\(field.name)]` below."
      }
      let cells = [codeSpan(field.name), field.typeName, defaultValue, description].map(tableCell)
      lines.append("| " + cells.joined(separator: " | ") + " |")
    }
    for field in S.fields {
      guard let nested = field.sectionType else { continue }
      appendReference(
        of: nested, path: "\(path).\(field.name)", doc: field.doc,
        arrayOfTables: field.kind == .arrayOfTables,
        level: level + 1, into: &lines)
    }
  }

  /// `text` as a Markdown code span, with enough backticks around it.
  private static func codeSpan(_ text: String) -> String {
    var fence = "`"
    while text.contains(fence) { fence += "`" }
    let padding = text.hasPrefix("`") || text.hasSuffix("`") ? " " : ""
    return fence + padding + text + padding + fence
  }

  /// `text` made safe for one cell of a Markdown table.
  private static func tableCell(_ text: String) -> String {
    var out = ""
    for character in text {
      switch character {
      case "|": out += "\\|"
      case "\n", "\r", "\r\n": out += " "
      default: out.append(character)
      }
    }
    return out
  }
}
