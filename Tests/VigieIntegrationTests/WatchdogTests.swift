import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The watchdog service in the real daemon: probes, thresholds, recovery.
@Suite("watchdog", .serialized)
struct WatchdogTests {
  /// Binds 127.0.0.1:`port` (0 = any) and listens.
  static func listen(port: Int) throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(
      bound == 0 && Glibc.listen(fd, 4) == 0, "cannot listen on \(port): \(String(cString: strerror(errno)))")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
  }

  @Test("a closed port goes DOWN after the threshold and UP again when it listens; ICMP targets answer")
  func downAndUp() throws {
    // A port that nothing listens on (yet).
    let probe = try Self.listen(port: 0)
    let port = probe.port
    close(probe.fd)
    let daemon = try TestDaemon(
      sections: """
        [watchdog]
        interval = "1s"
        timeout = "500ms"
        failures = 2
        window = 3
        successes = 2

        [[watchdog.target]]
        name = "loopback"
        host = "127.0.0.1"
        probe = "icmp"

        [[watchdog.target]]
        name = "service"
        host = "127.0.0.1"
        probe = "tcp-connect:\(port)"
        depends_on = ["loopback"]
        """)
    try daemon.waitUntilReady()
    try daemon.waitFor("service to be DOWN", timeout: .seconds(20)) {
      try daemon.cli("status").stdout.contains("service DOWN")
    }
    #expect(try daemon.cli("status").stdout.contains("targets: loopback UP"))
    #expect(daemon.log.contains("service DOWN since"))
    // The watchdog logs one DOWN, not one per failed probe (the alert router
    // logs the same text once more as "alert", hence the service's own prefix).
    #expect(
      daemon.log.components(separatedBy: "vigie.watchdog: service DOWN since").count == 2, "one DOWN, not one per probe"
    )

    let listener = try Self.listen(port: port)
    defer { close(listener.fd) }
    try daemon.waitFor("service to be UP again", timeout: .seconds(20)) {
      daemon.log.contains("service UP again after")
    }
    #expect(try daemon.cli("cmd", "STATUS").stdout.contains("service UP"))
  }
  /// Binds a UDP socket on 127.0.0.1 that never answers.
  static func silentUDP() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
      }
    }
    try #require(bound)
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
  }

  @Test(
    "the SYN probe finds a listener UP; an OpenVPN port that refuses is DOWN, one that stays silent INCONCLUSIVE",
    .enabled(if: geteuid() == 0, "the SYN probe needs CAP_NET_RAW (root)"))
  func serviceProbes() throws {
    let listener = try Self.listen(port: 0)
    defer { close(listener.fd) }
    let silent = try Self.silentUDP()
    defer { close(silent.fd) }
    let closed = try Self.silentUDP()
    close(closed.fd)
    let daemon = try TestDaemon(
      sections: """
        [watchdog]
        interval = "1s"
        timeout = "500ms"
        failures = 2
        window = 3
        successes = 2

        [[watchdog.target]]
        name = "ssh"
        host = "127.0.0.1"
        probe = "tcp:\(listener.port)"

        [[watchdog.target]]
        name = "vpnclosed"
        host = "127.0.0.1"
        probe = "udp-openvpn:\(closed.port)"

        [[watchdog.target]]
        name = "vpnsilent"
        host = "127.0.0.1"
        probe = "udp-openvpn:\(silent.port)"
        """)
    try daemon.waitUntilReady()
    try daemon.waitFor("the three verdicts", timeout: .seconds(30)) {
      let status = try daemon.cli("status").stdout
      return status.contains("ssh UP") && status.contains("vpnclosed DOWN") && status.contains("vpnsilent INCONCLUSIVE")
    }
    #expect(daemon.log.contains("vpnclosed DOWN since"))
    #expect(daemon.log.contains("ICMP port unreachable"))
    #expect(!daemon.log.contains("vpnsilent DOWN"), "silence from an OpenVPN port is never an outage")

    // PROBE runs the target's probe once, through the shared command registry.
    let closedReply = try daemon.cli("cmd", "PROBE vpnclosed").stdout
    #expect(
      closedReply.contains(
        "vpnclosed (udp-openvpn:\(closed.port) on 127.0.0.1): failed: refused: ICMP port unreachable; state DOWN"),
      "\(closedReply)")
    let silentReply = try daemon.cli("cmd", "PROBE vpnsilent").stdout
    #expect(
      silentReply.contains("inconclusive: no answer within 500ms: server may use tls-auth; state INCONCLUSIVE"),
      "\(silentReply)")
    let sshReply = try daemon.cli("cmd", "PROBE ssh").stdout
    #expect(sshReply.contains("ssh (tcp:\(listener.port) on 127.0.0.1): answered in "), "\(sshReply)")
    let unknown = try daemon.cli("cmd", "PROBE shh")
    #expect(
      unknown.stdout.contains("No target 'shh'. Did you mean ssh?") || unknown.stderr.contains("Did you mean ssh?"))
  }
  @Test("implicit gateway, resolver and internet uplink show in STATUS; internet targets depend on the uplink")
  func implicitTargets() throws {
    let listener = try Self.listen(port: 0)
    defer { close(listener.fd) }
    // Fixed addresses on the loopback: `auto` would probe this machine's
    // real gateway, which tests must not do. Nothing serves DNS on
    // 127.0.0.1:53, so the resolver goes DOWN, behind an UP gateway.
    let daemon = try TestDaemon(
      sections: """
        [watchdog]
        interval = "1s"
        timeout = "500ms"
        failures = 2
        window = 3
        successes = 2
        gateway = "127.0.0.1"
        resolver = "127.0.0.1"
        internet_anchors = ["127.0.0.2", "127.0.0.3"]

        [[watchdog.target]]
        name = "website"
        host = "127.0.0.1"
        probe = "tcp-connect:\(listener.port)"
        depends_on = ["internet"]
        """)
    try daemon.waitUntilReady()
    try daemon.waitFor("the implicit targets' verdicts", timeout: .seconds(30)) {
      let status = try daemon.cli("status").stdout
      return status.contains("internet UP") && status.contains("gateway UP") && status.contains("resolver DOWN")
        && status.contains("website UP")
    }
    #expect(daemon.log.contains("default gateway is 127.0.0.1"))
    #expect(daemon.log.contains("resolver DOWN since"))
    let reply = try daemon.cli("cmd", "PROBE website").stdout
    #expect(reply.contains("website (tcp-connect:\(listener.port) on 127.0.0.1): answered in "), "\(reply)")
  }
}
