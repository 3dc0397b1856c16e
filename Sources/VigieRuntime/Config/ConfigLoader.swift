import Foundation
import TOMLKit
import VigieCore

/// A configuration read from disk, with the warnings found while reading it.
public struct LoadedConfig: Sendable {
  public var config: VigieConfig
  /// The file it came from; nil when no file exists and defaults are used.
  public var file: String?
  public var warnings: [ConfigIssue]
}

/// Reads `vigie.toml`: TOML syntax (TOMLKit), strict decoding, validation and
/// secret-file checks, with every problem reported at once.
public enum ConfigLoader {
  /// Where the appliance keeps its configuration.
  public static let defaultPath = "/etc/vigie/vigie.toml"

  /// Loads `path`, or the default path when nil. A missing default file gives
  /// the defaults; a missing explicit file is an error.
  public static func load(path: String?) throws(ConfigError) -> LoadedConfig {
    let file = path ?? defaultPath
    guard FileManager.default.fileExists(atPath: file) else {
      if path == nil { return LoadedConfig(config: VigieConfig(), file: nil, warnings: []) }
      throw ConfigError(file: file, issues: [ConfigIssue(path: "", line: nil, message: "no such file")])
    }
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: file))
    } catch {
      throw ConfigError(
        file: file, issues: [ConfigIssue(path: "", line: nil, message: "cannot read: \(error.localizedDescription)")])
    }
    guard let text = String(data: data, encoding: .utf8) else {
      let (line, column) = firstInvalidUTF8(in: data)
      throw ConfigError(
        file: file,
        issues: [
          ConfigIssue(path: "", line: line, message: "not UTF-8 text at column \(column); save the file as UTF-8")
        ])
    }
    var loaded = try parse(text, file: file)
    loaded.warnings += checkSecretFiles(loaded.config, configFile: file, lineOf: ConfigLocator(source: text).line(for:))
    if loaded.warnings.contains(where: { $0.severity == .error }) {
      throw ConfigError(file: file, issues: loaded.warnings.sorted(by: issueOrder))
    }
    return loaded
  }

  /// Parses, decodes and validates a configuration text (no file checks).
  public static func parse(_ text: String, file: String? = nil) throws(ConfigError) -> LoadedConfig {
    // TOMLKit hands the text to toml++ as a C string, which would end at a
    // NUL byte and silently drop the rest of the file.
    if let (line, column) = position(of: "\0", in: text) {
      throw ConfigError(
        file: file,
        issues: [
          ConfigIssue(
            path: "", line: line,
            message: "TOML syntax error at column \(column): a NUL byte is not allowed in a configuration file")
        ])
    }
    let table: TOMLTable
    do {
      table = try TOMLTable(string: text)
    } catch let error as TOMLParseError {
      throw ConfigError(
        file: file,
        issues: [
          ConfigIssue(
            path: "", line: error.source.begin.line,
            message: "TOML syntax error at column \(error.source.begin.column): \(error.description)")
        ])
    } catch {
      throw ConfigError(file: file, issues: [ConfigIssue(path: "", line: nil, message: "TOML syntax error: \(error)")])
    }
    let locator = ConfigLocator(source: text)
    // TOMLKit also cuts strings at a NUL, so `"a\u0000b"` would read as "a".
    guard locator.nulEscapes.isEmpty else { throw ConfigError(file: file, issues: locator.nulEscapes) }
    let root = locator.annotate(node(from: table))
    var issues: [ConfigIssue] = []
    let decoded = VigieConfig.decode(root, path: "", issues: &issues)
    if let decoded { issues += decoded.validate(lineOf: locator.line(for:)) }
    guard let config = decoded, !issues.contains(where: { $0.severity == .error }) else {
      throw ConfigError(file: file, issues: issues.sorted(by: issueOrder))
    }
    return LoadedConfig(config: config, file: file, warnings: issues)
  }

  /// The 1-based line and column of the first `scalar` in `text`.
  static func position(of scalar: Unicode.Scalar, in text: String) -> (line: Int, column: Int)? {
    guard text.unicodeScalars.contains(scalar) else { return nil }
    var line = 1
    var column = 1
    for character in text.unicodeScalars {
      if character == scalar { return (line, column) }
      if character == "\n" {
        line += 1
        column = 1
      } else {
        column += 1
      }
    }
    return nil
  }

  /// The 1-based line and column of the first byte of `data` that is not UTF-8.
  static func firstInvalidUTF8(in data: Data) -> (line: Int, column: Int) {
    var line = 1
    var column = 1
    var bytes = data.makeIterator()
    var decoder = UTF8()
    while case .scalarValue(let scalar) = decoder.decode(&bytes) {
      if scalar == "\n" {
        line += 1
        column = 1
      } else {
        column += 1
      }
    }
    return (line, column)
  }

  static func issueOrder(_ a: ConfigIssue, _ b: ConfigIssue) -> Bool {
    (a.line ?? Int.max, a.path) < (b.line ?? Int.max, b.path)
  }

  /// Converts TOMLKit's tree into the library-independent `ConfigNode`.
  static func node(from value: any TOMLValueConvertible) -> ConfigNode {
    switch value.type {
    case .bool: return ConfigNode(.bool(value.bool ?? false))
    case .int: return ConfigNode(.integer(value.int ?? 0))
    case .double: return ConfigNode(.float(value.double ?? .nan))
    case .string: return ConfigNode(.string(value.string ?? ""))
    case .table:
      guard let table = value.table else { return .emptyTable }
      return ConfigNode(.table(table.map { key, child in (key, node(from: child)) }))
    case .array:
      guard let array = value.array else { return ConfigNode(.array([])) }
      return ConfigNode(.array(array.map { node(from: $0) }))
    case .date, .time, .dateTime:
      return ConfigNode(.datetime(value.debugDescription))
    }
  }

  // MARK: Secrets

  /// Secret files of enabled sections must exist and be private. Inline
  /// secrets in a file others can read are worth a warning.
  static func checkSecretFiles(_ config: VigieConfig, configFile: String, lineOf: (String) -> Int?) -> [ConfigIssue] {
    var issues: [ConfigIssue] = []
    let secrets: [(enabled: Bool, key: String, file: String, inline: String)] = [
      (config.modem.enabled, "modem.pin", config.modem.pinFile, config.modem.pin),
      (config.irc.enabled, "irc.password", config.irc.passwordFile, config.irc.password),
      (config.xmpp.enabled, "xmpp.password", config.xmpp.passwordFile, config.xmpp.password),
      (config.drive.enabled, "drive.client_secret", config.drive.clientSecretFile, config.drive.clientSecret),
      (config.sms.enabled, "sms.totp_secret", config.sms.totpSecretFile, ""),
      (config.sms.enabled, "sms.passphrase", config.sms.passphraseFile, ""),
      (config.status.enabled, "status.admin_password", config.status.adminPasswordFile, ""),
    ]
    var inlineSecrets: [String] = []
    for secret in secrets {
      if !secret.inline.isEmpty { inlineSecrets.append(secret.key) }
      guard secret.enabled, !secret.file.isEmpty else { continue }
      let path = secret.key + "_file"
      if let problem = SecretFile.problem(at: secret.file) {
        issues.append(ConfigIssue(path: path, line: lineOf(path), message: problem))
      }
    }
    if !inlineSecrets.isEmpty, let mode = SecretFile.mode(of: configFile), mode & 0o077 != 0 {
      for key in inlineSecrets {
        issues.append(
          ConfigIssue(
            path: key, line: lineOf(key),
            message:
              "a secret written in \(configFile), which other users can read (mode \(String(mode, radix: 8))); move it to '\(key)_file' with mode 0600",
            severity: .warning))
      }
    }
    return issues
  }
}

/// Files holding secrets: they must be regular files readable by their owner only.
public enum SecretFile {
  static func mode(of path: String) -> mode_t? {
    var info = stat()
    return stat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
  }

  /// What is wrong with the secret file at `path`, or nil if it is usable.
  public static func problem(at path: String) -> String? {
    var info = stat()
    guard stat(path, &info) == 0 else {
      let reason = String(cString: strerror(errno))
      return "cannot use secret file \(path): \(reason)"
    }
    guard info.st_mode & S_IFMT == S_IFREG else { return "secret file \(path) is not a regular file" }
    let mode = info.st_mode & 0o7777
    if mode & 0o077 != 0 {
      return
        "secret file \(path) is readable by group or others (mode \(String(mode, radix: 8))); run: chmod 600 \(path)"
    }
    guard access(path, R_OK) == 0 else { return "secret file \(path) is not readable by this user" }
    return nil
  }

  /// Reads a secret, refusing files others can read. Trailing newlines are removed.
  public static func read(_ path: String) throws -> String {
    if let problem = problem(at: path) { throw SupervisorError(.startup, problem) }
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return String(text.reversed().drop(while: { $0 == "\n" || $0 == "\r" }).reversed())
  }
}
