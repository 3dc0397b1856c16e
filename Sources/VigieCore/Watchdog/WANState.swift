/// Whether the box reaches the internet, as STATUS says it in one line.
///
/// Derived from the watchdog's verdicts (``derive(uplink:internet:)``): the
/// uplink's state when the uplink is watched, else the targets reached
/// through it (`depends_on = ["internet"]`); `unknown` when nothing the
/// watchdog probes says anything about the WAN.
public enum WANState: Sendable, Hashable {
  /// The WAN answers.
  case up
  /// The WAN does not answer, since `since` (Unix seconds) when known.
  case down(since: Int64?)
  /// No verdict, and why (`no watchdog targets`, `not probed yet`...).
  case unknown(String)

  /// One watched thing's verdict and, when down, when its outage began
  /// (Unix seconds).
  public struct Verdict: Sendable, Hashable {
    public var state: TargetState
    public var outageSince: Int64?

    public init(state: TargetState, outageSince: Int64? = nil) {
      self.state = state
      self.outageSince = outageSince
    }
  }

  /// The WAN state from the uplink's verdict (nil when the uplink is not
  /// watched) and the verdicts of the internet targets.
  ///
  /// With the uplink watched, its verdict decides (UNREACHABLE, behind a
  /// down gateway, is down too). Without it, the WAN is up when any internet
  /// target answers, down when every internet target with a verdict is down
  /// or unreachable (since the earliest outage), unknown otherwise.
  public static func derive(uplink: Verdict?, internet: [Verdict]) -> WANState {
    if let uplink {
      switch uplink.state {
      case .up: return .up
      case .down, .unreachable: return .down(since: uplink.outageSince)
      case .unknown: return .unknown("not probed yet")
      case .inconclusive: return .unknown("inconclusive")
      }
    }
    guard !internet.isEmpty else { return .unknown("no internet target watched") }
    if internet.contains(where: { $0.state == .up }) { return .up }
    let decided = internet.filter { $0.state == .down || $0.state == .unreachable }
    guard !decided.isEmpty, decided.count == internet.filter({ $0.state != .unknown }).count else {
      return .unknown(internet.allSatisfy { $0.state == .unknown } ? "not probed yet" : "inconclusive")
    }
    return .down(since: decided.compactMap(\.outageSince).min())
  }

  /// `WAN up`, `WAN down since 14:05`, `WAN down`, `WAN unknown (...)`.
  /// `utcOffset` is the local time's offset from UTC in seconds.
  public func line(utcOffset: Int) -> String {
    switch self {
    case .up: "WAN up"
    case .down(let since?): "WAN down since " + Self.clock(since, utcOffset: utcOffset)
    case .down(nil): "WAN down"
    case .unknown(let reason): "WAN unknown (\(reason))"
    }
  }

  /// The short SMS form: `WAN up`, `WAN down 14:05`, `WAN ?`.
  public func compact(utcOffset: Int) -> String {
    switch self {
    case .up: "WAN up"
    case .down(let since?): "WAN DOWN " + Self.clock(since, utcOffset: utcOffset)
    case .down(nil): "WAN DOWN"
    case .unknown: "WAN ?"
    }
  }

  /// `HH:MM` of Unix time `unix` in the zone `utcOffset` seconds from UTC.
  public static func clock(_ unix: Int64, utcOffset: Int) -> String {
    let local = unix + Int64(utcOffset)
    let secondOfDay = ((local % 86_400) + 86_400) % 86_400
    let hour = Int(secondOfDay / 3600)
    let minute = Int(secondOfDay % 3600 / 60)
    return (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
  }
}
