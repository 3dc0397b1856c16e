import CCurl
import Foundation
import Synchronization

/// An HTTP request for `HTTPWorker`.
public struct HTTPRequest: Sendable {
  public var method: String
  public var url: String
  public var headers: [(String, String)]
  public var body: [UInt8]
  /// The transfer is abandoned when no byte moves for this long.
  public var stallTimeout: Duration
  /// A longer answer is cut and reported as a transport failure.
  public var maxResponseBytes: Int

  public init(
    method: String, url: String, headers: [(String, String)] = [], body: [UInt8] = [],
    stallTimeout: Duration = .seconds(60), maxResponseBytes: Int = 64 << 20
  ) {
    self.method = method
    self.url = url
    self.headers = headers
    self.body = body
    self.stallTimeout = stallTimeout
    self.maxResponseBytes = maxResponseBytes
  }
}

/// An HTTP answer (any status).
public struct HTTPResponse: Sendable {
  public var status: Int
  /// Header names in lower case, in order.
  public var headers: [(String, String)]
  public var body: [UInt8]

  /// The last value of header `name` (case-insensitive).
  public func header(_ name: String) -> String? {
    let lower = name.lowercased()
    return headers.last(where: { $0.0 == lower })?.1
  }
}

/// A transfer that ended without an HTTP answer.
public struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
  public var code: Int
  public var message: String
  public var description: String { message }
}

/// Runs libcurl transfers one at a time on a thread it owns (libcurl's easy
/// interface blocks), never on Swift's cooperative pool. The easy handle is
/// kept between transfers, so connections (and TLS sessions) are reused;
/// proxies come from the environment (`https_proxy`…), as libcurl does.
public final class HTTPWorker: Sendable {
  private final class Job: Sendable {
    let request: HTTPRequest
    let cancelled = Atomic<Bool>(false)
    private let continuation = Mutex<CheckedContinuation<HTTPResponse, any Error>?>(nil)

    init(_ request: HTTPRequest) { self.request = request }

    func arm(_ c: CheckedContinuation<HTTPResponse, any Error>) { continuation.withLock { $0 = c } }

    func finish(_ result: Result<HTTPResponse, any Error>) {
      let c = continuation.withLock { c in
        defer { c = nil }
        return c
      }
      c?.resume(with: result)
    }
  }

  private struct Queue: ~Copyable {
    var jobs: [Job] = []
    var stopping = false
  }

  private let queue = Mutex(Queue())
  private let wake = DispatchSemaphore(value: 0)

  public init(name: String = "vigie-http") {
    let thread = Thread { [self] in self.loop() }
    thread.name = name
    thread.start()
  }

  /// Stops the thread after the transfers already queued.
  public func shutdown() {
    queue.withLock { $0.stopping = true }
    wake.signal()
  }

  /// Performs `request`; cancelling the task aborts the transfer.
  public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
    let job = Job(request)
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { (c: CheckedContinuation<HTTPResponse, any Error>) in
        job.arm(c)
        let accepted = queue.withLock { q in
          guard !q.stopping else { return false }
          q.jobs.append(job)
          return true
        }
        if accepted {
          wake.signal()
        } else {
          job.finish(.failure(HTTPTransportError(code: -1, message: "the HTTP worker is stopped")))
        }
      }
    } onCancel: {
      job.cancelled.store(true, ordering: .relaxed)
    }
  }

  private func loop() {
    guard let easy = curl_easy_init() else {
      queue.withLock { $0.stopping = true }
      failAll("curl_easy_init failed")
      return
    }
    defer { curl_easy_cleanup(easy) }
    while true {
      wake.wait()
      let (job, stop) = queue.withLock { q -> (Job?, Bool) in
        q.jobs.isEmpty ? (nil, q.stopping) : (q.jobs.removeFirst(), false)
      }
      if let job {
        if job.cancelled.load(ordering: .relaxed) {
          job.finish(.failure(CancellationError()))
        } else {
          job.finish(Self.perform(easy, job))
        }
      } else if stop {
        return
      }
    }
  }

  private func failAll(_ message: String) {
    let jobs = queue.withLock { q in
      defer { q.jobs = [] }
      return q.jobs
    }
    for job in jobs { job.finish(.failure(HTTPTransportError(code: -1, message: message))) }
  }

  /// State shared with the C callbacks of one transfer; lives on the worker
  /// thread only, for the duration of `curl_easy_perform`.
  private final class Transfer {
    var body: [UInt8] = []
    var headers: [(String, String)] = []
    var upload: [UInt8]
    var uploadOffset = 0
    let maxResponseBytes: Int
    var tooLong = false
    let job: Job

    init(job: Job) {
      self.job = job
      upload = job.request.body
      maxResponseBytes = job.request.maxResponseBytes
    }
  }

  private static let writeCallback: curl_write_callback = { data, size, count, userdata in
    guard let userdata, let data else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    if transfer.body.count + n > transfer.maxResponseBytes {
      transfer.tooLong = true
      return 0  // CURLE_WRITE_ERROR
    }
    data.withMemoryRebound(to: UInt8.self, capacity: n) {
      transfer.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n))
    }
    return n
  }

  private static let headerCallback: curl_write_callback = { data, size, count, userdata in
    guard let userdata, let data else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    let line = data.withMemoryRebound(to: UInt8.self, capacity: n) {
      String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
    }
    if line.hasPrefix("HTTP/") {
      transfer.headers = []  // a new answer (after 100 Continue)
    } else if let colon = line.firstIndex(of: ":") {
      let name = line[..<colon].lowercased()
      let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
      transfer.headers.append((name, value))
    }
    return n
  }

  private static let readCallback: curl_read_callback = { buffer, size, count, userdata in
    guard let userdata, let buffer else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let n = min(size * count, transfer.upload.count - transfer.uploadOffset)
    guard n > 0 else { return 0 }
    transfer.upload.withUnsafeBufferPointer { src in
      UnsafeMutableRawPointer(buffer).copyMemory(from: src.baseAddress! + transfer.uploadOffset, byteCount: n)
    }
    transfer.uploadOffset += n
    return n
  }

  private static let progressCallback: curl_xferinfo_callback = { userdata, _, _, _, _ in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    return transfer.job.cancelled.load(ordering: .relaxed) ? 1 : 0
  }

  private static func perform(_ easy: UnsafeMutableRawPointer, _ job: Job) -> Result<HTTPResponse, any Error> {
    let request = job.request
    let transfer = Transfer(job: job)
    let context = Unmanaged.passUnretained(transfer).toOpaque()
    curl_easy_reset(easy)  // keeps the connection cache
    var headers: UnsafeMutablePointer<curl_slist>? = nil
    defer { curl_slist_free_all(headers) }
    for (name, value) in request.headers { headers = curl_slist_append(headers, "\(name): \(value)") }
    headers = curl_slist_append(headers, "Expect:")  // no 100-continue round trip
    let stall = max(1, Int(request.stallTimeout.components.seconds))
    var ok = true
    func set(_ code: CURLcode) { ok = ok && code == CURLE_OK }
    set(vigie_curl_easy_setopt_string(easy, CURLOPT_URL, request.url))
    set(vigie_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
    set(vigie_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT, min(30, stall)))
    set(vigie_curl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1))
    set(vigie_curl_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, stall))
    set(vigie_curl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
    set(vigie_curl_easy_setopt_string(easy, CURLOPT_USERAGENT, "vigie (gzip)"))
    set(vigie_curl_easy_setopt_func_write(easy, writeCallback))
    set(vigie_curl_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, context))
    set(vigie_curl_easy_setopt_func_header(easy, headerCallback))
    set(vigie_curl_easy_setopt_ptr(easy, CURLOPT_HEADERDATA, context))
    set(vigie_curl_easy_setopt_long(easy, CURLOPT_NOPROGRESS, 0))
    set(vigie_curl_easy_setopt_func_xferinfo(easy, progressCallback))
    set(vigie_curl_easy_setopt_ptr(easy, CURLOPT_XFERINFODATA, context))
    switch request.method {
    case "GET":
      set(vigie_curl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1))
    case "DELETE" where request.body.isEmpty:
      set(vigie_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, "DELETE"))
    default:
      set(vigie_curl_easy_setopt_long(easy, CURLOPT_POST, 1))
      set(vigie_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
      set(vigie_curl_easy_setopt_func_read(easy, readCallback))
      set(vigie_curl_easy_setopt_ptr(easy, CURLOPT_READDATA, context))
      if request.method != "POST" {
        set(vigie_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method))
      }
    }
    set(vigie_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headers))
    guard ok else { return .failure(HTTPTransportError(code: -1, message: "curl_easy_setopt refused an option")) }
    let code = curl_easy_perform(easy)
    if code == CURLE_ABORTED_BY_CALLBACK { return .failure(CancellationError()) }
    guard code == CURLE_OK else {
      let text =
        transfer.tooLong
        ? "answer longer than \(request.maxResponseBytes) bytes"
        : String(cString: curl_easy_strerror(code))
      return .failure(
        HTTPTransportError(code: Int(code.rawValue), message: "\(request.method) \(redacted(request.url)): \(text)"))
    }
    var status = 0
    _ = vigie_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
    return .success(HTTPResponse(status: status, headers: transfer.headers, body: transfer.body))
  }

  /// The URL without its query (upload ids and tokens stay out of logs).
  static func redacted(_ url: String) -> String {
    String(url.prefix { $0 != "?" })
  }
}
