import Foundation
import Prometheus
import Synchronization
import VigieCore
import VigieModem
import VigieWatchdog

/// `/metrics`: the daemon's state in the Prometheus text format
/// (swift-prometheus), read from the services' boards when scraped.
///
/// Names follow Prometheus conventions: `vigie_` prefix, base units
/// (seconds, bytes), `_total` for counters. Labels are bounded: service and
/// target names come from the configuration, never from the outside.
final class MetricsExporter: Sendable {
  let registry = PrometheusCollectorRegistry()
  /// Last values fed into counters, to add only the difference.
  private let counted = Mutex<[String: Int]>([:])
  /// Targets seen so far, to drop the series of removed ones.
  private let knownTargets = Mutex<Set<String>>([])

  init(version: String) {
    registry.makeGauge(
      name: "vigie_build_info", labels: [("version", version)], help: "Always 1; the version is in the label."
    ).set(1.0)
  }

  func render(
    report: StatusReport, modem: ModemSnapshot?, targets: [WatchdogBoard.Row], queues: [String: OutboxCounts]
  ) -> String {
    registry.makeGauge(name: "vigie_uptime_seconds", help: "Seconds since the daemon started.")
      .set(Double(report.uptimeSeconds))
    for service in report.services {
      registry.makeGauge(
        name: "vigie_service_up", labels: [("service", service.name)],
        help: "1 when the service runs (or is disabled on purpose), 0 when it fails."
      ).set(service.state.isHealthy ? 1.0 : 0.0)
      count(
        "vigie_service_restarts_total", labels: [("service", service.name)], value: service.restarts,
        help: "Restarts of the service since the daemon started.")
    }
    if let modem {
      let registered = modem.registration == "home" || modem.registration == "roaming"
      registry.makeGauge(name: "vigie_modem_registered", help: "1 when the modem is registered on a network.")
        .set(registered ? 1.0 : 0.0)
      if let percent = modem.signalPercent {
        registry.makeGauge(name: "vigie_modem_signal_percent", help: "Signal quality, 0 to 100.").set(Double(percent))
      }
      if let dBm = modem.signalDBm {
        registry.makeGauge(name: "vigie_modem_signal_dbm", help: "Signal strength in dBm.").set(Double(dBm))
      }
      count("vigie_sms_received_total", labels: [], value: modem.smsReceived, help: "SMS received since start.")
      count("vigie_sms_sent_total", labels: [], value: modem.smsSent, help: "SMS sent since start.")
    }
    let names = Set(targets.map(\.name))
    for gone in knownTargets.withLock({ known in
      defer { known = names }
      return known.subtracting(names)
    }) {
      for state in TargetState.allCases {
        registry.unregisterGauge(
          registry.makeGauge(name: "vigie_target_state", labels: [("target", gone), ("state", "\(state)")]))
      }
    }
    for target in targets {
      for state in TargetState.allCases {
        registry.makeGauge(
          name: "vigie_target_state", labels: [("target", target.name), ("state", "\(state)")],
          help: "1 for the target's current state (UP, DOWN, UNREACHABLE, INCONCLUSIVE, UNKNOWN)."
        ).set(target.state == state ? 1.0 : 0.0)
      }
      if let rtt = target.lastRTT {
        registry.makeGauge(
          name: "vigie_target_rtt_seconds", labels: [("target", target.name)], help: "Round trip of the last answer."
        ).set(Double(rtt.components.seconds) + Double(rtt.components.attoseconds) / 1e18)
      }
    }
    for (queue, counts) in queues {
      for (state, value) in [("pending", counts.pending), ("leased", counts.leased), ("dead", counts.dead)] {
        registry.makeGauge(
          name: "vigie_queue_items", labels: [("queue", queue), ("state", state)],
          help: "Items in the durable queues (sms, alerts, ...)."
        ).set(Double(value))
      }
    }
    return registry.emitToString()
  }

  /// Adds the increase of a count read from a board to a counter.
  private func count(_ name: String, labels: [(String, String)], value: Int, help: String) {
    let key = name + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
    let delta = counted.withLock { counted -> Int in
      let previous = counted[key] ?? 0
      counted[key] = value
      return value >= previous ? value - previous : value  // the board restarted from zero
    }
    let counter = registry.makeCounter(name: name, labels: labels, help: help)
    if delta > 0 { counter.increment(by: Int64(delta)) }
  }
}
