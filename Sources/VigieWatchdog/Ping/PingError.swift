#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why a ping could not be run at all. (A target that does not answer is
/// not an error: it is a ``PingResult`` with no replies.)
public struct PingError: Error, Sendable, CustomStringConvertible {
  /// The kind of failure. New kinds may be added.
  public struct Code: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
      case invalidArgument, resolutionFailed, permissionDenied, socketFailed, receiveFailed
    }
    private let kind: Kind
    private init(_ kind: Kind) { self.kind = kind }

    /// A count, interval or timeout out of range, or an empty host.
    public static let invalidArgument = Code(.invalidArgument)
    /// The host name could not be resolved (`getaddrinfo`).
    public static let resolutionFailed = Code(.resolutionFailed)
    /// Neither an unprivileged ping socket nor a raw socket may be opened:
    /// CAP_NET_RAW or `net.ipv4.ping_group_range` is needed.
    public static let permissionDenied = Code(.permissionDenied)
    /// The ICMP socket could not be opened or set up for another reason
    /// (e.g. IPv6 disabled in the kernel).
    public static let socketFailed = Code(.socketFailed)
    /// Waiting for or reading replies failed.
    public static let receiveFailed = Code(.receiveFailed)

    public var description: String {
      switch kind {
      case .invalidArgument: "invalid argument"
      case .resolutionFailed: "resolution failed"
      case .permissionDenied: "permission denied"
      case .socketFailed: "socket failed"
      case .receiveFailed: "receive failed"
      }
    }
  }

  /// The kind of failure.
  public var code: Code
  /// The host as given to ``Pinger/ping(host:count:interval:timeout:)``.
  public var host: String
  /// What failed, on what, and what to do; one line, fit for an SMS reply.
  public var message: String
  /// The failed system call (a ``SystemCallError``), when there is one.
  public var underlyingError: (any Error)?

  /// An error of kind `code` about `host`.
  public init(_ code: Code, host: String, _ message: String, underlyingError: (any Error)? = nil) {
    self.code = code
    self.host = host
    self.message = message
    self.underlyingError = underlyingError
  }

  public var description: String { message }
}

/// A system or C library call that failed, with its error number and text.
public struct SystemCallError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The function, e.g. `socket` or `getaddrinfo`.
  public var function: String
  /// `errno`, or the `EAI_*` code for `getaddrinfo`.
  public var code: Int32
  /// `strerror(errno)`, or `gai_strerror(code)`.
  public var text: String

  /// The error `function` set in `errno` (`strerror` gives the text).
  public init(_ function: String, errno code: Int32) {
    self.function = function
    self.code = code
    text = String(cString: strerror(code))
  }

  /// An error with an explicit text (e.g. from `gai_strerror`).
  public init(_ function: String, code: Int32, text: String) {
    self.function = function
    self.code = code
    self.text = text
  }

  /// `socket: Permission denied (13)`.
  public var description: String { "\(function): \(text) (\(code))" }
}
