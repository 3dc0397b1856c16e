import Foundation
import Logging
import VigieCore

/// The built-in targets of `[watchdog]`: `gateway` (ICMP to the default
/// gateway, followed when the routing table changes), `resolver` (`dns` on
/// the configured resolver) and whether the uplink `internet` is watched.
/// A configured target of the same name replaces the implicit one.
struct ImplicitTargets {
  let config: WatchdogConfig
  /// Where the routing table and resolver list are read (tests may point
  /// elsewhere).
  var routeFile = "/proc/net/route"
  var resolvConf = "/etc/resolv.conf"
  private(set) var gatewayAddress = ""
  private(set) var resolverAddress = ""
  private let names: Set<String>

  init(config: WatchdogConfig) {
    self.config = config
    names = config.implicitTargetNames
  }

  var hasGateway: Bool { names.contains("gateway") }
  var hasResolver: Bool { names.contains("resolver") }
  var watchesUplink: Bool { names.contains(TargetGraph.uplinkName) }

  /// Re-reads the routing table and resolv.conf (for `auto`), logging changes.
  mutating func refresh(logger: Logger) {
    if hasGateway {
      let address: String
      if config.gateway == "auto" {
        let routes = SystemNetwork.ipv4Routes((try? String(contentsOfFile: routeFile, encoding: .utf8)) ?? "")
        address = SystemNetwork.defaultGateway(routes)?.address.description ?? ""
      } else {
        address = config.gateway
      }
      if address != gatewayAddress {
        logger.notice(
          address.isEmpty ? "no default gateway" : "default gateway is \(address)",
          metadata: gatewayAddress.isEmpty ? [:] : ["was": "\(gatewayAddress)"])
        gatewayAddress = address
      }
    }
    if hasResolver {
      let address: String
      if config.resolver == "auto" {
        let text = (try? String(contentsOfFile: resolvConf, encoding: .utf8)) ?? ""
        address = SystemNetwork.nameservers(text).first?.description ?? ""
      } else {
        address = config.resolver
      }
      if address != resolverAddress {
        logger.notice(address.isEmpty ? "no DNS resolver configured" : "DNS resolver is \(address)")
        resolverAddress = address
      }
    }
  }

  /// The implicit targets (hosts as last refreshed).
  var targets: [WatchTarget] {
    var list: [WatchTarget] = []
    if hasGateway {
      var gateway = WatchTarget()
      gateway.name = "gateway"
      gateway.host = gatewayAddress
      gateway.probe = "icmp"
      list.append(gateway)
    }
    if hasResolver {
      var resolver = WatchTarget()
      resolver.name = "resolver"
      resolver.host = resolverAddress
      resolver.probe = "dns"
      if hasGateway && !resolverIsDirect { resolver.dependsOn = ["gateway"] }
      list.append(resolver)
    }
    return list
  }

  /// Whether the resolver is local or on a connected network (not behind
  /// the gateway).
  var resolverIsDirect: Bool {
    switch IPAddressText.parse(resolverAddress) {
    case .v4(let v4):
      let routes = SystemNetwork.ipv4Routes((try? String(contentsOfFile: routeFile, encoding: .utf8)) ?? "")
      return SystemNetwork.isDirectlyReached(v4, routes: routes)
    case .v6(let v6): return v6 == .loopback
    case nil: return false
    }
  }

  /// `targets` with the implicit ones' current hosts.
  func apply(to targets: [WatchTarget]) -> [WatchTarget] {
    targets.map { target in
      var target = target
      if hasGateway && target.name == "gateway" { target.host = gatewayAddress }
      if hasResolver && target.name == "resolver" { target.host = resolverAddress }
      return target
    }
  }
}
