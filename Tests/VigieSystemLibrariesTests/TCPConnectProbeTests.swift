import Foundation
import Testing
import VigieWatchdog

#if canImport(Glibc)
  import Glibc
#endif

/// `tcp-connect:PORT` against real sockets: a listener of our own, a closed
/// port, and a silent host in a namespace of our own.
@Suite("TCP connect probe")
struct TCPConnectProbeTests {
  /// A listening socket on 127.0.0.1 with a kernel-chosen port.
  final class Listener {
    let fd: Int32
    let port: Int

    init() throws {
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      address.sin_port = 0
      let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
      try #require(bound == 0 && listen(fd, 4) == 0)
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
      }
      self.fd = fd
      port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
  }

  @Test("a listening port is open; the same port once closed is closed")
  func openAndClosed() async throws {
    var port = 0
    do {
      let listener = try Listener()
      port = listener.port
      let verdict = try await TCPConnectProbe.probe(host: "127.0.0.1", port: port, timeout: .seconds(2))
      guard case .open = verdict else { return #expect(Bool(false), "\(verdict)") }
    }
    let verdict = try await TCPConnectProbe.probe(host: "127.0.0.1", port: port, timeout: .seconds(2))
    #expect(verdict == .closed)
  }

  @Test("a host that drops the SYN is filtered after the timeout", .enabled(if: Netns.isAvailable, Netns.skipReason))
  func filtered() async throws {
    let net = try Netns.Fixture(hostSide: true)
    defer { net.tearDown() }
    let verdict = try await TCPConnectProbe.probe(host: net.silent, port: 22, timeout: .milliseconds(800))
    #expect(verdict == .filtered)
    let peer = try await TCPConnectProbe.probe(host: net.peer, port: 9, timeout: .seconds(2))
    #expect(peer == .closed, "nothing listens on the namespace's port 9: it answers with a reset")
  }

  @Test("bad ports and unknown hosts are clear errors")
  func errors() async {
    await #expect(throws: PingError.self) {
      try await TCPConnectProbe.probe(host: "127.0.0.1", port: 0, timeout: .seconds(1))
    }
    await #expect(throws: PingError.self) {
      try await TCPConnectProbe.probe(host: "nosuchhost.invalid", port: 22, timeout: .seconds(1))
    }
  }
}
