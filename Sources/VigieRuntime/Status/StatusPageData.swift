import Foundation
import VigieCore
import VigieModem
import VigieStatus
import VigieWatchdog

extension Daemon {
  /// What the status page and `/api/status` show.
  func statusPageModel() async -> StatusPageModel {
    let config = currentConfig
    let report = statusReport()
    let now = Int(Date().timeIntervalSince1970)
    let historySeconds = Int(config.status.history.components.seconds)
    let resources = self.openResources
    var signal: [SVGGraph.Point] = []
    if config.modem.enabled, let modemStore = resources?.modemStore,
      let rows = try? await modemStore.signalHistory(since: now - historySeconds)
    {
      signal = rows.map { SVGGraph.Point(time: $0.at, value: $0.percent.map(Double.init)) }
    }
    var alerts: [StatusPageModel.Alert] = []
    if let outbox = resources?.outbox, let items = try? await outbox.recent(queue: ModemStore.alertQueue, limit: 20) {
      alerts = items.map(Self.alertRow)
    }
    let sentToday = (try? await resources?.smsStore.sentTodayCount()) ?? 0
    var disks: [StatusPageModel.Disk] = []
    for path in Set([config.daemon.stateDir, config.filedrop.root]) {
      if let (free, total) = HostInfo.disk(at: path) {
        disks.append(StatusPageModel.Disk(path: path, totalBytes: total, freeBytes: free))
      }
    }
    let rows = watchdogBoard.snapshot
    return StatusPageModel(
      site: report.site, version: report.version, uptimeSeconds: report.uptimeSeconds, generatedAt: now,
      historySeconds: historySeconds, services: report.services.map(StatusPageModel.Service.init),
      modem: StatusPageModel.Modem(enabled: config.modem.enabled, snapshot: modemBoard.snapshot, signalHistory: signal),
      wan: String(report.wanLine.dropFirst("WAN ".count)),
      targets: rows.map {
        StatusPageModel.Target(
          name: $0.name, state: "\($0.state)", lastRTTMilliseconds: $0.lastRTT.map { Self.milliseconds($0) },
          lastOutcome: $0.lastOutcome,
          history: watchdogBoard.history(of: $0.name).map { SVGGraph.Point(time: $0.time, value: $0.milliseconds) })
      },
      alerts: alerts, smsSentToday: sentToday, smsDailyBudget: config.sms.dailyBudget,
      drive: config.drive.enabled ? "the Drive sync mount is not built yet (issue 7)" : "disabled",
      disks: disks.sorted { $0.path < $1.path })
  }

  static func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
  }

  /// An alert of the durable queue as the page lists it.
  static func alertRow(_ item: OutboxItem) -> StatusPageModel.Alert {
    let fields = (try? JSONSerialization.jsonObject(with: item.payload)) as? [String: Any] ?? [:]
    let delivery: String =
      switch item.state {
      case .acked: "delivered"
      case .dead: "given up: \(item.lastError ?? "?")"
      default: item.attempts > 0 ? "retrying (\(item.attempts) attempts)" : "waiting"
      }
    return StatusPageModel.Alert(
      time: fields["at"] as? Int ?? Int(item.createdAt.timeIntervalSince1970),
      severity: fields["severity"] as? String ?? "?", text: fields["text"] as? String ?? "(unreadable alert)",
      delivery: delivery)
  }
}
