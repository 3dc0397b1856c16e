/// The global packet budget (`max_packets_per_second`): a token bucket that
/// lets callers queue in debt (unlike IRC flood control's `TokenBucket`, which
/// refuses when empty); it says how long to wait before each packet. Times
/// are passed in (no clock).
public struct PacketRate: Sendable, Hashable {
  /// Tokens added per second.
  public let rate: Double
  /// The most tokens kept (a burst after a quiet time).
  public let burst: Double
  private var tokens: Double
  private var last: Duration

  /// A full bucket at time `now`; `rate` and `burst` are at least 1.
  public init(rate: Double, burst: Double, now: Duration = .zero) {
    self.rate = max(1, rate)
    self.burst = max(1, burst)
    tokens = self.burst
    last = now
  }

  /// Takes `packets` tokens at `now` and returns how long the caller must
  /// wait before sending them (zero when the bucket had them). Waiting
  /// callers are served in the order they asked: the bucket goes into debt.
  public mutating func reserve(_ packets: Int = 1, at now: Duration) -> Duration {
    if now > last {
      let elapsed =
        Double(now.components.seconds) - Double(last.components.seconds)
        + (Double(now.components.attoseconds) - Double(last.components.attoseconds)) / 1e18
      tokens = min(burst, tokens + elapsed * rate)
      last = now
    }
    tokens -= Double(max(0, packets))
    guard tokens < 0 else { return .zero }
    return .nanoseconds(Int64((-tokens / rate * 1e9).rounded(.up)))
  }
}

/// An IPv4 network written `A.B.C.D/N`, for `vigie probe --sweep`.
public struct IPv4Network: Sendable, Hashable, CustomStringConvertible {
  public var address: IPv4Address
  public var prefixLength: Int

  /// Parses `10.0.0.0/24` (host bits may be set: they are ignored). The
  /// prefix is 16 to 32: a sweep of more than 65,536 addresses is refused.
  public static func parse(_ text: String) -> Result<IPv4Network, CIDRError> {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let address = IPAddressText.parseIPv4(String(parts[0])), let length = Int(parts[1]),
      parts[1].allSatisfy(\.isNumber)
    else { return .failure(CIDRError("\"\(text)\" is not an IPv4 network like 10.0.0.0/24")) }
    guard (16...32).contains(length) else {
      return .failure(CIDRError("/\(length) is too wide or invalid: sweep a /16 to a /32"))
    }
    let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << (32 - length)
    return .success(IPv4Network(address: IPv4Address(address.value & mask), prefixLength: length))
  }

  public struct CIDRError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
  }

  /// The host addresses: all of a /31 or /32, otherwise without the network
  /// and broadcast addresses.
  public var hosts: [IPv4Address] {
    let size = UInt32(1) << (32 - prefixLength)
    let base = address.value
    if prefixLength >= 31 { return (0..<size).map { IPv4Address(base + $0) } }
    return (1..<(size - 1)).map { IPv4Address(base + $0) }
  }

  public var description: String { "\(address)/\(prefixLength)" }
}
