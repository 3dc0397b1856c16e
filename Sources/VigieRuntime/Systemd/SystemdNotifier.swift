import Foundation
import Logging
import ServiceLifecycle
import VigieCore

/// sd_notify(3) without libsystemd: datagrams to the socket named by
/// `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace).
public struct SystemdNotifier: Sendable {
  /// The socket path, nil when not started by systemd with `Type=notify`.
  public let socketPath: String?
  /// Half of `WATCHDOG_USEC` when systemd's watchdog is on for this process.
  public let watchdogInterval: Duration?

  public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
    let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    socketPath = path
    var interval: Duration?
    if path != nil, let usecText = environment["WATCHDOG_USEC"], let usec = Int64(usecText), usec > 0 {
      // WATCHDOG_PID, when set, names the process meant to ping.
      if let pidText = environment["WATCHDOG_PID"], let pid = Int32(pidText), pid != getpid() {
        interval = nil
      } else {
        interval = .microseconds(usec / 2)
      }
    }
    watchdogInterval = interval
  }

  /// Sends one notification, e.g. `READY=1` or `STATUS=...`. Returns false
  /// when there is no socket or the send failed (errno is then set).
  @discardableResult
  public func notify(_ state: String) -> Bool {
    guard let socketPath else { return false }
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var pathBytes = Array(socketPath.utf8)
    if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }  // abstract namespace
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard pathBytes.count < capacity else { return false }
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
      buffer.copyBytes(from: pathBytes)
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (pathBytes.first == 0 ? 0 : 1))
    let message = Array(state.utf8)
    let sent = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
        message.withUnsafeBytes { bytes in
          sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), sockaddrPointer, length)
        }
      }
    }
    return sent == message.count
  }
}

/// Tells systemd when the daemon is ready, keeps `STATUS=` current, and
/// pings the watchdog at half of `WATCHDOG_USEC` while the supervisor's
/// event loop is alive.
struct SystemdService: Service {
  let notifier: SystemdNotifier
  let board: ServiceBoard
  let logger: Logger
  /// Longest wait for services to leave `starting` before READY=1 anyway.
  var readinessTimeout: Duration = .seconds(10)

  func run() async throws {
    guard notifier.socketPath != nil else {
      try? await gracefulShutdown()
      return
    }
    await waitUntilStarted()
    notifier.notify("READY=1\nSTATUS=" + Self.summary(board.snapshot()))
    logger.debug("sent READY=1 to systemd")
    await withDiscardingTaskGroup { group in
      if let interval = notifier.watchdogInterval {
        group.addTask {
          while !Task.isCancelled {
            notifier.notify("WATCHDOG=1")
            try? await Task.sleep(for: interval)
          }
        }
      }
      group.addTask {
        for await _ in board.changesStream() {
          notifier.notify("STATUS=" + Self.summary(board.snapshot()))
        }
      }
      try? await gracefulShutdown()
      notifier.notify("STOPPING=1\nSTATUS=stopping")
      group.cancelAll()
    }
  }

  private func waitUntilStarted() async {
    let deadline = ContinuousClock.now.advanced(by: readinessTimeout)
    while ContinuousClock.now < deadline {
      if !board.snapshot().contains(where: { $0.state == .starting }) { return }
      try? await Task.sleep(for: .milliseconds(50))
    }
  }

  /// `8 running, 1 restarting (modem), 3 disabled`.
  static func summary(_ services: [ServiceStatus]) -> String {
    var counts: [(String, [String])] = []
    for service in services {
      let word = service.state.word
      if let index = counts.firstIndex(where: { $0.0 == word }) {
        counts[index].1.append(service.name)
      } else {
        counts.append((word, [service.name]))
      }
    }
    return counts.map { word, names in
      word == "running" || word == "disabled"
        ? "\(names.count) \(word)" : "\(names.count) \(word) (\(names.joined(separator: ", ")))"
    }.joined(separator: ", ")
  }
}
