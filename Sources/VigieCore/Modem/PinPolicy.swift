/// What the SIM asks for, as far as the PIN policy is concerned.
public enum SIMLockState: Sendable, Hashable {
  case ready
  case pinRequired
  case pukRequired
  /// PIN2, PUK2, a phone or network code: nothing Vigie enters.
  case otherCode(String)
}

/// What Vigie knows about one PIN on one SIM, kept in the state store so it
/// survives restarts and reboots. The PIN itself is never stored: only a
/// fingerprint of (SIM, PIN).
public struct PinRecord: Sendable, Hashable, Codable {
  /// ICCID when the modem tells it, else IMSI, else "unknown-sim".
  public var simID: String
  public var fingerprint: String
  /// The SIM accepted this PIN at least once.
  public var accepted: Bool
  /// The SIM rejected this PIN: it is never tried again on this SIM.
  public var rejected: Bool
  /// An attempt was started and its outcome never recorded (the process
  /// died in between): counted as a failure.
  public var inFlight: Bool
  /// Unix time of the last change.
  public var updatedAt: Int

  public init(
    simID: String, fingerprint: String, accepted: Bool = false, rejected: Bool = false, inFlight: Bool = false,
    updatedAt: Int
  ) {
    self.simID = simID
    self.fingerprint = fingerprint
    self.accepted = accepted
    self.rejected = rejected
    self.inFlight = inFlight
    self.updatedAt = updatedAt
  }
}

/// The decision about entering the PIN.
public enum PinDecision: Sendable, Hashable {
  /// The SIM is ready.
  case nothingToDo
  /// Enter the configured PIN (record the attempt first).
  case enter
  /// Do not touch the SIM; tell a person why. Always alert.
  case refuse(String)
}

/// "Enter the SIM PIN without ever burning the SIM's attempts":
/// - a PIN the SIM rejected is never tried again on that SIM, across
///   restarts, until the configured PIN changes (a new fingerprint);
/// - an attempt whose outcome is unknown (crash mid-attempt) counts as a
///   rejection, unless that PIN was accepted before;
/// - a PIN never tried is entered once; a PIN known to be right is entered
///   again after a modem reset (E1750-class sticks reset and ask again);
/// - never when the modem reports fewer than 2 attempts left;
/// - a PUK is never guessed.
public enum PinPolicy {
  public static let minimumAttemptsLeft = 2

  public static func decide(
    state: SIMLockState, configuredPIN: Bool, record: PinRecord?, attemptsLeft: Int?
  ) -> PinDecision {
    switch state {
    case .ready:
      return .nothingToDo
    case .pukRequired:
      return .refuse(
        "the SIM is blocked and asks for its PUK: unblock it in a phone (Vigie never enters a PUK)")
    case .otherCode(let what):
      return .refuse("the modem asks for a \(what) code, which Vigie does not enter: unlock it by hand")
    case .pinRequired:
      break
    }
    guard configuredPIN else {
      return .refuse("the SIM asks for its PIN and none is configured: set [modem] pin_file")
    }
    if let record {
      if record.rejected {
        return .refuse(
          "this SIM rejected the configured PIN before; Vigie will not try it again. Put the right PIN in [modem] pin_file (it will be tried once)"
        )
      }
      if record.inFlight && !record.accepted {
        return .refuse(
          "an earlier attempt with the configured PIN was interrupted and may have failed; Vigie will not risk another. Check the PIN, then run 'vigie modem pin-retry'"
        )
      }
    }
    if let attemptsLeft, attemptsLeft < minimumAttemptsLeft {
      return .refuse(
        "the SIM has only \(attemptsLeft) PIN attempt\(attemptsLeft == 1 ? "" : "s") left; Vigie will not risk it. Enter the PIN by hand in a phone"
      )
    }
    return .enter
  }
}

extension PinPolicy {
  /// A stable fingerprint of (SIM, PIN) for the state store, so that the PIN
  /// itself is not copied there. FNV-1a 64: a 4-digit PIN is no secret from
  /// anyone who can read the database, and the configuration holds it
  /// anyway; what matters is that the value never changes across versions
  /// (a different function would make a rejected PIN look new).
  public static func fingerprint(simID: String, pin: String) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in Array("vigie-pin\u{0}\(simID)\u{0}\(pin)".utf8) {
      hash ^= UInt64(byte)
      hash = hash &* 0x0000_0100_0000_01B3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }
}
