import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A `sockaddr_in` or `sockaddr_in6` kept as bytes, so that it is a plain
/// Sendable value that can cross to the ping thread.
struct SocketAddress: Sendable, Hashable {
  /// The sockaddr bytes (`sockaddr_in` or `sockaddr_in6`).
  let storage: [UInt8]
  /// `AF_INET` or `AF_INET6`.
  let family: Int32
  /// The address without port or zone.
  let address: IPAddress

  /// Reads a `sockaddr_in` or `sockaddr_in6` from `bytes`; nil for another
  /// family or too few bytes.
  init?(_ bytes: UnsafeRawBufferPointer) {
    guard bytes.count >= MemoryLayout<sa_family_t>.size else { return nil }
    let family = Int32(bytes.loadUnaligned(as: sa_family_t.self))
    switch family {
    case AF_INET:
      guard bytes.count >= MemoryLayout<sockaddr_in>.size else { return nil }
      let sin = bytes.loadUnaligned(as: sockaddr_in.self)
      address = .v4(IPv4Address(UInt32(bigEndian: sin.sin_addr.s_addr)))
      storage = Array(bytes.prefix(MemoryLayout<sockaddr_in>.size))
    case AF_INET6:
      guard bytes.count >= MemoryLayout<sockaddr_in6>.size else { return nil }
      var sin6 = bytes.loadUnaligned(as: sockaddr_in6.self)
      guard let v6 = withUnsafeBytes(of: &sin6.sin6_addr, { IPv6Address(bytes: $0) }) else {
        return nil
      }
      address = .v6(v6)
      storage = Array(bytes.prefix(MemoryLayout<sockaddr_in6>.size))
    default:
      return nil
    }
    self.family = family
  }

  /// Calls `body` with the sockaddr pointer and length, for `sendto`.
  func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    storage.withUnsafeBytes { raw in
      // `storage` holds a complete sockaddr_in or sockaddr_in6 (checked in
      // init); sockaddr is their common prefix.
      body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
    }
  }
}
