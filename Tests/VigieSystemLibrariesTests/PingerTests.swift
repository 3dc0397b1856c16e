import Foundation
import Synchronization
import Testing
import VigieCore

@testable import VigieWatchdog

#if canImport(Glibc)
  import Glibc
#endif

/// Real ICMP echoes: to the loopback addresses, and through veth pairs into
/// network namespaces the tests make (never to any other address).
@Suite("Pinger (ICMP echo)")
struct PingerTests {
  @Test func pingsIPv4Loopback() async throws {
    let result = try await Pinger.ping(host: "127.0.0.1", count: 3, interval: .milliseconds(50))
    #expect(result.sent == 3)
    #expect(result.received == 3, "\(result.summary)")
    #expect(result.rtts.count == 3)
    #expect(result.rtts.allSatisfy { $0 > .zero && $0 < .seconds(1) })
    #expect(result.errors.isEmpty)
    #expect(result.address == .v4(IPv4Address(127, 0, 0, 1)))
    #expect(result.summary.hasPrefix("PING 127.0.0.1 (127.0.0.1): 3/3 replies, rtt min/avg/max "))
    #expect(result.summary.hasSuffix(" ms"))
    #expect(result.socketKind == (Loopback.pingSocketsAllowed ? .datagram : .raw))
  }

  @Test(.enabled(if: Loopback.hasIPv6, "IPv6 loopback (::1) is not configured on this machine"))
  func pingsIPv6Loopback() async throws {
    let result = try await Pinger.ping(host: "::1", count: 3, interval: .milliseconds(50))
    #expect(result.received == 3, "\(result.summary)")
    #expect(result.rtts.count == 3 && result.rtts.allSatisfy { $0 > .zero })
    #expect(result.address == .v6(.loopback))
    #expect(result.summary.hasPrefix("PING ::1 (::1): 3/3 replies, rtt min/avg/max "))
  }

  @Test func pingsLocalhostByName() async throws {
    let result = try await Pinger.ping(host: "localhost", count: 1)
    #expect(result.received == 1, "\(result.summary)")
    #expect(result.summary.hasPrefix("PING localhost ("))
  }

  @Test func unknownHostIsAResolveError() async throws {
    let error = await #expect(throws: PingError.self) {
      try await Pinger.ping(host: "nosuchhost.invalid")
    }
    #expect(error?.code == .resolutionFailed)
    #expect(error?.host == "nosuchhost.invalid")
    #expect(
      error?.message.hasPrefix("cannot resolve 'nosuchhost.invalid': ") == true,
      "\(String(describing: error))")
    #expect(error?.underlyingError is SystemCallError)
  }

  @Test(arguments: [
    (0, Duration.milliseconds(200), Duration.seconds(1)),
    (Pinger.maximumCount + 1, .milliseconds(200), .seconds(1)),
    (3, .milliseconds(-1), .seconds(1)),
    (3, .milliseconds(200), .zero),
    (3, .milliseconds(200), .seconds(61)),
  ])
  func argumentsOutOfRange(count: Int, interval: Duration, timeout: Duration) async {
    let error = await #expect(throws: PingError.self) {
      try await Pinger.ping(host: "127.0.0.1", count: count, interval: interval, timeout: timeout)
    }
    #expect(error?.code == .invalidArgument)
  }

  /// With neither socket kind allowed (simulated), the error says what to
  /// grant.
  @Test func noPermissionForEitherSocket() async {
    var options = PingOptions()
    options.openSocket = { _, type, _ in
      (-1, type & Int32(SOCK_RAW.rawValue) == Int32(SOCK_RAW.rawValue) ? EPERM : EACCES)
    }
    let error = await #expect(throws: PingError.self) {
      try await Pinger.ping(
        host: "127.0.0.1", count: 1, interval: .zero, timeout: .seconds(1), options: options)
    }
    #expect(error?.code == .permissionDenied)
    #expect(error?.message.contains("CAP_NET_RAW") == true)
    #expect(error?.message.contains("net.ipv4.ping_group_range") == true)
    #expect((error?.underlyingError as? SystemCallError)?.code == EPERM)
  }

  /// A failure that is not about permission is reported as such.
  @Test func socketFailureOtherThanPermission() async {
    var options = PingOptions()
    options.openSocket = { _, _, _ in (-1, EAFNOSUPPORT) }
    let error = await #expect(throws: PingError.self) {
      try await Pinger.ping(
        host: "::1", count: 1, interval: .zero, timeout: .seconds(1), options: options)
    }
    #expect(error?.code == .socketFailed)
    #expect(error?.message.contains("IPv6") == true, "\(String(describing: error))")
  }

  @Test func summaryFormats() {
    let full = PingResult(
      host: "127.0.0.1", address: .v4(IPv4Address(127, 0, 0, 1)), socketKind: .raw, sent: 3,
      received: 3,
      rtts: [.microseconds(41), .microseconds(52), .microseconds(63)], errors: [])
    #expect(
      full.summary
        == "PING 127.0.0.1 (127.0.0.1): 3/3 replies, rtt min/avg/max 0.041/0.052/0.063 ms")
    let none = PingResult(
      host: "192.0.2.1", address: .v4(IPv4Address(192, 0, 2, 1)), socketKind: .raw, sent: 3,
      received: 0, rtts: [],
      errors: [])
    #expect(none.summary == "PING 192.0.2.1 (192.0.2.1): 0/3 replies (100% loss)")
    let partial = PingResult(
      host: "gw", address: .v4(IPv4Address(10, 200, 1, 2)), socketKind: .datagram, sent: 3,
      received: 2,
      rtts: [.nanoseconds(1_234_567), .milliseconds(12)],
      errors: ["destination unreachable (host unreachable) from 10.200.1.2", "other"])
    #expect(
      partial.summary
        == "PING gw (10.200.1.2): 2/3 replies (33% loss), rtt min/avg/max 1.235/6.617/12.000 ms; "
        + "destination unreachable (host unreachable) from 10.200.1.2 (+1 more)")
  }

  // MARK: Network namespaces

  /// The host end of a veth pair gets 10.200.N.1, the namespace end
  /// 10.200.N.2; 10.200.N.3 is routed into the namespace, where nothing
  /// answers it.
  @Test(.enabled(if: Netns.isAvailable, Netns.skipReason))
  func pingsThroughVethIntoNamespace() async throws {
    let net = try Netns.Fixture(hostSide: true)
    defer { net.tearDown() }

    let peer = try await Pinger.ping(host: net.peer, count: 3, interval: .milliseconds(100))
    #expect(peer.received == 3, "\(peer.summary)")
    #expect(peer.rtts.count == 3 && peer.rtts.allSatisfy { $0 > .zero })

    // The namespace does not forward: the request is dropped in silence.
    let start = ContinuousClock.now
    let silent = try await Pinger.ping(
      host: net.silent, count: 3, interval: .milliseconds(100), timeout: .milliseconds(500))
    let elapsed = ContinuousClock.now - start
    #expect(silent.sent == 3)
    #expect(silent.received == 0)
    #expect(silent.rtts.isEmpty)
    #expect(silent.errors.isEmpty, "\(silent.errors)")
    #expect(silent.summary == "PING \(net.silent) (\(net.silent)): 0/3 replies (100% loss)")
    // It waits for the last timeout (never less than 700 ms), and ends on
    // its own (the bound only catches a hang: with the integration tests
    // holding the cooperative pool, a loaded CI machine took over 10 s).
    #expect(elapsed >= .milliseconds(700) && elapsed < .seconds(60), "\(elapsed)")

    // Now it forwards, into an "unreachable" route: its kernel answers with
    // ICMP host unreachable, which ends the wait early.
    try net.makeSilentAddressUnreachable()
    let refused = try await Pinger.ping(
      host: net.silent, count: 3, interval: .milliseconds(100), timeout: .seconds(2))
    #expect(refused.received == 0)
    #expect(
      refused.errors.contains("destination unreachable (host unreachable) from \(net.peer)"),
      "\(refused.errors)")
    #expect(
      refused.summary.contains("; destination unreachable (host unreachable) from \(net.peer)"))
  }

  /// Cancelling the calling task stops a ping that waits for a reply that
  /// will never come.
  @Test(.enabled(if: Netns.isAvailable, Netns.skipReason))
  func cancellationStopsPromptly() async throws {
    let net = try Netns.Fixture(hostSide: true)
    defer { net.tearDown() }
    let start = ContinuousClock.now
    let task = Task {
      try await Pinger.ping(host: net.silent, count: 1, interval: .zero, timeout: .seconds(30))
    }
    try await Task.sleep(for: .milliseconds(300))
    task.cancel()
    let outcome = await task.result
    let elapsed = ContinuousClock.now - start
    // Left alone, the ping would end after its 30 s timeout with a result
    // (0 replies); a CancellationError proves the cancellation cut it short,
    // however slowly a loaded machine ran the test itself.
    #expect(throws: CancellationError.self) { try outcome.get() }
    _ = elapsed
  }

  /// Both ends in namespaces of our own; the ping thread enters the client
  /// namespace, where `net.ipv4.ping_group_range` allows root's group, so
  /// the unprivileged ping socket is used, and ICMP errors come through its
  /// error queue (IP_RECVERR).
  @Test(.enabled(if: Netns.isAvailable && Netns.canEnterNamespace, Netns.skipReason))
  func datagramSocketInNamespace() async throws {
    let net = try Netns.Fixture(hostSide: false)
    defer { net.tearDown() }
    try net.client(["sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 2147483647"])
    var options = PingOptions()
    options.socketKinds = [.datagram]
    options.threadSetup = net.enterClient

    let peer = try await Pinger.ping(
      host: net.peer, count: 3, interval: .milliseconds(100), timeout: .seconds(1), options: options
    )
    #expect(peer.socketKind == .datagram)
    #expect(peer.received == 3, "\(peer.summary)")

    try net.makeSilentAddressUnreachable()
    let refused = try await Pinger.ping(
      host: net.silent, count: 3, interval: .milliseconds(100), timeout: .seconds(2),
      options: options)
    #expect(refused.received == 0)
    #expect(
      refused.errors.contains("destination unreachable (host unreachable) from \(net.peer)"),
      "\(refused.errors)")

    // With ping sockets refused by the kernel, and no raw fallback: the
    // permission error.
    try net.client(["sysctl", "-q", "-w", "net.ipv4.ping_group_range=1 0"])
    let error = await #expect(throws: PingError.self) {
      try await Pinger.ping(
        host: net.peer, count: 1, interval: .zero, timeout: .seconds(1), options: options)
    }
    #expect(error?.code == .permissionDenied, "\(String(describing: error))")
  }
}

enum Loopback {
  /// Whether `net.ipv4.ping_group_range` includes this process's group, so
  /// that the kernel allows unprivileged ping sockets.
  static let pingSocketsAllowed: Bool = {
    guard
      let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ping_group_range", encoding: .utf8)
    else {
      return false
    }
    let bounds = text.split(whereSeparator: \.isWhitespace).compactMap { Int64($0) }
    guard bounds.count == 2 else { return false }
    return (bounds[0]...max(bounds[0], bounds[1])).contains(Int64(getegid()))
      && bounds[0] <= bounds[1]
  }()

  /// Whether ::1 is configured: a UDP socket can bind to it.
  static let hasIPv6: Bool = {
    let descriptor = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_addr = in6addr_loopback
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0
      }
    }
  }()
}

/// Network namespaces with a veth pair, made with iproute2 and always
/// deleted by the test that made them.
enum Netns {
  static let skipReason: Comment =
    "needs root and iproute2's `ip netns` (network namespaces) to make veth pairs into namespaces of its own"

  static let isAvailable: Bool = geteuid() == 0 && (try? run(["ip", "netns", "list"])) != nil

  /// `setns(2)`, looked up at run time (the C module does not export it).
  typealias SetNamespace = @convention(c) (Int32, Int32) -> Int32
  static let setns: SetNamespace? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns").map {
    unsafeBitCast($0, to: SetNamespace.self)
  }
  static var canEnterNamespace: Bool { setns != nil }
  /// `CLONE_NEWNET` (sched.h).
  static let cloneNewNet: Int32 = 0x4000_0000

  private static let counter = Mutex(0)

  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  /// Runs a command; throws with its standard error when it fails.
  @discardableResult
  static func run(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    // Output through files, not pipes: a server another test starts at the
    // same moment may inherit a pipe's write end, and reading to end of file
    // would then wait for that server to exit.
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-run-\(UUID().uuidString)")
    let outURL = base.appendingPathExtension("out")
    let errURL = base.appendingPathExtension("err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer {
      try? FileManager.default.removeItem(at: outURL)
      try? FileManager.default.removeItem(at: errURL)
    }
    let output = try FileHandle(forWritingTo: outURL)
    let errors = try FileHandle(forWritingTo: errURL)
    defer {
      try? output.close()
      try? errors.close()
    }
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    let data = (try? Data(contentsOf: outURL)) ?? Data()
    let errorData = (try? Data(contentsOf: errURL)) ?? Data()
    guard process.terminationStatus == 0 else {
      throw Failure(
        description:
          "\(arguments.joined(separator: " ")) exited with \(process.terminationStatus): "
          + String(decoding: errorData, as: UTF8.self))
    }
    return String(decoding: data, as: UTF8.self)
  }

  /// Two ends of a veth pair with 10.200.N.1 and 10.200.N.2 (point to
  /// point, no broadcast address), and 10.200.N.3 routed from the client
  /// side to the server side. The server is always a namespace; the client
  /// is this process's namespace (`hostSide`) or a second namespace.
  final class Fixture: Sendable {
    let server: String
    let client: String?
    let clientLink: String
    let serverLink: String
    /// 10.200.N.2: the server end.
    let peer: String
    /// 10.200.N.3: routed to the server, assigned to no one.
    let silent: String

    init(hostSide: Bool) throws {
      let pid = Int(getpid()) % 100_000
      let serial = Netns.counter.withLock { value in
        value += 1
        return value
      }
      server = "vigie-ping-\(pid)-\(serial)-s"
      client = hostSide ? nil : "vigie-ping-\(pid)-\(serial)-c"
      clientLink = "vgp\(pid)c\(serial)"
      serverLink = "vgp\(pid)s\(serial)"
      // A /24 of 10.200 that no interface or route of this machine uses.
      let inUse = (try? Netns.run(["ip", "-4", "-o", "addr", "show"])) ?? ""
      let routes = (try? Netns.run(["ip", "-4", "route", "show", "table", "all"])) ?? ""
      let start = (pid * 7 + serial * 13) % 250
      guard
        let n = (0..<250).lazy.map({ (start + $0) % 250 + 1 }).first(where: {
          !inUse.contains("10.200.\($0).") && !routes.contains("10.200.\($0).")
        })
      else { throw Failure(description: "no free 10.200.N.0/30 on this machine") }
      peer = "10.200.\(n).2"
      silent = "10.200.\(n).3"
      let local = "10.200.\(n).1"

      try Netns.run(["ip", "netns", "add", server])
      do {
        if let client { try Netns.run(["ip", "netns", "add", client]) }
        try Netns.run(["ip", "link", "add", clientLink, "type", "veth", "peer", "name", serverLink])
        try Netns.run(["ip", "link", "set", serverLink, "netns", server])
        if let client { try Netns.run(["ip", "link", "set", clientLink, "netns", client]) }
        try self.server(["ip", "addr", "add", peer, "peer", local, "dev", serverLink])
        try self.server(["ip", "link", "set", serverLink, "up"])
        try self.server(["ip", "link", "set", "lo", "up"])
        try self.client(["ip", "addr", "add", local, "peer", peer, "dev", clientLink])
        try self.client(["ip", "link", "set", clientLink, "up"])
        if client != nil { try self.client(["ip", "link", "set", "lo", "up"]) }
        try self.client(["ip", "route", "add", "\(silent)/32", "via", peer, "dev", clientLink])
        try self.server(["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"])
      } catch {
        tearDown()
        throw error
      }
    }

    /// Runs a command in the server namespace.
    func server(_ arguments: [String]) throws {
      try Netns.run(["ip", "netns", "exec", server] + arguments)
    }

    /// Runs a command in the client namespace, or here for a host-side client.
    func client(_ arguments: [String]) throws {
      if let client {
        try Netns.run(["ip", "netns", "exec", client] + arguments)
      } else {
        try Netns.run(arguments)
      }
    }

    /// Makes the server forward, into an `unreachable` route for the silent
    /// address: its kernel then answers with ICMP host unreachable.
    func makeSilentAddressUnreachable() throws {
      try server(["ip", "route", "add", "unreachable", "\(silent)/32"])
      try server(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
    }

    /// Moves the calling thread into the client namespace (for the ping
    /// thread; the namespace stays with that thread, which then ends).
    @Sendable func enterClient() throws {
      guard let client, let setns = Netns.setns else { return }
      let descriptor = open("/var/run/netns/\(client)", O_RDONLY | O_CLOEXEC)
      guard descriptor >= 0 else { throw Failure(description: "cannot open namespace \(client)") }
      defer { close(descriptor) }
      guard setns(descriptor, Netns.cloneNewNet) == 0 else {
        throw Failure(description: "setns \(client): \(String(cString: strerror(errno)))")
      }
    }

    /// Deletes the namespaces (which deletes the veth pair) and the host end.
    func tearDown() {
      _ = try? Netns.run(["ip", "netns", "del", server])
      if let client { _ = try? Netns.run(["ip", "netns", "del", client]) }
      _ = try? Netns.run(["ip", "link", "del", clientLink])
    }
  }
}
