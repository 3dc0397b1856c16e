import Foundation
import Testing
import VigieWatchdog

#if canImport(Glibc)
  import Glibc
#endif

/// A real server run inside a test namespace, stopped (by its own pid) when
/// the test ends.
final class NamespacedServer {
  let process = Process()
  let log: URL
  let name: String

  /// Starts `arguments` in namespace `namespace`, its output in a log file.
  init(_ name: String, namespace: String, _ arguments: [String]) throws {
    self.name = name
    log = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-\(name)-\(UUID().uuidString).log")
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    let handle = try FileHandle(forWritingTo: log)
    // Through a closer of inherited descriptors: a server started while
    // another test thread waits for a command's output pipes would inherit
    // their write ends and keep that wait from ever seeing end of file.
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments =
      [
        "python3", "-c", "import os, sys; os.closerange(3, 65536); os.execvp(sys.argv[1], sys.argv[1:])",
        "ip", "netns", "exec", namespace,
      ] + arguments
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
  }

  var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

  /// Waits until the log contains `text` (the bound only catches a hang).
  func waitForLog(_ text: String, timeout: Duration = .seconds(30)) async throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while !output.contains(text) {
      guard process.isRunning else {
        throw Netns.Failure(description: "\(name) exited: \(output)")
      }
      guard ContinuousClock.now < deadline else {
        throw Netns.Failure(description: "\(name) did not log '\(text)' in \(timeout): \(output)")
      }
      try await Task.sleep(for: .milliseconds(100))
    }
  }

  /// Kills the server with SIGKILL: the test runner blocks SIGTERM in its
  /// threads, and its children inherit the mask (dnsmasq never unblocks it).
  func stop() {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(at: log)
  }

  /// Whether the namespace server suites were asked for: alongside other
  /// suites that spawn processes, a spawned command's exit is sometimes never
  /// seen (zombie `ip` children, Foundation's Process), and the run hangs.
  static let optedIn = ProcessInfo.processInfo.environment["VIGIE_NETNS_SERVER_TESTS"] == "1"

  /// Whether `/usr/sbin/NAME` (or /usr/bin) is installed.
  static func installed(_ name: String) -> Bool {
    ["/usr/sbin/", "/usr/bin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + name) }
  }
}

/// The UDP and TCP service probes against real servers in a namespace of
/// our own: dnsmasq, chrony, openvpn (with and without tls-auth). Closed
/// ports answer with ICMP port unreachable; the fixture's silent address
/// drops everything.
@Suite("service probes (DNS, NTP, OpenVPN)", .serialized)
struct ServiceProbeTests {
  static let needs: Comment =
    "set VIGIE_NETNS_SERVER_TESTS=1 (run alone: they hang when run alongside other process-spawning suites, see the report); needs root, `ip netns`, and the Debian packages dnsmasq-base, chrony, openvpn and openssl (scripts/test installs them)"

  static let available =
    NamespacedServer.optedIn && Netns.isAvailable && NamespacedServer.installed("dnsmasq")
    && NamespacedServer.installed("chronyd")
    && NamespacedServer.installed("openvpn") && NamespacedServer.installed("openssl")

  @Test(.enabled(if: available, needs))
  func dns() async throws {
    let net = try Netns.Fixture(hostSide: true)
    defer { net.tearDown() }
    // Answers probe.vigie.test, NXDOMAIN for every other name.
    let server = try NamespacedServer(
      "dnsmasq", namespace: net.server,
      [
        "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--user=root",
        "--listen-address=\(net.peer)", "--bind-interfaces", "--address=/probe.vigie.test/10.9.8.7", "--address=/#/",
        "--log-queries",
      ])
    defer { server.stop() }
    try await server.waitForLog("started")

    let named = try await ServiceProbe.dns(host: net.peer, name: "probe.vigie.test", timeout: .seconds(5))
    guard case .open(_, let detail) = named else { return #expect(Bool(false), "\(named)") }
    #expect(detail == "probe.vigie.test is 10.9.8.7")
    let root = try await ServiceProbe.dns(host: net.peer, name: nil, timeout: .seconds(5))
    guard case .open(_, let rootDetail) = root else { return #expect(Bool(false), "\(root)") }
    #expect(rootDetail == "NXDOMAIN, 0 answers")
    let missing = try await ServiceProbe.dns(host: net.peer, name: "nope.example", timeout: .seconds(5))
    guard case .badAnswer(_, let missingDetail) = missing else { return #expect(Bool(false), "\(missing)") }
    #expect(missingDetail == "nope.example: NXDOMAIN")
    #expect(server.output.contains("query[A] probe.vigie.test from"), "dnsmasq saw a real query")

    // Nothing listens on port 54: ICMP port unreachable.
    let closed = try await ServiceProbe.dns(host: net.peer, port: 54, name: nil, timeout: .seconds(5))
    #expect(closed == .closed("ICMP port unreachable"))
    // A host that drops everything: open|filtered, which the watchdog counts
    // as a failure for DNS (a DNS server answers every valid query).
    let silent = try await ServiceProbe.dns(host: net.silent, name: nil, timeout: .milliseconds(700))
    #expect(silent == .silent("no answer within 700ms"))
  }

  @Test(.enabled(if: available, needs))
  func dnsRefused() async throws {
    let net = try Netns.Fixture(hostSide: true)
    defer { net.tearDown() }
    // No upstream and no local data: dnsmasq refuses.
    let server = try NamespacedServer(
      "dnsmasq", namespace: net.server,
      [
        "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--user=root",
        "--listen-address=\(net.peer)", "--bind-interfaces",
      ])
    defer { server.stop() }
    try await server.waitForLog("started")
    let refused = try await ServiceProbe.dns(host: net.peer, name: nil, timeout: .seconds(5))
    guard case .badAnswer(_, let detail) = refused else { return #expect(Bool(false), "\(refused)") }
    #expect(detail == "the root's NS records: REFUSED")
  }

  static func chronyConfig(_ lines: [String]) throws -> URL {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-chrony-\(UUID().uuidString).conf")
    let all = lines + ["pidfile \(file.path).pid"]
    try (all.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
    return file
  }

  @Test(.enabled(if: available, needs))
  func ntp() async throws {
    let net = try Netns.Fixture(hostSide: true)
    defer { net.tearDown() }
    // A server on its local clock at stratum 8; it never touches the clock (-x).
    let config = try Self.chronyConfig([
      "local stratum 8", "allow all", "bindaddress \(net.peer)", "cmdport 0",
    ])
    defer {
      try? FileManager.default.removeItem(at: config)
      try? FileManager.default.removeItem(atPath: config.path + ".pid")
    }
    let server = try NamespacedServer(
      "chronyd", namespace: net.server, ["chronyd", "-d", "-x", "-u", "root", "-f", config.path])
    defer { server.stop() }
    try await server.waitForLog("Disabled control of system clock")

    // chrony answers at once, but as synchronised only once its local
    // reference is selected: retry for a while.
    var verdict = ServiceVerdict.silent("not probed")
    for _ in 0..<50 {
      verdict = try await ServiceProbe.ntp(host: net.peer, timeout: .seconds(2))
      if case .open = verdict { break }
      try await Task.sleep(for: .milliseconds(200))
    }
    guard case .open(_, let detail) = verdict else { return #expect(Bool(false), "\(verdict)") }
    #expect(detail.hasPrefix("stratum 8, reference "), "\(detail)")

    let closed = try await ServiceProbe.ntp(host: net.peer, port: 124, timeout: .seconds(5))
    #expect(closed == .closed("ICMP port unreachable"))
  }

  @Test(.enabled(if: available, needs))
  func ntpUnsynchronised() async throws {
    let net = try Netns.Fixture(hostSide: true)
    defer { net.tearDown() }
    // No source and no local reference: chrony serves, unsynchronised.
    let config = try Self.chronyConfig([
      "allow all", "bindaddress \(net.peer)", "cmdport 0",
    ])
    defer {
      try? FileManager.default.removeItem(at: config)
      try? FileManager.default.removeItem(atPath: config.path + ".pid")
    }
    let server = try NamespacedServer(
      "chronyd", namespace: net.server, ["chronyd", "-d", "-x", "-u", "root", "-f", config.path])
    defer { server.stop() }
    try await server.waitForLog("Disabled control of system clock")
    var verdict = ServiceVerdict.silent("not probed")
    for _ in 0..<50 {
      verdict = try await ServiceProbe.ntp(host: net.peer, timeout: .seconds(2))
      if case .badAnswer = verdict { break }
      try await Task.sleep(for: .milliseconds(200))
    }
    guard case .badAnswer(_, let detail) = verdict else { return #expect(Bool(false), "\(verdict)") }
    #expect(detail.hasPrefix("the server's clock is not synchronised"), "\(detail)")
  }

  /// A CA, a server certificate and a tls-auth key, made with openssl and
  /// openvpn for this test only.
  final class OpenVPNKeys {
    let directory: URL

    init() throws {
      directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-ovpn-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      let dir = directory.path
      let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
      try Netns.run(
        ["openssl", "req", "-x509"] + ec + [
          "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.crt", "-days", "2", "-subj", "/CN=vigie-test-ca",
        ])
      try Netns.run(
        ["openssl", "req"] + ec + ["-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr", "-subj", "/CN=server"])
      try Netns.run([
        "openssl", "x509", "-req", "-in", "\(dir)/server.csr", "-CA", "\(dir)/ca.crt", "-CAkey", "\(dir)/ca.key",
        "-CAcreateserial", "-out", "\(dir)/server.crt", "-days", "2",
      ])
      try Netns.run(["openvpn", "--genkey", "secret", "\(dir)/ta.key"])
    }

    func server(proto: String, address: String, port: Int, tlsAuth: Bool) -> [String] {
      let dir = directory.path
      return [
        "openvpn", "--dev", "null", "--proto", proto, "--local", address, "--port", "\(port)", "--tls-server",
        "--ca", "\(dir)/ca.crt", "--cert", "\(dir)/server.crt", "--key", "\(dir)/server.key", "--dh", "none",
        "--verb", "3",
      ] + (tlsAuth ? ["--tls-auth", "\(dir)/ta.key", "0"] : [])
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
  }

  @Test(.enabled(if: available, needs))
  func openVPN() async throws {
    let net = try Netns.Fixture(hostSide: true)
    defer { net.tearDown() }
    let keys = try OpenVPNKeys()
    let udp = try NamespacedServer(
      "openvpn-udp", namespace: net.server, keys.server(proto: "udp", address: net.peer, port: 1194, tlsAuth: false))
    defer { udp.stop() }
    let tcp = try NamespacedServer(
      "openvpn-tcp", namespace: net.server,
      keys.server(proto: "tcp-server", address: net.peer, port: 1194, tlsAuth: false))
    defer { tcp.stop() }
    let tlsAuth = try NamespacedServer(
      "openvpn-tls-auth", namespace: net.server,
      keys.server(proto: "udp", address: net.peer, port: 1195, tlsAuth: true))
    defer { tlsAuth.stop() }
    let tcpTLSAuth = try NamespacedServer(
      "openvpn-tcp-tls-auth", namespace: net.server,
      keys.server(proto: "tcp-server", address: net.peer, port: 1195, tlsAuth: true))
    defer { tcpTLSAuth.stop() }
    try await udp.waitForLog("link local (bound)")
    try await tcp.waitForLog("Listening for incoming TCP connection")
    try await tlsAuth.waitForLog("link local (bound)")
    try await tcpTLSAuth.waitForLog("Listening for incoming TCP connection")

    let overUDP = try await ServiceProbe.openVPN(host: net.peer, port: 1194, tcp: false, timeout: .seconds(5))
    guard case .open(_, let detail) = overUDP else { return #expect(Bool(false), "\(overUDP)") }
    #expect(detail.hasPrefix("P_CONTROL_HARD_RESET_SERVER_V2, server session "))
    let overTCP = try await ServiceProbe.openVPN(host: net.peer, port: 1194, tcp: true, timeout: .seconds(5))
    guard case .open(_, let tcpDetail) = overTCP else { return #expect(Bool(false), "\(overTCP)") }
    #expect(tcpDetail.hasPrefix("P_CONTROL_HARD_RESET_SERVER_V2, server session "))

    // tls-auth: the server drops our unsigned reset; said as such.
    let silent = try await ServiceProbe.openVPN(host: net.peer, port: 1195, tcp: false, timeout: .seconds(1))
    #expect(silent == .silent("no answer within 1s: server may use tls-auth"))
    let tcpSilent = try await ServiceProbe.openVPN(host: net.peer, port: 1195, tcp: true, timeout: .seconds(2))
    guard case .silent(let why) = tcpSilent else { return #expect(Bool(false), "\(tcpSilent)") }
    #expect(why.hasPrefix("no answer") && why.hasSuffix(": server may use tls-auth"), "\(why)")
    #expect(tlsAuth.output.contains("HMAC") || tlsAuth.output.contains("tls-auth"), "\(tlsAuth.output)")

    // Closed: ICMP port unreachable over UDP, a reset over TCP.
    let closedUDP = try await ServiceProbe.openVPN(host: net.peer, port: 1196, tcp: false, timeout: .seconds(5))
    #expect(closedUDP == .closed("ICMP port unreachable"))
    let closedTCP = try await ServiceProbe.openVPN(host: net.peer, port: 1196, tcp: true, timeout: .seconds(5))
    #expect(closedTCP == .closed("TCP reset"))
    // Nothing at all: open|filtered over UDP, filtered over TCP.
    let dropped = try await ServiceProbe.openVPN(host: net.silent, port: 1194, tcp: false, timeout: .milliseconds(500))
    guard case .silent = dropped else { return #expect(Bool(false), "\(dropped)") }
    let droppedTCP = try await ServiceProbe.openVPN(
      host: net.silent, port: 1194, tcp: true, timeout: .milliseconds(500))
    guard case .filtered = droppedTCP else { return #expect(Bool(false), "\(droppedTCP)") }
  }
}
