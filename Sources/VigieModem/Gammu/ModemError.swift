import CGammu

/// A failure talking to the modem, with the libgammu error behind it.
public struct ModemError: Error, Sendable, CustomStringConvertible {
  public struct Code: Sendable, Hashable, CustomStringConvertible {
    enum Kind: String, Sendable, Hashable {
      case timeout, notConnected, deviceUnavailable, securityError, unsupported, empty, gammu, closed
    }
    let kind: Kind
    /// The operation did not finish in time; the state machine was aborted.
    public static let timeout = Code(kind: .timeout)
    public static let notConnected = Code(kind: .notConnected)
    /// The device cannot be opened (gone, busy, no permission).
    public static let deviceUnavailable = Code(kind: .deviceUnavailable)
    /// A security code was refused (wrong PIN) or one is needed.
    public static let securityError = Code(kind: .securityError)
    /// The modem does not support the operation.
    public static let unsupported = Code(kind: .unsupported)
    /// Nothing there (no more messages, empty location).
    public static let empty = Code(kind: .empty)
    /// Any other libgammu error.
    public static let gammu = Code(kind: .gammu)
    /// The session was shut down.
    public static let closed = Code(kind: .closed)
    public var description: String { kind.rawValue }
  }

  public var code: Code
  public var message: String
  /// The raw `GSM_Error` value, when libgammu reported one.
  public var gammuError: Int?
  /// libgammu's name for it, e.g. `ERR_TIMEOUT`.
  public var gammuErrorName: String?

  public init(_ code: Code, _ message: String, gammuError: Int? = nil, gammuErrorName: String? = nil) {
    self.code = code
    self.message = message
    self.gammuError = gammuError
    self.gammuErrorName = gammuErrorName
  }

  /// Converts a libgammu error of `operation`, or nil for `ERR_NONE`.
  static func check(_ error: GSM_Error, _ operation: String) -> ModemError? {
    guard error != ERR_NONE else { return nil }
    let name = String(cString: GSM_ErrorName(error))
    let text = String(cString: GSM_ErrorString(error))
    let code: Code
    switch error {
    case ERR_TIMEOUT, ERR_ABORTED: code = .timeout
    case ERR_DEVICEOPENERROR, ERR_DEVICENOTEXIST, ERR_DEVICEBUSY, ERR_DEVICENOPERMISSION, ERR_DEVICELOCKED,
      ERR_DEVICENOTWORK, ERR_DEVICEREADERROR, ERR_DEVICEWRITEERROR, ERR_DEVICENODRIVER:
      code = .deviceUnavailable
    case ERR_SECURITYERROR: code = .securityError
    case ERR_NOTSUPPORTED, ERR_NOTIMPLEMENTED: code = .unsupported
    case ERR_EMPTY, ERR_INVALIDLOCATION: code = .empty
    case ERR_NOTCONNECTED: code = .notConnected
    default: code = .gammu
    }
    return ModemError(code, "\(operation): \(text)", gammuError: Int(error.rawValue), gammuErrorName: name)
  }

  /// Whether the session cannot go on after this error: the modem did not
  /// answer in time, is gone, or the session was closed.
  public var endsSession: Bool {
    code == .timeout || code == .deviceUnavailable || code == .closed || code == .notConnected
  }

  public var description: String {
    gammuErrorName.map { "\(message) (\($0))" } ?? message
  }
}
