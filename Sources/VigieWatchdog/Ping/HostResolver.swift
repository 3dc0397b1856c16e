#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Host name to address with `getaddrinfo`, which blocks (DNS, /etc/hosts):
/// it runs on a thread of its own.
enum HostResolver {
  /// The first IPv4 or IPv6 address of `host`, in the order `getaddrinfo`
  /// gives them (RFC 6724 preference). A cancelled caller returns at once;
  /// the lookup finishes in the background and is dropped.
  static func resolve(_ host: String) async throws -> SocketAddress {
    try await DedicatedThread.run(name: "vigie-resolve", cancellation: .abandon) {
      try resolveBlocking(host)
    }
  }

  /// The same, blocking the calling thread.
  static func resolveBlocking(_ host: String) throws(PingError) -> SocketAddress {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    // One entry per address (without it each comes once per socket type).
    hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, nil, &hints, &list)
    let savedErrno = errno
    guard status == 0 else {
      let underlying =
        status == EAI_SYSTEM
        ? SystemCallError("getaddrinfo", errno: savedErrno)
        : SystemCallError("getaddrinfo", code: status, text: String(cString: gai_strerror(status)))
      throw PingError(
        .resolutionFailed, host: host,
        "cannot resolve '\(host)': \(underlying.text); check the host name and the DNS servers (/etc/resolv.conf)",
        underlyingError: underlying)
    }
    defer { freeaddrinfo(list) }
    var entry = list
    while let current = entry {
      if let sockaddr = current.pointee.ai_addr,
        let address = SocketAddress(
          UnsafeRawBufferPointer(start: sockaddr, count: Int(current.pointee.ai_addrlen)))
      {
        return address
      }
      entry = current.pointee.ai_next
    }
    throw PingError(
      .resolutionFailed, host: host,
      "cannot resolve '\(host)': no IPv4 or IPv6 address; check the host name and the DNS servers (/etc/resolv.conf)"
    )
  }
}
