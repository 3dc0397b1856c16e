import Foundation
import Logging
import Synchronization

/// Writes one line per log event to stderr.
///
/// Under systemd (stderr connected to the journal, see `JOURNAL_STREAM`) each
/// line starts with a syslog priority prefix `<3>`…`<7>` so journald files it
/// at the right level, and timestamps are left to the journal. Otherwise the
/// line starts with an ISO 8601 timestamp and the level. Control characters
/// in messages and metadata are escaped: a log line can never be forged by
/// a file name or an SMS text.
public struct VigieLogHandler: LogHandler {
  public enum Style: Sendable {
    case journald
    case plain
  }

  public var metadata: Logger.Metadata = [:]
  public var logLevel: Logger.Level
  private let label: String
  private let style: Style
  private let sink: @Sendable (String) -> Void

  public init(label: String, level: Logger.Level, style: Style, sink: @escaping @Sendable (String) -> Void) {
    self.label = label
    self.logLevel = level
    self.style = style
    self.sink = sink
  }

  /// A handler writing to stderr, styled for the journal when stderr is it.
  public static func standardError(label: String, level: Logger.Level) -> VigieLogHandler {
    VigieLogHandler(label: label, level: level, style: isJournal() ? .journald : .plain) { line in
      StandardError.write(line)
    }
  }

  /// Whether stderr is the systemd journal: `JOURNAL_STREAM` holds the device
  /// and inode of the journal's stream socket.
  public static func isJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
    guard let value = environment["JOURNAL_STREAM"] else { return false }
    let parts = value.split(separator: ":")
    guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
    var info = stat()
    guard fstat(2, &info) == 0 else { return false }
    return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var merged = metadata
    if let extra = event.metadata { merged.merge(extra) { _, new in new } }
    var line: String
    switch style {
    case .journald:
      line = "<\(Self.priority(event.level))>"
    case .plain:
      line = Self.timestamp() + " " + Self.pad(event.level.rawValue.uppercased(), 8)
    }
    var source = label
    if let service = merged.removeValue(forKey: "service") { source += ".\(service)" }
    line += source + ": " + Self.escape(event.message.description)
    for key in merged.keys.sorted() {
      line += " \(key)=" + Self.quoteIfNeeded(Self.escape(Self.render(merged[key]!)))
    }
    sink(line + "\n")
  }

  /// syslog priorities as journald reads them.
  static func priority(_ level: Logger.Level) -> Int {
    switch level {
    case .trace, .debug: 7
    case .info: 6
    case .notice: 5
    case .warning: 4
    case .error: 3
    case .critical: 2
    }
  }

  static func render(_ value: Logger.Metadata.Value) -> String {
    switch value {
    case .string(let s): s
    case .stringConvertible(let c): c.description
    case .array(let a): "[" + a.map(render).joined(separator: ",") + "]"
    case .dictionary(let d): "{" + d.keys.sorted().map { "\($0):\(render(d[$0]!))" }.joined(separator: ",") + "}"
    }
  }

  /// Escapes control characters (newlines included) as `\n`, `\xNN`.
  static func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
          out += "\\x" + String(scalar.value, radix: 16)
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out
  }

  static func quoteIfNeeded(_ text: String) -> String {
    text.isEmpty || text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
      ? "\"" + text.replacingOccurrences(of: "\"", with: "\\\"") + "\"" : text
  }

  static func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
  }

  static func timestamp() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var time = now.tv_sec
    var parts = tm()
    gmtime_r(&time, &parts)
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
    let millis = Int(now.tv_nsec / 1_000_000)
    let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
    return
      "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
  }
}

/// Serialised writes to file descriptor 2, one `write` per line so lines
/// from different threads never interleave.
enum StandardError {
  private static let lock = Mutex(())

  static func write(_ line: String) {
    lock.withLock { _ in
      var bytes = Array(line.utf8)
      var offset = 0
      while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { buffer in
          Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
        }
        if written < 0 {
          if errno == EINTR { continue }
          return
        }
        offset += written
      }
      _ = bytes.count
      bytes.removeAll()
    }
  }
}
