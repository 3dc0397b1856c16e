import VigieCore

/// Shorthands for the watchdog tests.
enum Probe {
  static let ok = ProbeOutcome.success(rtt: .milliseconds(5))
  static let lost = ProbeOutcome.failure(ProbeFailure(.timeout, "no echo reply"))
  static let ours = ProbeOutcome.inconclusive(InconclusiveReason(.sendFailed, "no buffer space"))

  /// `S` success, `F` failure, `I` inconclusive; anything else is ignored.
  static func pattern(_ text: String) -> [ProbeOutcome] {
    text.compactMap { character in
      switch character {
      case "S": ok
      case "F": lost
      case "I": ours
      default: nil
      }
    }
  }
}

func at(_ seconds: Int64) -> WatchTime { .seconds(seconds) }

extension WatchEvent {
  var isDown: Bool { if case .down = kind { true } else { false } }
  var isUp: Bool { if case .up = kind { true } else { false } }
  var isUnreachable: Bool { if case .unreachable = kind { true } else { false } }
  var isFlappingStarted: Bool { if case .flappingStarted = kind { true } else { false } }
  var isFlappingStopped: Bool { if case .flappingStopped = kind { true } else { false } }
  var isUplinkDown: Bool { if case .uplinkDown = kind { true } else { false } }
  var isUplinkUp: Bool { if case .uplinkUp = kind { true } else { false } }

  /// A short tag for comparing event sequences: `down`, `up`, `unreachable`,
  /// `flap+`, `flap-(UP)`, `uplink-down`, `uplink-up`.
  var tag: String {
    switch kind {
    case .down: "down"
    case .up: "up"
    case .unreachable: "unreachable"
    case .flappingStarted: "flap+"
    case .flappingStopped(let state): "flap-(\(state))"
    case .uplinkDown: "uplink-down"
    case .uplinkUp: "uplink-up"
    }
  }
}

/// Feeds `pattern` to `monitor`, one result every `step` seconds from
/// `start`; returns the events with the 1-based index of the result that
/// produced them.
func feed(
  _ monitor: inout TargetMonitor, _ pattern: String, start: Int64 = 0, step: Int64 = 10
) -> [(index: Int, event: WatchEvent)] {
  var events: [(index: Int, event: WatchEvent)] = []
  for (offset, outcome) in Probe.pattern(pattern).enumerated() {
    let time = at(start + Int64(offset) * step)
    for event in monitor.record(outcome, at: time) { events.append((offset + 1, event)) }
  }
  return events
}

/// Checks that announcements make sense one target at a time: DOWN and UP
/// alternate starting with DOWN, the same for the uplink and for flapping.
/// Returns the problems found.
func announcementProblems(_ events: [WatchEvent]) -> [String] {
  var problems: [String] = []
  var down: Set<String> = []
  var uplinkDown = false
  var flapping: Set<String> = []
  for event in events {
    switch event.kind {
    case .down:
      if !down.insert(event.target).inserted { problems.append("second DOWN without UP: \(event)") }
    case .up:
      if down.remove(event.target) == nil { problems.append("UP without a prior DOWN: \(event)") }
    case .uplinkDown:
      if uplinkDown { problems.append("second uplink DOWN: \(event)") }
      uplinkDown = true
    case .uplinkUp:
      if !uplinkDown { problems.append("uplink UP without a prior DOWN: \(event)") }
      uplinkDown = false
    case .flappingStarted:
      if !flapping.insert(event.target).inserted {
        problems.append("flapping started twice: \(event)")
      }
    case .flappingStopped:
      if flapping.remove(event.target) == nil {
        problems.append("flapping stopped without start: \(event)")
      }
    case .unreachable:
      break
    }
  }
  return problems
}
