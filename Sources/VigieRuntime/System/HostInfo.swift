import Foundation

/// Facts about the host for STATUS and IP: interface addresses and disk space.
public enum HostInfo {
  public struct InterfaceAddress: Sendable, Hashable {
    public var interface: String
    public var address: String
    public var isIPv6: Bool
  }

  /// Addresses of the interfaces that are up, loopback and link-local excluded.
  public static func addresses() -> [InterfaceAddress] {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0, let first = list else { return [] }
    defer { freeifaddrs(list) }
    var result: [InterfaceAddress] = []
    var cursor: UnsafeMutablePointer<ifaddrs>? = first
    while let entry = cursor {
      defer { cursor = entry.pointee.ifa_next }
      let flags = Int32(entry.pointee.ifa_flags)
      guard flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0, let address = entry.pointee.ifa_addr else {
        continue
      }
      let family = Int32(address.pointee.sa_family)
      guard family == AF_INET || family == AF_INET6 else { continue }
      var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
      let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
      guard getnameinfo(address, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
      let text = host.withUnsafeBytes { bytes in
        String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if family == AF_INET6, text.lowercased().hasPrefix("fe80") { continue }
      result.append(
        InterfaceAddress(interface: String(cString: entry.pointee.ifa_name), address: text, isIPv6: family == AF_INET6))
    }
    return result
  }

  /// `eth0 192.168.1.20, wwan0 10.64.1.7`.
  public static func addressSummary() -> String {
    let all = addresses()  // one getifaddrs per summary
    let list = all.filter { !$0.isIPv6 } + all.filter(\.isIPv6)
    return list.isEmpty ? "no address" : list.map { "\($0.interface) \($0.address)" }.joined(separator: ", ")
  }

  /// Free and total bytes of the file system holding `path`.
  public static func disk(at path: String) -> (free: Int64, total: Int64)? {
    var info = statvfs()
    guard statvfs(path, &info) == 0 else { return nil }
    let unit = Int64(info.f_frsize)
    return (Int64(info.f_bavail) * unit, Int64(info.f_blocks) * unit)
  }
}
