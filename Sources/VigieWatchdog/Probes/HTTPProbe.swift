import CCurl
import Foundation
import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What an `http:URL` probe says.
public enum HTTPVerdict: Sendable, Hashable, CustomStringConvertible {
  /// The server answered as the check expects.
  case ok(rtt: Duration, status: Int, certificateDaysLeft: Int?)
  /// The server answered, but not as expected (status, body, certificate
  /// expiry, a TLS certificate that does not verify).
  case bad(String)
  /// Nothing listens: connection refused.
  case refused(String)
  /// No answer within the timeout.
  case timeout(String)
  /// The network said the host cannot be reached.
  case unreachable(String)
  /// We have no route (our side).
  case noRoute(String)
  /// The host name does not resolve, or another failure of the transfer.
  case failed(String)

  public var description: String {
    switch self {
    case .ok(let rtt, let status, let days):
      "HTTP \(status) in \(TCPConnectVerdict.milliseconds(rtt)) ms"
        + (days.map { ", certificate valid \($0) more days" } ?? "")
    case .bad(let why): "bad answer: \(why)"
    case .refused(let why): "refused: \(why)"
    case .timeout(let why): "timeout: \(why)"
    case .unreachable(let why): "unreachable: \(why)"
    case .noRoute(let why): "no route: \(why)"
    case .failed(let why): "failed: \(why)"
    }
  }
}

/// The HTTP(S) check with libcurl, on a thread of its own: one GET, no
/// redirects followed, the status, optionally a text in the first MiB of the
/// body (the transfer stops there, or at once when no text is checked: a 3G
/// link is not wasted), and the leaf certificate's expiry
/// (`CURLOPT_CERTINFO`, OpenSSL backend).
public enum HTTPProbe {
  /// The most body bytes read when a text is looked for.
  public static let bodyLimit = 1 << 20

  private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

  public static func probe(url: String, check: HTTPCheck, verifyTLS: Bool, timeout: Duration) async throws
    -> HTTPVerdict
  {
    guard globalInit else { return .failed("libcurl could not be initialised") }
    guard let cancel = CancelSignal() else {
      throw PingError(.socketFailed, host: url, "cannot create a wake-up socket pair: out of descriptors")
    }
    return try await DedicatedThread.run(name: "vigie-http-probe", cancellation: .signal(cancel)) {
      try perform(url: url, check: check, verifyTLS: verifyTLS, timeout: timeout, cancel: cancel)
    }
  }

  /// What the callbacks share with the thread that runs the transfer (only
  /// that thread touches it).
  final class Transfer {
    var body: [UInt8] = []
    var limit: Int
    var stoppedByUs = false
    let cancel: CancelSignal

    init(limit: Int, cancel: CancelSignal) {
      self.limit = limit
      self.cancel = cancel
    }
  }

  static func perform(url: String, check: HTTPCheck, verifyTLS: Bool, timeout: Duration, cancel: CancelSignal)
    throws -> HTTPVerdict
  {
    guard let handle = curl_easy_init() else { return .failed("curl_easy_init failed") }
    defer { curl_easy_cleanup(handle) }
    let transfer = Transfer(limit: check.bodyContains.isEmpty ? 0 : bodyLimit, cancel: cancel)
    var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    let write: curl_write_callback = { buffer, size, count, userdata in
      guard let buffer, let userdata else { return 0 }
      let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
      let length = size * count
      let room = transfer.limit - transfer.body.count
      buffer.withMemoryRebound(to: UInt8.self, capacity: length) {
        transfer.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: min(length, max(0, room))))
      }
      if length > room {
        // Enough read: stop the transfer (CURLE_WRITE_ERROR, expected).
        transfer.stoppedByUs = true
        return 0
      }
      return length
    }
    let progress: curl_xferinfo_callback = { userdata, _, _, _, _ in
      guard let userdata else { return 0 }
      return Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue().cancel.isFired ? 1 : 0
    }
    let milliseconds = max(
      1, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
    let result: CURLcode = withExtendedLifetime(transfer) {
      errorBuffer.withUnsafeMutableBufferPointer { errors in
        let userdata = Unmanaged.passUnretained(transfer).toOpaque()
        var setup = [
          vigie_curl_easy_setopt_string(handle, CURLOPT_URL, url),
          vigie_curl_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"),
          vigie_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1),
          vigie_curl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0),
          vigie_curl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(milliseconds)),
          vigie_curl_easy_setopt_long(handle, CURLOPT_CERTINFO, 1),
          vigie_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, verifyTLS ? 1 : 0),
          vigie_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, verifyTLS ? 2 : 0),
          vigie_curl_easy_setopt_string(handle, CURLOPT_USERAGENT, "vigie-watchdog"),
          vigie_curl_easy_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errors.baseAddress),
          vigie_curl_easy_setopt_func_write(handle, write),
          vigie_curl_easy_setopt_ptr(handle, CURLOPT_WRITEDATA, userdata),
          vigie_curl_easy_setopt_func_xferinfo(handle, progress),
          vigie_curl_easy_setopt_ptr(handle, CURLOPT_XFERINFODATA, userdata),
          vigie_curl_easy_setopt_long(handle, CURLOPT_NOPROGRESS, 0),
        ]
        setup.removeAll { $0 == CURLE_OK }
        if let failed = setup.first { return failed }
        return curl_easy_perform(handle)
      }
    }
    if result == CURLE_ABORTED_BY_CALLBACK { throw CancellationError() }
    guard result == CURLE_OK || (result == CURLE_WRITE_ERROR && transfer.stoppedByUs) else {
      let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      let message = detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail
      return failure(result, message: message, handle: handle)
    }
    var status = 0
    _ = vigie_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
    var total: curl_off_t = 0
    _ = vigie_curl_easy_getinfo_off_t(handle, CURLINFO_TOTAL_TIME_T, &total)
    let rtt = Duration.microseconds(Int64(total))
    let secondsLeft = certificateExpiry(handle).map { $0 - Int64(Date().timeIntervalSince1970) }
    let response = HTTPCheck.Response(status: status, body: transfer.body, certificateSecondsLeft: secondsLeft)
    if let problem = check.problem(response) { return .bad(problem) }
    return .ok(rtt: rtt, status: status, certificateDaysLeft: secondsLeft.map { Int($0 / 86400) })
  }

  /// The leaf certificate's "Expire date" in seconds since 1970.
  static func certificateExpiry(_ handle: UnsafeMutableRawPointer) -> Int64? {
    var pointer: UnsafeMutableRawPointer?
    guard vigie_curl_easy_getinfo_ptr(handle, CURLINFO_CERTINFO, &pointer) == CURLE_OK, let pointer else {
      return nil
    }
    let info = pointer.assumingMemoryBound(to: curl_certinfo.self).pointee
    guard info.num_of_certs > 0, let lists = info.certinfo, var entry = lists[0] else { return nil }
    while true {
      if let data = entry.pointee.data {
        let line = String(cString: data)
        if line.hasPrefix("Expire date:") { return HTTPCheck.parseCertificateDate(String(line.dropFirst(12))) }
      }
      guard let next = entry.pointee.next else { return nil }
      entry = next
    }
  }

  static func failure(_ code: CURLcode, message: String, handle: UnsafeMutableRawPointer) -> HTTPVerdict {
    var osErrno = 0
    _ = vigie_curl_easy_getinfo_long(handle, CURLINFO_OS_ERRNO, &osErrno)
    switch code {
    case CURLE_COULDNT_CONNECT:
      switch Int32(osErrno) {
      case ECONNREFUSED: return .refused(message)
      case ENETUNREACH: return .noRoute(message)
      case ETIMEDOUT: return .timeout(message)
      default: return .unreachable(message)
      }
    case CURLE_OPERATION_TIMEDOUT: return .timeout(message)
    case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE,
      CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_GOT_NOTHING, CURLE_WEIRD_SERVER_REPLY,
      CURLE_HTTP2, CURLE_RECV_ERROR:
      return .bad(message)
    default: return .failed(message)
    }
  }
}
