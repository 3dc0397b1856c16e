import Foundation
import Testing
import VigieCore

@testable import VigieRuntime

/// A real AF_UNIX datagram socket standing in for systemd's notify socket.
final class NotifySocket {
  let path: String
  let fd: Int32

  init(abstract: Bool = false) throws {
    let name = "vigie-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    path = abstract ? "@" + name : NSTemporaryDirectory() + name + ".sock"
    fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var bytes = Array(path.utf8)
    if abstract { bytes[0] = 0 }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
  }

  /// The next datagram, or nil after the receive timeout.
  func receive() -> String? {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    return n >= 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
  }

  /// Datagrams until one contains `needle`, or nil on timeout.
  func receive(until needle: String) -> [String]? {
    var all: [String] = []
    while let message = receive() {
      all.append(message)
      if message.contains(needle) { return all }
    }
    return nil
  }

  deinit {
    close(fd)
    if !path.hasPrefix("@") { unlink(path) }
  }
}

@Suite("sd_notify")
struct SystemdNotifierTests {
  @Test("sends to a path socket")
  func pathSocket() throws {
    let socket = try NotifySocket()
    let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path])
    #expect(notifier.notify("READY=1\nSTATUS=all good"))
    #expect(socket.receive() == "READY=1\nSTATUS=all good")
  }

  @Test("sends to an abstract socket (@name)")
  func abstractSocket() throws {
    let socket = try NotifySocket(abstract: true)
    let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path])
    #expect(notifier.notify("WATCHDOG=1"))
    #expect(socket.receive() == "WATCHDOG=1")
  }

  @Test("no NOTIFY_SOCKET: nothing sent, no watchdog")
  func absent() {
    let notifier = SystemdNotifier(environment: [:])
    #expect(notifier.notify("READY=1") == false)
    #expect(notifier.watchdogInterval == nil)
  }

  @Test("watchdog pings at half of WATCHDOG_USEC, only for our pid")
  func watchdogInterval() {
    let ours = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000"])
    #expect(ours.watchdogInterval == .seconds(2))
    let mine = SystemdNotifier(
      environment: ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "\(getpid())"])
    #expect(mine.watchdogInterval == .seconds(2))
    let other = SystemdNotifier(
      environment: ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "\(getpid() + 1)"])
    #expect(other.watchdogInterval == nil)
    let garbage = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "soon"])
    #expect(garbage.watchdogInterval == nil)
  }

  @Test("STATUS= summary names the services with problems")
  func summary() {
    let text = SystemdService.summary([
      .init(name: "modem", state: .running, restarts: 0, sinceSeconds: 1),
      .init(name: "sms", state: .running, restarts: 0, sinceSeconds: 1),
      .init(name: "irc", state: .backingOff(failures: 2, lastError: "x"), restarts: 2, sinceSeconds: 1),
      .init(name: "drive", state: .disabled, restarts: 0, sinceSeconds: 1),
    ])
    #expect(text == "2 running, 1 restarting (irc), 1 disabled")
  }
}
