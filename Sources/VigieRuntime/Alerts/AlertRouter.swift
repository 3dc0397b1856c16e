import Foundation
import Logging
import ServiceLifecycle
import VigieChat
import VigieCore

/// Drains the durable alert queue and routes every alert: logged always,
/// then, unless silenced or in maintenance, to its destinations by the
/// `[[alerts.route]]` rules (or the defaults: IRC channels get everything,
/// `sms_numbers` the critical ones). Chat destinations go through their own
/// durable queue (`chat.irc`), with the alert's original time, so an alert
/// raised while chat is down waits and arrives later marked with its age.
/// When chat has been down longer than `sms_fallback_after`, SMS carries
/// what chat still owes, once per alert and number (the same SMS key as a
/// direct critical SMS: never twice), within the SMS budget. Open problems
/// are repeated every `repeat_interval` until they recover or are ACKed;
/// recoveries say how long the outage lasted. In quiet hours only critical
/// alerts go out at once; the others wait for the end of the window.
public final class AlertRouterService: Service, Sendable {
  let config: AlertsConfig
  let sms: SMSConfig
  let ircEnabled: Bool
  let ircChannels: [String]
  let siteName: String
  let outbox: Outbox
  let smsStore: SMSStore
  let control: AlertControl
  let chat: ChatBoard
  let logger: Logger

  public init(
    config: AlertsConfig, sms: SMSConfig, irc: IRCConfig, siteName: String, outbox: Outbox, smsStore: SMSStore,
    control: AlertControl, chat: ChatBoard, logger: Logger
  ) {
    self.config = config
    self.sms = sms
    self.ircEnabled = irc.enabled
    self.ircChannels = IRCClientConfigurationChannels.names(irc.channels)
    self.siteName = siteName
    self.outbox = outbox
    self.smsStore = smsStore
    self.control = control
    self.chat = chat
    var logger = logger
    logger[metadataKey: "service"] = "alerts"
    self.logger = logger
  }

  func e164(_ numbers: [String]) -> [String] {
    let region = sms.region
    return numbers.compactMap { number in
      guard case .success(let parsed) = PhoneNumber.parse(number, region: region), let e164 = parsed.e164 else {
        logger.warning("alert number ignored: not a phone number", metadata: ["number": "\(number)"])
        return nil
      }
      return e164
    }
  }

  /// Minutes since local midnight.
  static func minuteOfDay(_ date: Date) -> Int {
    let parts = Calendar.current.dateComponents([.hour, .minute], from: date)
    return (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
  }

  public func run() async throws {
    let fallbackNumbers = e164(config.smsNumbers)
    let quiet = TimeWindow(text: config.quietHours)
    let started = Int(Date().timeIntervalSince1970)
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      let nowDate = Date()
      let now = Int(nowDate.timeIntervalSince1970)
      control.update { $0.silences.prune(now: now) }
      let quietLeft = quiet.map { $0.minutesLeft(at: Self.minuteOfDay(nowDate)) } ?? 0
      let items = try await outbox.claim(queue: ModemStore.alertQueue, owner: "alerts", lease: .seconds(120), limit: 50)
      for item in items {
        guard var alert = try? JSONDecoder().decode(RoutedAlert.self, from: item.payload) else {
          try await outbox.fail(item, reason: "unreadable alert payload", retryable: false)
          continue
        }
        if let outage = control.update({ $0.problems.record(alert) }), !alert.text.contains(" after ") {
          alert.text += " (outage \(StatusReport.formatDuration(outage)))"
        }
        logger.notice(
          "alert", metadata: ["key": "\(alert.key)", "severity": "\(alert.severity)", "text": "\(alert.text)"])
        if control.snapshot.silences.isSilenced(alert, now: now) {
          logger.notice("alert silenced", metadata: ["key": "\(alert.key)"])
          try await outbox.ack(item)
          continue
        }
        let notBefore: Date? =
          quietLeft > 0 && alert.level < .critical ? nowDate.addingTimeInterval(Double(quietLeft * 60)) : nil
        try await dispatch(alert, id: item.id, tag: "\(item.id)", notBefore: notBefore)
        try await outbox.ack(item)
      }
      // Repeats of open problems nobody acknowledged.
      let repeatSeconds = Int(config.repeatInterval.components.seconds)
      for problem in control.update({ $0.problems.repeats(now: now, interval: repeatSeconds) }) {
        var alert = problem.alert
        alert.text = "still: \(alert.text) (for \(StatusReport.formatDuration(now - problem.since)))"
        alert.at = now
        try await dispatch(alert, id: nil, tag: "repeat-\(alert.key)-\(now)", notBefore: nil)
      }
      try await fallBackToSMS(numbers: fallbackNumbers, now: now, started: started)
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
    }
  }

  /// Sends `alert` to each destination. `id` is its id in the alert queue
  /// (nil for repeats), used in SMS keys so that no path sends it twice.
  func dispatch(_ alert: RoutedAlert, id: Int64?, tag: String, notBefore: Date?) async throws {
    let destinations = AlertRouting.destinations(
      of: alert, routes: config.route, defaultIRC: ircChannels, defaultXMPP: [], defaultSMS: config.smsNumbers)
    for destination in destinations {
      switch destination {
      case .irc(let target):
        guard ircEnabled else {
          logger.info("IRC destination skipped: [irc] is disabled", metadata: ["target": "\(target)"])
          continue
        }
        let payload = try JSONEncoder().encode(ChatDelivery(target: target, alert: alert, alertID: id ?? 0))
        _ = try await outbox.enqueue(
          queue: IRCChatService.queue, key: "\(tag)-\(target)", payload: payload, notBefore: notBefore)
      case .xmpp(let jid):
        logger.info("XMPP destination skipped: this build has no XMPP client", metadata: ["target": "\(jid)"])
      case .sms(let number):
        // Repeats go to chat only (SMS costs money); in quiet hours only
        // critical alerts reach phones.
        guard notBefore == nil, id != nil else { continue }
        for e164 in e164([number]) {
          try await sendSMS(alert, key: id.map { "alert-\($0)-\(e164)" } ?? "alert-\(tag)-\(e164)", to: e164)
        }
      }
    }
  }

  func sendSMS(_ alert: RoutedAlert, key: String, to number: String) async throws {
    let age = Int(Date().timeIntervalSince1970) - alert.at
    let when = age > 120 ? " (\(StatusReport.formatDuration(age)) ago)" : ""
    let text = alert.text.hasPrefix(siteName) ? alert.text + when : "\(siteName): \(alert.text)\(when)"
    let plan = try await smsStore.send(to: number, text: text, key: key, maxParts: 2, budget: sms.dailyBudget)
    if plan == nil {
      logger.warning("daily SMS budget reached: alert not sent by SMS", metadata: ["to": "\(number)"])
    }
  }

  /// When chat has been down longer than the threshold, SMS carries the
  /// alerts chat still owes (the chat copies stay queued and arrive later).
  func fallBackToSMS(numbers: [String], now: Int, started: Int) async throws {
    guard ircEnabled, !numbers.isEmpty else { return }
    let status = chat.ircStatus
    guard status?.registered != true else { return }
    // No status yet: the IRC service has not started; count from our start.
    let downSince: Int = status.map { $0.downSince ?? now } ?? started
    let threshold = Int(config.smsFallbackAfter.components.seconds)
    guard now - downSince >= threshold else { return }
    for item in try await outbox.undelivered(queue: IRCChatService.queue, limit: 50) {
      guard let delivery = try? JSONDecoder().decode(ChatDelivery.self, from: item.payload), delivery.alertID != 0,
        AlertRouting.needsSMSFallback(
          alertAt: delivery.alert.at, chatDownSince: downSince, now: now, threshold: threshold)
      else { continue }
      for number in numbers {
        let key = "alert-\(delivery.alertID)-\(number)"
        if try await outbox.item(queue: ModemStore.smsQueue, key: key) != nil { continue }
        logger.notice(
          "chat unreachable: alert sent by SMS", metadata: ["key": "\(delivery.alert.key)", "to": "\(number)"])
        try await sendSMS(delivery.alert, key: key, to: number)
      }
    }
  }
}

/// `[irc] channels` entries are `"#chan"` or `"#chan key"`: the names.
enum IRCClientConfigurationChannels {
  static func names(_ entries: [String]) -> [String] {
    entries.compactMap { $0.split(separator: " ").first.map(String.init) }
  }
}
