import Foundation

/// The CLI side of the control socket: plain blocking calls, since the CLI
/// does one request and exits.
public enum ControlClient {
  public struct Failure: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// True when no daemon is running at that path.
    public var notRunning: Bool
    public var description: String { message }
  }

  /// Sends one request and returns the daemon's response.
  public static func send(_ request: ControlProtocol.Request, path: String, timeout: Duration = .seconds(60))
    throws(Failure)
    -> ControlProtocol.Response
  {
    let fd = try connect(path: path)
    defer { close(fd) }
    var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var payload = ControlProtocol.encode(request)
    payload.append(UInt8(ascii: "\n"))
    var written = 0
    while written < payload.count {
      let n = payload.withUnsafeBytes {
        Glibc.send(fd, $0.baseAddress! + written, $0.count - written, Int32(MSG_NOSIGNAL))
      }
      if n < 0 {
        if errno == EINTR { continue }
        throw Failure(
          message: "cannot talk to vigie on \(path): \(String(cString: strerror(errno)))", notRunning: false)
      }
      written += n
    }
    shutdown(fd, Int32(SHUT_WR))
    var response = Data()
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    while !response.contains(UInt8(ascii: "\n")) {
      let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if n == 0 { break }
      if n < 0 {
        if errno == EINTR { continue }
        let reason = errno == EAGAIN ? "no answer within \(timeout)" : String(cString: strerror(errno))
        throw Failure(message: "vigie did not answer on \(path): \(reason)", notRunning: false)
      }
      response.append(contentsOf: chunk[0..<n])
    }
    guard let end = response.firstIndex(of: UInt8(ascii: "\n")),
      let decoded = try? JSONDecoder().decode(ControlProtocol.Response.self, from: response[..<end])
    else {
      throw Failure(
        message: "vigie sent an answer this CLI does not understand (different versions?)", notRunning: false)
    }
    return decoded
  }

  /// Whether a daemon answers on `path` (used to refuse starting twice).
  static func answers(path: String) -> Bool {
    guard let fd = try? connect(path: path) else { return false }
    close(fd)
    return true
  }

  private static func connect(path: String) throws(Failure) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else {
      throw Failure(message: "cannot create a socket: \(String(cString: strerror(errno)))", notRunning: false)
    }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
      close(fd)
      throw Failure(message: "control socket path too long: \(path)", notRunning: false)
    }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard result == 0 else {
      let code = errno
      close(fd)
      switch code {
      case ENOENT:
        throw Failure(
          message:
            "vigie is not running: no control socket at \(path) (start it with 'vigie run', or name the socket with --socket)",
          notRunning: true)
      case ECONNREFUSED:
        throw Failure(message: "vigie is not running: \(path) is a stale socket nobody listens on", notRunning: true)
      case EACCES, EPERM:
        throw Failure(
          message: "permission denied on \(path): run as root or as a member of the vigie group", notRunning: false)
      default:
        throw Failure(message: "cannot connect to \(path): \(String(cString: strerror(code)))", notRunning: false)
      }
    }
    return fd
  }
}
