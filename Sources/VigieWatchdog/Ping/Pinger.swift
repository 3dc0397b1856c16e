import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// ICMP echo ("ping") for the `PING host` command.
///
/// The host is resolved with `getaddrinfo` (IPv4 or IPv6, the first address
/// it gives), then echo requests carrying Vigie's 56-byte payload go out on
/// an unprivileged ping socket (`SOCK_DGRAM`, allowed by
/// `net.ipv4.ping_group_range`) or, failing that, a raw socket (CAP_NET_RAW).
/// Both the lookup and the send/receive loop run on threads of their own,
/// never on Swift's cooperative pool; cancelling the calling task stops the
/// loop at once.
public struct Pinger: Sendable {
  /// Largest `count` accepted.
  public static let maximumCount = 1000
  /// Longest `interval` or `timeout` accepted.
  public static let maximumWait = Duration.seconds(60)

  /// Sends `count` echo requests to `host`, one every `interval`, and waits
  /// up to `timeout` after each for its reply.
  ///
  /// A host that does not answer is not an error: the result then has no
  /// replies (see ``PingResult/summary``). Throws ``PingError`` when the
  /// host cannot be resolved (``PingError/Code/resolutionFailed``), when no
  /// ICMP socket may be opened (``PingError/Code/permissionDenied``: CAP_NET_RAW
  /// or `net.ipv4.ping_group_range` is needed) or for an argument out of
  /// range, and `CancellationError` when the calling task is cancelled.
  public static func ping(
    host: String, count: Int = 3, interval: Duration = .milliseconds(200),
    timeout: Duration = .seconds(1)
  ) async throws -> PingResult {
    try await ping(
      host: host, count: count, interval: interval, timeout: timeout, options: PingOptions())
  }

  /// ``ping(host:count:interval:timeout:)`` with test hooks.
  static func ping(
    host: String, count: Int, interval: Duration, timeout: Duration, options: PingOptions
  ) async throws -> PingResult {
    guard !host.isEmpty, !host.utf8.contains(0) else {
      throw PingError(
        .invalidArgument, host: host,
        "cannot ping '\(host)': the host name is empty or has a NUL byte")
    }
    guard (1...maximumCount).contains(count) else {
      throw PingError(
        .invalidArgument, host: host,
        "cannot ping \(host) \(count) times: the count must be between 1 and \(maximumCount)")
    }
    guard interval >= .zero, interval <= maximumWait else {
      throw PingError(
        .invalidArgument, host: host,
        "cannot ping \(host) every \(interval): the interval must be between 0 and \(maximumWait)")
    }
    guard timeout > .zero, timeout <= maximumWait else {
      throw PingError(
        .invalidArgument, host: host,
        "cannot ping \(host) with a timeout of \(timeout): it must be above 0 and at most \(maximumWait)"
      )
    }
    let target = try await HostResolver.resolve(host)
    try Task.checkCancellation()
    guard let signal = CancelSignal() else {
      let error = SystemCallError("socketpair", errno: errno)
      throw PingError(
        .socketFailed, host: host,
        "cannot ping \(host): no socket pair for cancellation (\(error.text)); the process may be out of file descriptors",
        underlyingError: error)
    }
    let plan = PingPlan(
      host: host, target: target, count: count, interval: interval.nanoseconds,
      timeout: timeout.nanoseconds,
      options: options)
    return try await DedicatedThread.run(name: "vigie-ping", cancellation: .signal(signal)) {
      try PingSession(plan: plan, cancel: signal).run()
    }
  }
}

/// Hooks for tests; the defaults are what production uses.
struct PingOptions: Sendable {
  /// Socket kinds to try, in order.
  var socketKinds: [PingSocketKind] = [.datagram, .raw]
  /// Runs first on the ping thread, e.g. to enter a network namespace
  /// (`setns` changes only the calling thread's namespace).
  var threadSetup: (@Sendable () throws -> Void)?
  /// Opens a socket: returns the descriptor, or -1 and the errno. Tests
  /// replace it to simulate a refusal.
  var openSocket:
    @Sendable (_ family: Int32, _ type: Int32, _ protocol: Int32) -> (
      descriptor: Int32, errno: Int32
    ) = {
      let descriptor = socket($0, $1, $2)
      return (descriptor, descriptor < 0 ? errno : 0)
    }
}

/// Everything the ping thread needs, as Sendable values.
struct PingPlan: Sendable {
  let host: String
  let target: SocketAddress
  let count: Int
  /// Nanoseconds.
  let interval: Int64
  /// Nanoseconds.
  let timeout: Int64
  let options: PingOptions
}

extension Duration {
  /// Whole nanoseconds, saturating.
  var nanoseconds: Int64 {
    let (seconds, attoseconds) = components
    let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    guard !overflow else { return seconds < 0 ? .min : .max }
    return product.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
  }
}
