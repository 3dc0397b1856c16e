import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Helpers shared by the state store and outbox tests.
enum StoreFixtures {
  /// A logger that drops everything: the tests check return values, not logs.
  static let quietLogger = Logger(label: "test.store") { _ in SwiftLogNoOpLogHandler() }

  /// Runs `body` with a fresh directory under the system temporary
  /// directory, removed afterwards.
  static func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async rethrows -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "vigie-store-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url.path)
  }

  /// The permission bits of `path`, or nil when it does not exist.
  static func mode(of path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o777
  }

  /// Size and modification time (ns) of `path`, to detect writes.
  static func fingerprint(_ path: String) -> [Int] {
    var info = stat()
    guard stat(path, &info) == 0 else { return [] }
    #if canImport(Glibc)
      return [Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec)]
    #else
      return [Int(info.st_size), Int(info.st_mtimespec.tv_sec), Int(info.st_mtimespec.tv_nsec)]
    #endif
  }

  /// A clock the tests move by hand.
  final class Clock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_750_000_000)) {
      current = Mutex(start)
    }

    var now: Date { current.withLock { $0 } }

    func advance(_ duration: Duration) {
      let (seconds, attoseconds) = duration.components
      current.withLock { $0 = $0.addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18) }
    }

    func set(_ date: Date) {
      current.withLock { $0 = date }
    }
  }
}
