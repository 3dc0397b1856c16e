import Foundation
import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What a TCP connection attempt says about a port.
public enum TCPConnectVerdict: Sendable, Hashable, CustomStringConvertible {
  /// The handshake completed (the connection is closed at once).
  case open(rtt: Duration)
  /// The host answered with a reset: nothing listens.
  case closed
  /// No answer before the timeout: a firewall drops the packets, or the host is down.
  case filtered
  /// The network said the host or network cannot be reached (ICMP error,
  /// no route): about our side or the path, not the service.
  case unreachable(String)

  public var description: String {
    switch self {
    case .open(let rtt): "open (\(Self.milliseconds(rtt)) ms)"
    case .closed: "closed"
    case .filtered: "filtered (no answer)"
    case .unreachable(let why): "unreachable (\(why))"
    }
  }

  public static func milliseconds(_ duration: Duration) -> String {
    let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    return String(format: "%.3f", ms)
  }
}

/// The plain `connect()` check (`tcp-connect:PORT`), for hosts where raw
/// sockets are not allowed: it completes the handshake, unlike the SYN probe.
public enum TCPConnectProbe {
  public static func probe(host: String, port: Int, timeout: Duration) async throws -> TCPConnectVerdict {
    guard (1...65535).contains(port) else {
      throw PingError(.invalidArgument, host: host, "port \(port) is not within 1...65535")
    }
    let address = try await HostResolver.resolve(host)
    guard let cancel = CancelSignal() else {
      throw PingError(.socketFailed, host: host, "cannot create a wake-up socket pair: out of descriptors")
    }
    return try await DedicatedThread.run(name: "vigie-tcp-probe", cancellation: .signal(cancel)) {
      try connect(to: address, port: port, host: host, timeout: timeout, cancel: cancel)
    }
  }

  static func connect(to address: SocketAddress, port: Int, host: String, timeout: Duration, cancel: CancelSignal)
    throws -> TCPConnectVerdict
  {
    let fd = socket(
      address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else {
      throw PingError(.socketFailed, host: host, "cannot create a TCP socket: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    // sin_port and sin6_port are both at offset 2, in network byte order.
    var storage = address.storage
    storage[2] = UInt8(port >> 8)
    storage[3] = UInt8(port & 0xFF)
    let started = ContinuousClock.now
    let result = storage.withUnsafeBytes { raw in
      Glibc.connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
    }
    var code = result == 0 ? 0 : errno
    if code == EINPROGRESS {
      var fds = [
        pollfd(fd: fd, events: Int16(POLLOUT), revents: 0),
        pollfd(fd: cancel.descriptor, events: Int16(POLLIN), revents: 0),
      ]
      let deadline = started.advanced(by: timeout)
      while true {
        let remaining = ContinuousClock.now.duration(to: deadline)
        if remaining <= .zero { return .filtered }
        let ms = Int32(
          min(
            Int64(Int32.max),
            remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1))
        let ready = poll(&fds, 2, ms)
        if ready < 0 {
          if errno == EINTR { continue }
          throw PingError(.receiveFailed, host: host, "poll failed: \(String(cString: strerror(errno)))")
        }
        if fds[1].revents != 0 { throw CancellationError() }
        if fds[0].revents != 0 { break }
      }
      var error: Int32 = 0
      var length = socklen_t(MemoryLayout<Int32>.size)
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
      code = error
    }
    switch code {
    case 0: return .open(rtt: started.duration(to: .now))
    case ECONNREFUSED: return .closed
    case ETIMEDOUT: return .filtered
    case EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN, EADDRNOTAVAIL:
      return .unreachable(String(cString: strerror(code)))
    default:
      return .unreachable(String(cString: strerror(code)))
    }
  }
}
