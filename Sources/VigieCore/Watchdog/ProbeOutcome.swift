/// What one probe says about a target, as the state machine sees it.
///
/// Only ``failure(_:)`` counts against the target. ``inconclusive(_:)`` is for
/// failures that are ours or that prove nothing (no route, our uplink down,
/// the probe could not be sent, an OpenVPN server with tls-auth that stays
/// silent): it never makes a target DOWN, and it never makes it UP either.
public enum ProbeOutcome: Sendable, Hashable {
  /// The target answered; `rtt` is the round-trip time when the probe measures
  /// one.
  case success(rtt: Duration?)
  /// The target did not answer, or answered wrong.
  case failure(ProbeFailure)
  /// The probe tells nothing about the target.
  case inconclusive(InconclusiveReason)

  /// Whether this is a success.
  public var isSuccess: Bool {
    if case .success = self { true } else { false }
  }

  /// Whether this is a failure (inconclusive outcomes are not).
  public var isFailure: Bool {
    if case .failure = self { true } else { false }
  }

  /// The outcome of one round of probes to the internet anchors, as one result
  /// for the uplink: the uplink is up if any anchor answered.
  ///
  /// A success with the smallest round-trip time if any anchor answered;
  /// otherwise a failure if any anchor failed or had no route (no route to
  /// the internet is the uplink being down); otherwise inconclusive (every
  /// probe failed on our side). `nil` for an empty round.
  public static func uplinkRound(_ outcomes: [ProbeOutcome]) -> ProbeOutcome? {
    guard !outcomes.isEmpty else { return nil }
    var answered = false
    var fastest: Duration?
    var failure: ProbeFailure?
    var inconclusive: InconclusiveReason?
    for outcome in outcomes {
      switch outcome {
      case .success(let rtt):
        answered = true
        if let rtt, fastest.map({ rtt < $0 }) ?? true { fastest = rtt }
      case .failure(let reason):
        failure = failure ?? reason
      case .inconclusive(let reason):
        if reason.code == .noRoute || reason.code == .uplinkDown {
          failure =
            failure
            ?? ProbeFailure(.unreachable, "no route to the internet anchors: \(reason.detail)")
        } else {
          inconclusive = inconclusive ?? reason
        }
      }
    }
    if answered { return .success(rtt: fastest) }
    if let failure {
      return .failure(ProbeFailure(failure.code, "no internet anchor answered (\(failure.detail))"))
    }
    return inconclusive.map { .inconclusive($0) }
  }
}

/// Why a probe counts as a failure of the target.
public struct ProbeFailure: Error, Sendable, Hashable, CustomStringConvertible {
  /// The kind of failure. New kinds may be added.
  public struct Code: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable { case timeout, refused, unreachable, badAnswer, other }
    private let kind: Kind
    private init(_ kind: Kind) { self.kind = kind }

    /// No answer within the timeout.
    public static let timeout = Code(.timeout)
    /// The service is closed: TCP RST, ICMP port unreachable.
    public static let refused = Code(.refused)
    /// A router on the way said the host or network is unreachable.
    public static let unreachable = Code(.unreachable)
    /// An answer that is not the expected one: HTTP status, DNS error, body
    /// text missing, certificate about to expire.
    public static let badAnswer = Code(.badAnswer)
    /// Anything else that is the target's fault.
    public static let other = Code(.other)

    public var description: String {
      switch kind {
      case .timeout: "timeout"
      case .refused: "refused"
      case .unreachable: "unreachable"
      case .badAnswer: "bad answer"
      case .other: "failure"
      }
    }
  }

  /// The kind of failure.
  public var code: Code
  /// What happened, for people, e.g. `no echo reply within 2s`.
  public var detail: String

  /// A failure of kind `code` explained by `detail`.
  public init(_ code: Code, _ detail: String = "") {
    self.code = code
    self.detail = detail
  }

  public var description: String { detail.isEmpty ? code.description : "\(code): \(detail)" }
}

/// Why a probe tells nothing about its target.
public struct InconclusiveReason: Error, Sendable, Hashable, CustomStringConvertible {
  /// The kind of reason. New kinds may be added.
  public struct Code: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
      case noRoute, uplinkDown, sendFailed, silent, rateLimited, other
    }
    private let kind: Kind
    private init(_ kind: Kind) { self.kind = kind }

    /// We have no route to the target (`ENETUNREACH` on send).
    public static let noRoute = Code(.noRoute)
    /// Our own uplink is known to be down.
    public static let uplinkDown = Code(.uplinkDown)
    /// The probe could not be sent (socket error, no permission, no buffer).
    public static let sendFailed = Code(.sendFailed)
    /// No answer where silence proves nothing: an OpenVPN server with
    /// tls-auth, a UDP port that is open or filtered.
    public static let silent = Code(.silent)
    /// We held the probe back (packet budget, ICMP rate limiting).
    public static let rateLimited = Code(.rateLimited)
    /// Anything else that is not the target's fault.
    public static let other = Code(.other)

    public var description: String {
      switch kind {
      case .noRoute: "no route"
      case .uplinkDown: "uplink down"
      case .sendFailed: "probe not sent"
      case .silent: "no answer (inconclusive)"
      case .rateLimited: "rate limited"
      case .other: "inconclusive"
      }
    }
  }

  /// The kind of reason.
  public var code: Code
  /// What happened, for people.
  public var detail: String

  /// A reason of kind `code` explained by `detail`.
  public init(_ code: Code, _ detail: String = "") {
    self.code = code
    self.detail = detail
  }

  public var description: String { detail.isEmpty ? code.description : "\(code): \(detail)" }
}
