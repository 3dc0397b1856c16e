/// The implicit targets' sources, parsed from the text of Linux files (the
/// caller reads them): the default gateway from `/proc/net/route` and
/// `/proc/net/ipv6_route`, the resolvers from `/etc/resolv.conf`.
public enum SystemNetwork {
  /// One IPv4 route of `/proc/net/route`.
  public struct Route: Sendable, Hashable {
    public var interface: String
    public var destination: IPv4Address
    public var gateway: IPv4Address
    public var mask: IPv4Address
    public var metric: Int
    public var flags: Int

    public var isUp: Bool { flags & 0x1 != 0 }
    public var hasGateway: Bool { flags & 0x2 != 0 }
    public var isDefault: Bool { destination.value == 0 && mask.value == 0 }

    /// Whether `address` is within this route's destination.
    public func covers(_ address: IPv4Address) -> Bool {
      address.value & mask.value == destination.value & mask.value
    }
  }

  /// Parses `/proc/net/route` (header line, then one route a line with
  /// addresses in hexadecimal, host byte order: little-endian on the Pi and
  /// x86). Malformed lines are skipped.
  public static func ipv4Routes(_ text: String) -> [Route] {
    text.split(separator: "\n").dropFirst().compactMap { line in
      let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard fields.count >= 8, let destination = UInt32(fields[1], radix: 16),
        let gateway = UInt32(fields[2], radix: 16), let flags = Int(fields[3], radix: 16),
        let metric = Int(fields[6]), let mask = UInt32(fields[7], radix: 16)
      else { return nil }
      return Route(
        interface: String(fields[0]), destination: IPv4Address(destination.byteSwapped),
        gateway: IPv4Address(gateway.byteSwapped), mask: IPv4Address(mask.byteSwapped), metric: metric, flags: flags)
    }
  }

  /// The IPv4 default gateway of lowest metric that is up, with its
  /// interface; nil when there is none.
  public static func defaultGateway(_ routes: [Route]) -> (address: IPv4Address, interface: String)? {
    routes.filter { $0.isDefault && $0.isUp && $0.hasGateway && $0.gateway.value != 0 }
      .min { $0.metric < $1.metric }
      .map { ($0.gateway, $0.interface) }
  }

  /// Parses `/proc/net/ipv6_route` and gives the default gateway of lowest
  /// metric (destination ::/0 with a next hop), with its interface.
  public static func ipv6DefaultGateway(_ text: String) -> (address: IPv6Address, interface: String)? {
    var best: (IPv6Address, String, UInt32)?
    for line in text.split(separator: "\n") {
      let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard fields.count >= 10, fields[0].count == 32, fields[4].count == 32,
        let prefix = Int(fields[1], radix: 16), prefix == 0, fields[0].allSatisfy({ $0 == "0" }),
        let hop = hexAddress(fields[4]), hop != IPv6Address(high: 0, low: 0),
        let metric = UInt32(fields[5], radix: 16), let flags = UInt32(fields[8], radix: 16), flags & 0x1 != 0
      else { continue }
      if best == nil || metric < best!.2 { best = (hop, String(fields[9]), metric) }
    }
    return best.map { ($0.0, $0.1) }
  }

  static func hexAddress(_ text: Substring) -> IPv6Address? {
    guard text.count == 32, let high = UInt64(text.prefix(16), radix: 16), let low = UInt64(text.suffix(16), radix: 16)
    else { return nil }
    return IPv6Address(high: high, low: low)
  }

  /// Whether `address` is reached without a gateway (a connected route
  /// covers it), or is a loopback address.
  public static func isDirectlyReached(_ address: IPv4Address, routes: [Route]) -> Bool {
    if address.value >> 24 == 127 { return true }
    return routes.contains { $0.isUp && !$0.hasGateway && !$0.isDefault && $0.covers(address) }
  }

  /// The `nameserver` addresses of a resolv.conf, in order (comments, other
  /// keywords and addresses that do not parse are skipped; a zone index
  /// `%eth0` is dropped).
  public static func nameservers(_ text: String) -> [IPAddress] {
    text.split(separator: "\n").compactMap { line in
      let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard fields.count >= 2, fields[0] == "nameserver" else { return nil }
      let value = fields[1].split(separator: "%").first.map(String.init) ?? ""
      return IPAddressText.parse(value)
    }
  }
}

/// Address literals, as written in configuration files.
public enum IPAddressText {
  /// A dotted-quad IPv4 address or an IPv6 address (with `::`); nil else.
  public static func parse(_ text: String) -> IPAddress? {
    if let v4 = parseIPv4(text) { return .v4(v4) }
    return parseIPv6(text).map { .v6($0) }
  }

  public static func parseIPv4(_ text: String) -> IPv4Address? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var bytes: [UInt8] = []
    for part in parts {
      guard (1...3).contains(part.count), part.allSatisfy(\.isASCII), let value = UInt8(part) else { return nil }
      bytes.append(value)
    }
    return IPv4Address(bytes: bytes)
  }

  public static func parseIPv6(_ text: String) -> IPv6Address? {
    guard text.contains(":"), text.count <= 45 else { return nil }
    let halves = text.split(separator: "::", omittingEmptySubsequences: false).map(String.init)
    guard halves.count <= 2 else { return nil }
    func groups(_ part: String) -> [UInt16]? {
      if part.isEmpty { return [] }
      var result: [UInt16] = []
      let items = part.split(separator: ":", omittingEmptySubsequences: false)
      for (index, item) in items.enumerated() {
        if index == items.count - 1, item.contains("."), let v4 = parseIPv4(String(item)) {
          result += [UInt16(v4.value >> 16), UInt16(v4.value & 0xFFFF)]
        } else {
          guard (1...4).contains(item.count), let value = UInt16(item, radix: 16) else { return nil }
          result.append(value)
        }
      }
      return result
    }
    guard let head = groups(halves[0]) else { return nil }
    var all = head
    if halves.count == 2 {
      guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
      all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
    }
    guard all.count == 8 else { return nil }
    let high = all[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
    let low = all[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
    return IPv6Address(high: high, low: low)
  }
}
