import Foundation
import Logging
import Synchronization
import Testing

@testable import VigieRuntime

@Suite("log handler")
struct LogHandlerTests {
  final class Lines: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
  }

  func logger(style: VigieLogHandler.Style, level: Logger.Level = .info) -> (Logger, Lines) {
    let sink = Lines()
    let handler = VigieLogHandler(label: "vigie", level: level, style: style) { line in
      sink.lines.withLock { $0.append(line) }
    }
    return (Logger(label: "vigie", factory: { _ in handler }), sink)
  }

  @Test(
    "journald lines carry the syslog priority",
    arguments: [
      (Logger.Level.error, "<3>"), (.warning, "<4>"), (.notice, "<5>"), (.info, "<6>"), (.critical, "<2>"),
    ])
  func priorities(level: Logger.Level, prefix: String) {
    let (logger, sink) = logger(style: .journald)
    logger.log(level: level, "hello")
    #expect(sink.all == ["\(prefix)vigie: hello\n"])
  }

  @Test("one line per event: newlines and control characters are escaped")
  func noInjection() {
    let (logger, sink) = logger(style: .journald)
    logger.error("sms from +336\nFAKE: <3>vigie: REBOOT done", metadata: ["text": "a\r\nb\u{1B}[31m"])
    #expect(sink.all.count == 1)
    let line = sink.all[0]
    #expect(line.filter { $0 == "\n" }.count == 1)
    #expect(line.contains("+336\\nFAKE"))
    #expect(line.contains("text=a\\r\\nb\\x1b[31m"))
  }

  @Test("plain lines have a timestamp and level; the service is part of the source")
  func plain() {
    var (logger, sink) = logger(style: .plain, level: .debug)
    logger[metadataKey: "service"] = "modem"
    logger.debug("signal", metadata: ["rssi": "-71", "operator": "Orange F"])
    let line = sink.all[0]
    #expect(
      line.range(
        of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z DEBUG   vigie\.modem: signal operator="Orange F" rssi=-71\n$"#,
        options: .regularExpression) != nil, "\(line)")
  }

  @Test("below the level nothing is written")
  func level() {
    let (logger, sink) = logger(style: .plain, level: .warning)
    logger.info("quiet")
    #expect(sink.all.isEmpty)
  }
}
