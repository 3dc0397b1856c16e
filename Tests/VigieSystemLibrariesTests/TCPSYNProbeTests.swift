import Foundation
import Testing
import VigieWatchdog

#if canImport(Glibc)
  import Glibc
#endif

/// The half-open `tcp:PORT` probe with real packets: a crafted SYN on a raw
/// socket, the answer captured by libpcap.
@Suite("TCP SYN probe (raw socket, libpcap)", .serialized)
struct TCPSYNProbeTests {
  static let needs: Comment =
    "set VIGIE_NETNS_SERVER_TESTS=1 (run alone: they hang when run alongside other process-spawning suites, see the report); needs root (CAP_NET_RAW), `ip netns`, and the Debian packages nftables and python3 (scripts/test installs them)"
  static let available = NamespacedServer.optedIn && Netns.isAvailable && NamespacedServer.installed("nft")

  @Test(.enabled(if: available, needs))
  func verdictsInNamespace() async throws {
    let net = try Netns.Fixture(hostSide: true)
    defer { net.tearDown() }
    // A listener on 2222; port 2223 dropped by nftables; nothing on 9.
    let listener = try NamespacedServer(
      "listener", namespace: net.server,
      [
        "python3", "-c",
        "import socket, sys, time\n"
          + "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          + "s.bind(('\(net.peer)', 2222)); s.listen(8); print('listening', flush=True)\n"
          + "s.settimeout(0.2)\n"
          + "while True:\n"
          + "    try:\n"
          + "        c, _ = s.accept(); print('accepted', flush=True); c.close()\n"
          + "    except socket.timeout:\n"
          + "        pass\n",
      ])
    defer { listener.stop() }
    try await listener.waitForLog("listening")
    try net.server(["nft", "add", "table", "inet", "vigie"])
    try net.server([
      "nft", "add", "chain", "inet", "vigie", "input", "{ type filter hook input priority 0 ; }",
    ])
    try net.server(["nft", "add", "rule", "inet", "vigie", "input", "tcp", "dport", "2223", "drop"])

    let open = try await TCPSYNProbe.probe(host: net.peer, port: 2222, timeout: .seconds(5))
    #expect(open.mode == .raw, "\(open)")
    guard case .open = open.verdict else { return #expect(Bool(false), "\(open)") }
    // Half-open: our kernel reset the SYN-ACK, the server never accepted.
    try await Task.sleep(for: .milliseconds(500))
    #expect(!listener.output.contains("accepted"), "the handshake was completed: \(listener.output)")

    let closed = try await TCPSYNProbe.probe(host: net.peer, port: 9, timeout: .seconds(5))
    #expect(closed.verdict == .closed && closed.mode == .raw)
    let dropped = try await TCPSYNProbe.probe(host: net.peer, port: 2223, timeout: .milliseconds(700))
    #expect(dropped.verdict == .filtered)
    let silent = try await TCPSYNProbe.probe(host: net.silent, port: 22, timeout: .milliseconds(700))
    #expect(silent.verdict == .filtered)

    // The same port through connect(): the handshake completes.
    let connected = try await TCPConnectProbe.probe(host: net.peer, port: 2222, timeout: .seconds(5))
    guard case .open = connected else { return #expect(Bool(false), "\(connected)") }
    try await listener.waitForLog("accepted")
  }

  @Test(.enabled(if: geteuid() == 0 && Loopback.hasIPv6, "needs root (CAP_NET_RAW) and IPv6 on the loopback"))
  func ipv6Loopback() async throws {
    let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
    var isOpen = true
    defer { if isOpen { close(fd) } }
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_addr = in6addr_loopback
    var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
    let ready = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &length) == 0
      }
    }
    try #require(ready)
    let port = Int(UInt16(bigEndian: address.sin6_port))
    let open = try await TCPSYNProbe.probe(host: "::1", port: port, timeout: .seconds(5))
    guard case .open = open.verdict else { return #expect(Bool(false), "\(open)") }
    #expect(open.mode == .raw)
    close(fd)
    isOpen = false
    let closed = try await TCPSYNProbe.probe(host: "::1", port: port, timeout: .seconds(5))
    #expect(closed.verdict == .closed)
  }
}
