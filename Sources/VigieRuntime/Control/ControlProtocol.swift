import Foundation
import VigieCore

/// The control socket speaks one JSON object per line each way.
///
/// Requests: `{"op":"status"}` or `{"op":"command","text":"PING 127.0.0.1"}`.
/// Responses: `{"ok":true,"text":"...","status":{...}}` or `{"ok":false,"text":"why"}`.
public enum ControlProtocol {
  public static let maximumLineLength = 64 * 1024

  public struct Request: Codable, Sendable, Equatable {
    public enum Operation: String, Codable, Sendable {
      case status
      case command
      /// The modem's identity, SIM, signal, registration and PIN state.
      case modem
      /// Forget interrupted PIN attempts (after a person checked the PIN).
      case pinRetry = "pin-retry"
      /// Queue an SMS: `to` and `text`.
      case smsSend = "sms-send"
      /// The latest received messages.
      case smsInbox = "sms-inbox"
      /// Light every LED in turn (`vigie leds test`).
      case ledsTest = "leds-test"
      /// Create a file drop share link: `text` is the path, `count`, `expires`.
      case share
      /// List the share links.
      case shareList = "share-list"
      /// Revoke the share link `text`.
      case shareRevoke = "share-revoke"
    }
    public var op: Operation
    public var text: String?
    public var to: String?
    /// `share`: how many completed downloads the link allows.
    public var count: Int?
    /// `share`: how long the link lives, e.g. `1h`.
    public var expires: String?
    /// `modem`: read the signal and registration now (waits up to 8 s)
    /// rather than show the last reading.
    public var fresh: Bool?

    public init(
      op: Operation, text: String? = nil, to: String? = nil, count: Int? = nil, expires: String? = nil,
      fresh: Bool? = nil
    ) {
      self.op = op
      self.text = text
      self.to = to
      self.count = count
      self.expires = expires
      self.fresh = fresh
    }
  }

  public struct ServiceRow: Codable, Sendable, Equatable {
    public var name: String
    public var state: String
    public var detail: String?
    public var restarts: Int
    public var sinceSeconds: Int
  }

  public struct Status: Codable, Sendable, Equatable {
    public var site: String
    public var version: String
    public var uptimeSeconds: Int
    public var services: [ServiceRow]

    public init(_ report: StatusReport) {
      site = report.site
      version = report.version
      uptimeSeconds = report.uptimeSeconds
      services = report.services.map { service in
        var detail: String?
        if case .backingOff(let failures, let error) = service.state { detail = "\(failures) failures, last: \(error)" }
        if case .degraded(let problem) = service.state { detail = problem }
        return ServiceRow(
          name: service.name, state: service.state.word, detail: detail, restarts: service.restarts,
          sinceSeconds: service.sinceSeconds)
      }
    }
  }

  public struct Response: Codable, Sendable, Equatable {
    public var ok: Bool
    public var text: String
    public var status: Status?
    /// Operation-specific JSON (e.g. the modem snapshot).
    public var data: String?

    public init(ok: Bool, text: String, status: Status? = nil, data: String? = nil) {
      self.ok = ok
      self.text = text
      self.status = status
      self.data = data
    }
  }

  static func encode(_ value: some Encodable) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    // Encoding these plain structs cannot fail.
    return (try? encoder.encode(value)) ?? Data("{}".utf8)
  }
}
