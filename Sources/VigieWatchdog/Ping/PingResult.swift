import VigieCore

/// Which kind of ICMP socket a ping used.
public enum PingSocketKind: Sendable, Hashable, CustomStringConvertible {
  /// An unprivileged "ping socket" (`SOCK_DGRAM`, `IPPROTO_ICMP` or
  /// `IPPROTO_ICMPV6`), allowed for the groups in `net.ipv4.ping_group_range`.
  /// The kernel chooses the echo identifier and delivers only our replies.
  case datagram
  /// A raw socket (`SOCK_RAW`), which needs CAP_NET_RAW and sees every ICMP
  /// message the host receives.
  case raw

  public var description: String {
    switch self {
    case .datagram: "datagram"
    case .raw: "raw"
    }
  }
}

/// The outcome of ``Pinger/ping(host:count:interval:timeout:)``.
public struct PingResult: Sendable, Hashable {
  /// The host as given.
  public var host: String
  /// The address pinged (the first one the host resolved to).
  public var address: IPAddress
  /// The kind of socket used.
  public var socketKind: PingSocketKind
  /// Echo requests sent (attempted: a request the kernel refused to send
  /// counts, with an entry in ``errors``).
  public var sent: Int
  /// Requests answered by an echo reply within the timeout (duplicates and
  /// late replies do not count).
  public var received: Int
  /// Round-trip times of the replies, in the order they arrived. Taken from
  /// the kernel's receive timestamps (`SO_TIMESTAMPNS`) when available.
  public var rtts: [Duration]
  /// What went wrong, each distinct message once, in the order seen: ICMP
  /// errors (`destination unreachable (host unreachable) from 192.0.2.1`)
  /// and refused sends.
  public var errors: [String]

  /// A result; ``summary`` is computed from these.
  public init(
    host: String, address: IPAddress, socketKind: PingSocketKind, sent: Int, received: Int,
    rtts: [Duration],
    errors: [String]
  ) {
    self.host = host
    self.address = address
    self.socketKind = socketKind
    self.sent = sent
    self.received = received
    self.rtts = rtts
    self.errors = errors
  }

  /// The share of requests without a reply, in whole percent (rounded down,
  /// like ping(8)).
  public var lossPercent: Int { sent == 0 ? 0 : (sent - received) * 100 / sent }

  /// One line fit for an SMS, e.g.
  /// `PING 127.0.0.1 (127.0.0.1): 3/3 replies, rtt min/avg/max 0.041/0.052/0.063 ms`,
  /// `PING 192.0.2.1 (192.0.2.1): 0/3 replies (100% loss)`, with the first
  /// error appended after `; ` when there is one.
  public var summary: String {
    var line = "PING \(host) (\(address)): \(received)/\(sent) replies"
    if received < sent { line += " (\(lossPercent)% loss)" }
    if let minimum = rtts.min(), let maximum = rtts.max() {
      let total = rtts.reduce(Duration.zero, +)
      let average = total / rtts.count
      line +=
        ", rtt min/avg/max \(Self.milliseconds(minimum))/\(Self.milliseconds(average))/\(Self.milliseconds(maximum)) ms"
    }
    if let error = errors.first {
      line += "; " + error
      if errors.count > 1 { line += " (+\(errors.count - 1) more)" }
    }
    return line
  }

  /// `0.041` for 41 µs: milliseconds with three decimals, rounded, without
  /// locale.
  static func milliseconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    let micros = seconds * 1_000_000 + (attoseconds + 500_000_000_000) / 1_000_000_000_000
    let fraction = String(micros % 1000)
    return "\(micros / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
  }
}
