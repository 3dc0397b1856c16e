#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Finding or watching the modem's serial ports through libudev failed.
public struct ModemDiscoveryError: Error, Hashable, CustomStringConvertible {
  /// What went wrong, to match on; new codes may be added.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    private enum Value: String, Sendable {
      case udevUnavailable, enumerationFailed, monitorFailed
    }
    private let value: Value
    private init(_ value: Value) { self.value = value }

    /// No udev context could be created (out of memory, no `/sys`).
    public static let udevUnavailable = Code(.udevUnavailable)
    /// Listing the `tty` devices failed.
    public static let enumerationFailed = Code(.enumerationFailed)
    /// The hotplug monitor could not be set up, or its socket failed.
    public static let monitorFailed = Code(.monitorFailed)

    /// The code's name, as in the source.
    public var description: String { value.rawValue }
  }

  /// What went wrong.
  public var code: Code
  /// A sentence that says what failed, on what, and what to do.
  public var message: String
  /// The C function that failed, e.g. `"udev_monitor_enable_receiving"`.
  public var operation: String
  /// The `errno` value it reported (0 when it reported none).
  public var underlyingErrno: Int32

  /// Creates an error.
  public init(code: Code, message: String, operation: String, underlyingErrno: Int32) {
    self.code = code
    self.message = message
    self.operation = operation
    self.underlyingErrno = underlyingErrno
  }

  /// `"<message> (<operation>: <strerror>)"`.
  public var description: String {
    guard underlyingErrno != 0 else { return "\(message) (\(operation))" }
    return "\(message) (\(operation): \(String(cString: strerror(underlyingErrno))))"
  }
}
