/// The facts the LEDs show, gathered by the daemon from its services.
public struct LightsInput: Sendable, Hashable {
  public var modem: ModemLight
  /// Targets DOWN (their children, UNREACHABLE, are not counted again).
  public var targetsDown: Int
  /// Targets UP; the others have no verdict yet or cannot be judged.
  public var targetsUp: Int
  public var targetsWatched: Int
  /// Problems open and not acknowledged.
  public var openAlerts: Int
  /// A counter that grows with every SMS and transfer: each increase flashes
  /// the activity LED.
  public var activity: Int

  public init(
    modem: ModemLight, targetsDown: Int, targetsUp: Int, targetsWatched: Int, openAlerts: Int, activity: Int
  ) {
    self.modem = modem
    self.targetsDown = targetsDown
    self.targetsUp = targetsUp
    self.targetsWatched = targetsWatched
    self.openAlerts = openAlerts
    self.activity = activity
  }
}

/// The modem's state as the modem LED sees it.
public enum ModemLight: String, Sendable, Hashable, CaseIterable {
  /// No modem, or the modem service is off.
  case absent
  /// Starting, recovering, or not registered on a network.
  case searching
  /// The SIM needs a PIN/PUK Vigie will not enter.
  case pinProblem
  /// Registered with a weak signal.
  case weak
  /// Registered with a usable signal.
  case good

  /// From the modem service's snapshot; `weakBelow` is a signal percentage.
  public init(_ snapshot: ModemSnapshot, weakBelow: Int) {
    switch snapshot.phase {
    case .absent, .disabled: self = .absent
    case .connecting, .recovering: self = .searching
    case .locked: self = .pinProblem
    case .ready:
      switch snapshot.registration {
      case "home", "roaming":
        if let percent = snapshot.signalPercent, percent < weakBelow { self = .weak } else { self = .good }
      default: self = .searching
      }
    }
  }
}

/// The LEDs' roles, in the order `vigie leds test` lights them.
public enum LEDRole: String, Sendable, Hashable, CaseIterable {
  case modem, network, alert, activity
}

/// The state-to-pattern map of `[leds.patterns]`, already parsed.
public struct LEDPatternMap: Sendable, Hashable {
  public var modem: [ModemLight: LEDPatternSpec]
  public var networkUp: LEDPatternSpec
  public var networkDown: LEDPatternSpec
  public var networkNone: LEDPatternSpec
  public var networkUnknown: LEDPatternSpec
  public var alertOpen: LEDPatternSpec
  public var alertNone: LEDPatternSpec
  public var activityIdle: LEDPatternSpec

  public init(
    modem: [ModemLight: LEDPatternSpec], networkUp: LEDPatternSpec, networkDown: LEDPatternSpec,
    networkNone: LEDPatternSpec, networkUnknown: LEDPatternSpec, alertOpen: LEDPatternSpec, alertNone: LEDPatternSpec,
    activityIdle: LEDPatternSpec
  ) {
    self.modem = modem
    self.networkUp = networkUp
    self.networkDown = networkDown
    self.networkNone = networkNone
    self.networkUnknown = networkUnknown
    self.alertOpen = alertOpen
    self.alertNone = alertNone
    self.activityIdle = activityIdle
  }

  /// What each role shows for `input`.
  public func patterns(for input: LightsInput) -> [LEDRole: LEDPattern] {
    let network: LEDPattern =
      if input.targetsWatched == 0 {
        networkNone.pattern(count: 0)
      } else if input.targetsDown > 0 {
        networkDown.pattern(count: input.targetsDown)
      } else if input.targetsUp == input.targetsWatched {
        networkUp.pattern(count: 0)
      } else {
        networkUnknown.pattern(count: 0)
      }
    return [
      .modem: (modem[input.modem] ?? .fixed(.off)).pattern(count: 0),
      .network: network,
      .alert: input.openAlerts > 0 ? alertOpen.pattern(count: input.openAlerts) : alertNone.pattern(count: 0),
      .activity: activityIdle.pattern(count: 0),
    ]
  }
}

/// What the LED service does with each reading of the state: post the
/// patterns when they change, flash the activity LED when the activity
/// counter grew (not at the first reading, nor when it restarted lower).
public struct LightsTracker: Sendable {
  public let map: LEDPatternMap
  private var lastPatterns: [LEDRole: LEDPattern]?
  private var lastActivity: Int?

  public init(map: LEDPatternMap) { self.map = map }

  /// The patterns to post (nil: unchanged) and whether to flash.
  public mutating func step(_ input: LightsInput) -> (patterns: [LEDRole: LEDPattern]?, flash: Bool) {
    let patterns = map.patterns(for: input)
    let changed = patterns != lastPatterns
    lastPatterns = patterns
    let flash = lastActivity.map { input.activity > $0 } ?? false
    lastActivity = input.activity
    return (changed ? patterns : nil, flash)
  }
}
