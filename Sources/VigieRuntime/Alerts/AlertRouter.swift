import Foundation
import Logging
import ServiceLifecycle
import VigieCore

/// Drains the durable alert queue. Every alert is logged; critical ones (a
/// target DOWN, the uplink DOWN, a SIM problem, a modem that does not
/// answer) go by SMS to `[alerts] sms_numbers`, within the SMS daily budget,
/// once per alert (the outbox key), marked with their age when late.
///
/// This is the first slice of the alert router: chat delivery (IRC, XMPP),
/// grouping, repeats, recovery grouping and silences come with issue 5.
public final class AlertRouterService: Service, Sendable {
  let config: AlertsConfig
  let sms: SMSConfig
  let siteName: String
  let outbox: Outbox
  let smsStore: SMSStore
  let logger: Logger

  public init(
    config: AlertsConfig, sms: SMSConfig, siteName: String, outbox: Outbox, smsStore: SMSStore, logger: Logger
  ) {
    self.config = config
    self.sms = sms
    self.siteName = siteName
    self.outbox = outbox
    self.smsStore = smsStore
    var logger = logger
    logger[metadataKey: "service"] = "alerts"
    self.logger = logger
  }

  struct Alert: Decodable {
    var key: String
    var severity: String
    var text: String
    var at: Int
  }

  public func run() async throws {
    let region = sms.region
    let numbers: [String] = config.smsNumbers.compactMap { number in
      guard case .success(let parsed) = PhoneNumber.parse(number, region: region), let e164 = parsed.e164 else {
        logger.warning("alert number ignored: not a phone number", metadata: ["number": "\(number)"])
        return nil
      }
      return e164
    }
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      let items = try await outbox.claim(queue: ModemStore.alertQueue, owner: "alerts", lease: .seconds(120), limit: 20)
      for item in items {
        guard let alert = try? JSONDecoder().decode(Alert.self, from: item.payload) else {
          try await outbox.fail(item, reason: "unreadable alert payload", retryable: false)
          continue
        }
        logger.notice(
          "alert", metadata: ["key": "\(alert.key)", "severity": "\(alert.severity)", "text": "\(alert.text)"])
        if alert.severity == "critical" {
          let age = Int(Date().timeIntervalSince1970) - alert.at
          let when = age > 120 ? " (\(StatusReport.formatDuration(age)) ago)" : ""
          let text = alert.text.hasPrefix(siteName) ? alert.text + when : "\(siteName): \(alert.text)\(when)"
          for number in numbers {
            let plan = try await smsStore.send(
              to: number, text: text, key: "alert-\(item.id)-\(number)", maxParts: 2, budget: sms.dailyBudget)
            if plan == nil {
              logger.warning("daily SMS budget reached: alert not sent by SMS", metadata: ["to": "\(number)"])
            }
          }
        }
        try await outbox.ack(item)
      }
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
    }
  }
}
