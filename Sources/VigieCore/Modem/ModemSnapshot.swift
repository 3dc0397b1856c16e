/// What the modem service knows right now: shown by STATUS, `vigie modem`
/// and the status page.
public struct ModemSnapshot: Sendable, Hashable, Codable {
  public enum Phase: String, Sendable, Hashable, Codable {
    /// No modem device found.
    case absent
    case connecting
    /// The SIM needs a code Vigie will not enter (see `simProblem`).
    case locked
    case ready
    /// Not answering; the recovery ladder is running.
    case recovering
    case disabled
  }

  public var phase: Phase = .absent
  public var device: String?
  public var model: String?
  public var manufacturer: String?
  public var iccid: String?
  public var imsi: String?
  /// `READY`, `SIM PIN`, `SIM PUK`...
  public var simState: String?
  /// Why the SIM is not usable, for a person.
  public var simProblem: String?
  public var pinAttemptsLeft: Int?
  public var registration: String?
  public var operatorName: String?
  public var operatorCode: String?
  public var signalDBm: Int?
  public var signalPercent: Int?
  /// Unix time of the last successful poll.
  public var lastSeen: Int?
  public var lastError: String?
  /// The last step of the recovery ladder taken (`softReset`...), and when
  /// (Unix seconds).
  public var lastRecoveryStep: String?
  public var lastRecoveryAt: Int?
  public var smsReceived: Int = 0
  public var smsSent: Int = 0

  public init() {}

  /// One line for STATUS replies.
  public var summary: String {
    switch phase {
    case .disabled: return "modem disabled"
    case .absent: return "no modem"
    case .connecting: return "modem connecting"
    case .recovering: return "modem not answering (recovering)" + (lastError.map { ": \($0)" } ?? "")
    case .locked: return "SIM locked: \(simProblem ?? simState ?? "unknown")"
    case .ready:
      return "modem " + reading
    }
  }

  /// `Orange F, home, -71 dBm`: the last signal and registration reading.
  public var reading: String {
    var parts: [String] = []
    parts.append(operatorName.flatMap { $0.isEmpty ? nil : $0 } ?? operatorCode ?? "no operator")
    if let registration { parts.append(registration) }
    if let signalDBm {
      parts.append("\(signalDBm) dBm")
    } else if let signalPercent {
      parts.append("signal \(signalPercent)%")
    }
    return parts.joined(separator: ", ")
  }

  /// The SIGNAL reply at `now` (Unix seconds): the reading just made when
  /// `fresh`, else what the modem is doing and the last reading with its age.
  public func signalReply(now: Int, fresh: Bool) -> String {
    if fresh, phase == .ready { return summary + " (read now)" }
    guard let lastSeen else { return summary }
    let age = StatusReport.formatDuration(now - lastSeen)
    let state = phase == .ready ? "modem busy" : summary
    return "\(state); last reading \(age) ago: \(reading)"
  }
}

/// The steps tried, in order, when the modem stops answering.
public enum RecoveryStep: String, Sendable, Hashable, CaseIterable {
  /// Close and reopen the port with a fresh libgammu state machine.
  case reconnect
  /// Ask the modem to reset itself (AT+CFUN=1,1 through libgammu).
  case softReset
  /// Wait for the USB device to re-enumerate (after a reset or a brown-out).
  case waitForReenumeration
  /// Power-cycle the USB device in software (`authorized` 0 then 1 in sysfs).
  case usbReauthorize
  /// Nothing more to try: alert, then start again from the top after a pause.
  case alert

  /// The step after `failures` consecutive failed attempts (1-based), cycling
  /// back to `reconnect` after an alert.
  public static func step(afterFailures failures: Int) -> RecoveryStep {
    let order = Self.allCases
    return order[(max(1, failures) - 1) % order.count]
  }
}
