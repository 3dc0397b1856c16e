import Foundation
import Logging
import VigieCore

#if canImport(Glibc)
  import Glibc
#endif

/// Where the Drive client talks to and with what credentials.
public struct DriveSettings: Sendable {
  public var apiBase: String
  public var uploadBase: String
  public var tokenURL: String
  public var deviceURL: String
  public var clientID: String
  public var clientSecret: String
  public var tokenFile: String
  public var chunkSize: Int64
  public var stallTimeout: Duration

  public init(
    apiBase: String, uploadBase: String, tokenURL: String, deviceURL: String, clientID: String,
    clientSecret: String, tokenFile: String, chunkSize: Int64, stallTimeout: Duration
  ) {
    self.apiBase = apiBase
    self.uploadBase = uploadBase
    self.tokenURL = tokenURL
    self.deviceURL = deviceURL
    self.clientID = clientID
    self.clientSecret = clientSecret
    self.tokenFile = tokenFile
    self.chunkSize = chunkSize
    self.stallTimeout = stallTimeout
  }

  /// From `[drive]`; the client secret is read from `client_secret_file`
  /// when set.
  public init(config: DriveConfig) throws {
    var secret = config.clientSecret
    if !config.clientSecretFile.isEmpty {
      secret = try String(contentsOfFile: config.clientSecretFile, encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    }
    self.init(
      apiBase: config.apiBase, uploadBase: config.uploadBase, tokenURL: config.tokenURL,
      deviceURL: config.deviceURL, clientID: config.clientID, clientSecret: secret, tokenFile: config.tokenFile,
      chunkSize: config.chunkSize.bytes, stallTimeout: config.requestTimeout)
  }
}

/// The token file: JSON, written atomically with mode 0600.
public enum TokenFile {
  public static func load(_ path: String) throws -> OAuthTokens {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw DriveError(
        kind: .unauthorized, status: 0, reason: "no_token",
        message: "no token file at \(path): run `vigie drive auth` first")
    }
    do { return try OAuthTokens.parseFile(Array(data)) } catch {
      throw DriveError(kind: .unauthorized, status: 0, reason: "bad_token_file", message: "\(path): \(error)")
    }
  }

  public static func save(_ tokens: OAuthTokens, to path: String) throws {
    let temp = path + ".tmp-\(getpid())"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    let bytes = Array(tokens.fileText.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    // An existing file keeps its old mode through O_TRUNC: force 0600.
    let ok = written == bytes.count && fchmod(fd, 0o600) == 0 && fsync(fd) == 0
    close(fd)
    guard ok, rename(temp, path) == 0 else {
      unlink(temp)
      throw POSIXError(.EIO)
    }
  }
}

/// A Google Drive v3 client over libcurl (`HTTPWorker`), with token refresh
/// and the retry policy of `DriveRetryPolicy`.
public actor DriveClient {
  public nonisolated let settings: DriveSettings
  private let worker: HTTPWorker
  private let retry: DriveRetryPolicy
  private let log: Logger
  private var tokens: OAuthTokens?
  /// Bytes sent in upload bodies by this client (for budgets).
  public private(set) var uploadedBytes: Int64 = 0

  public init(
    settings: DriveSettings, worker: HTTPWorker, retry: DriveRetryPolicy = DriveRetryPolicy(),
    logger: Logger = Logger(label: "vigie.drive")
  ) {
    self.settings = settings
    self.worker = worker
    self.retry = retry
    self.log = logger
  }

  static func now() -> Double { Date().timeIntervalSince1970 }

  // MARK: OAuth

  private func form(_ url: String, _ fields: [(String, String)]) async throws -> HTTPResponse {
    let request = HTTPRequest(
      method: "POST", url: url, headers: [("Content-Type", "application/x-www-form-urlencoded")],
      body: Array(formEncode(fields).utf8), stallTimeout: settings.stallTimeout, maxResponseBytes: 1 << 20)
    do { return try await worker.send(request) } catch let e as HTTPTransportError {
      throw DriveError.transport(e.message)
    }
  }

  /// Asks for a device code (the first step of `vigie drive auth`).
  public func startDeviceFlow(scope: String = driveFileScope) async throws -> DeviceAuthorization {
    let r = try await form(settings.deviceURL, [("client_id", settings.clientID), ("scope", scope)])
    guard r.status == 200 else { throw OAuthError.parse(status: r.status, body: r.body) }
    return try DeviceAuthorization.parse(r.body)
  }

  /// Polls until the user approves, refuses, or the code expires; saves
  /// the tokens to the token file. `onWait` hears each wait (seconds).
  public func completeDeviceFlow(
    _ authorization: DeviceAuthorization, onWait: @Sendable (Int64) -> Void = { _ in }
  ) async throws -> OAuthTokens {
    var poller = DeviceFlowPoller(authorization, now: Self.monotonic())
    var step = poller.first
    while true {
      switch step {
      case .done(let response):
        let t = try OAuthTokens.from(response, now: Self.now())
        try TokenFile.save(t, to: settings.tokenFile)
        tokens = t
        return t
      case .failed(let error): throw error
      case .wait(let seconds):
        onWait(seconds)
        try await Task.sleep(for: .seconds(seconds))
      }
      let result: Result<OAuthTokenResponse, OAuthError>
      do {
        let r = try await form(
          settings.tokenURL,
          [
            ("client_id", settings.clientID), ("client_secret", settings.clientSecret),
            ("device_code", authorization.deviceCode), ("grant_type", deviceCodeGrantType),
          ])
        if r.status == 200 {
          do { result = .success(try OAuthTokenResponse.parse(r.body)) } catch { result = .failure(error) }
        } else {
          let e = OAuthError.parse(status: r.status, body: r.body)
          if case .malformed = e, r.status >= 500 {
            result = .failure(.authorizationPending)  // a server hiccup: keep polling
          } else {
            result = .failure(e)
          }
        }
      } catch is DriveError {
        result = .failure(.authorizationPending)  // network trouble: keep polling until expiry
      }
      step = poller.next(after: result, now: Self.monotonic())
    }
  }

  static func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
  }

  /// A valid access token, refreshing it (and rewriting the token file) if
  /// it expires soon or `force`.
  public func accessToken(force: Bool = false) async throws -> String {
    if tokens == nil { tokens = try TokenFile.load(settings.tokenFile) }
    guard var t = tokens else { throw DriveError.transport("no tokens") }
    if force || t.needsRefresh(now: Self.now()) {
      let r = try await form(
        settings.tokenURL,
        [
          ("client_id", settings.clientID), ("client_secret", settings.clientSecret),
          ("refresh_token", t.refreshToken), ("grant_type", "refresh_token"),
        ])
      guard r.status == 200 else {
        let e = OAuthError.parse(status: r.status, body: r.body)
        if case .invalidGrant = e {
          throw DriveError(kind: .unauthorized, status: r.status, reason: "invalid_grant", message: e.description)
        }
        if r.status >= 500 || r.status == 429 { throw DriveError.classify(status: r.status, body: r.body) }
        throw DriveError(kind: .rejected, status: r.status, reason: "oauth", message: e.description)
      }
      t = t.updated(with: try OAuthTokenResponse.parse(r.body), now: Self.now())
      try TokenFile.save(t, to: settings.tokenFile)
      tokens = t
      log.info("drive: access token refreshed")
    }
    return t.accessToken
  }

  // MARK: Requests

  /// One authorised request with refresh-on-401 and backoff retries.
  /// Only idempotent requests should go through here with `retrying`.
  public func call(
    _ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8] = [],
    retrying: Bool = true, maxResponseBytes: Int = 64 << 20
  ) async throws -> HTTPResponse {
    var attempt = 0
    var refreshed = false
    var generator = SystemRandomNumberGenerator()
    while true {
      attempt += 1
      let token = try await accessToken()
      let request = HTTPRequest(
        method: method, url: url, headers: headers + [("Authorization", "Bearer \(token)")], body: body,
        stallTimeout: settings.stallTimeout, maxResponseBytes: maxResponseBytes)
      let error: DriveError
      do {
        let r = try await worker.send(request)
        if r.status < 400 { return r }
        error = DriveError.classify(status: r.status, body: r.body)
      } catch let e as HTTPTransportError {
        error = .transport(e.message)
      }
      if !retrying && error.kind == .transport { throw error }
      switch retry.decide(error, attempt: attempt, refreshedAlready: refreshed, using: &generator) {
      case .refreshToken:
        refreshed = true
        _ = try await accessToken(force: true)
      case .retry(let delay):
        log.notice("drive: \(method) \(HTTPWorker.redacted(url)) failed (\(error)); retry in \(delay)")
        try await Task.sleep(for: delay)
      case .fail, .pauseUntilQuotaReset:
        throw error
      }
    }
  }

  private func json(_ method: String, _ url: String, _ body: JSONValue? = nil, retrying: Bool = true) async throws
    -> HTTPResponse
  {
    try await call(
      method, url, headers: body == nil ? [] : [("Content-Type", "application/json; charset=UTF-8")],
      body: body.map { Array($0.serialized.utf8) } ?? [], retrying: retrying)
  }

  private func files(_ query: [(String, String)]) -> String { files("", query) }

  private func files(_ path: String, _ query: [(String, String)]) -> String {
    settings.apiBase + "/files" + path + "?" + formEncode(query)
  }

  // MARK: Files

  /// Every file matching `q`, following `nextPageToken` to the end.
  public func list(q: String, pageSize: Int = 1000) async throws -> [DriveFile] {
    var out: [DriveFile] = []
    var token: String?
    repeat {
      var query = [("q", q), ("pageSize", String(pageSize)), ("fields", "nextPageToken,files(\(DriveFile.fields))")]
      if let token { query.append(("pageToken", token)) }
      let r = try await call("GET", files(query))
      let page = try DriveFile.parseList(r.body)
      out += page.files
      token = page.nextPageToken
    } while token != nil
    return out
  }

  public func get(_ id: String) async throws -> DriveFile {
    try DriveFile.parse(try await call("GET", files("/" + percentEncode(id), [("fields", DriveFile.fields)])).body)
  }

  /// A file's bytes, or the `range` of them (`Range: bytes=a-b`); a whole
  /// download is checked against `md5Checksum`.
  public func download(_ file: DriveFile, range: ClosedRange<Int64>? = nil) async throws -> [UInt8] {
    let headers = range.map { [("Range", "bytes=\($0.lowerBound)-\($0.upperBound)")] } ?? []
    let r = try await call(
      "GET", files("/" + percentEncode(file.id), [("alt", "media")]), headers: headers, maxResponseBytes: 1 << 30)
    if range == nil, let md5 = file.md5Checksum, MD5.hex(r.body) != md5 {
      throw DriveError(
        kind: .server, status: r.status, reason: "md5Mismatch", message: "downloaded bytes do not match md5Checksum")
    }
    return r.body
  }

  /// A Docs Editors file exported to `mimeType`.
  public func export(_ id: String, mimeType: String) async throws -> [UInt8] {
    try await call("GET", files("/" + percentEncode(id) + "/export", [("mimeType", mimeType)])).body
  }

  public func createFolder(name: String, parent: String) async throws -> DriveFile {
    let meta = JSONValue.object([
      ("name", .string(name)), ("mimeType", .string(DriveFile.folderMimeType)), ("parents", .array([.string(parent)])),
    ])
    // Not retried blindly: a lost answer could mean a created folder.
    return try DriveFile.parse(
      try await json("POST", files([("fields", DriveFile.fields)]), meta, retrying: false).body)
  }

  /// PATCH: rename (`name`), move (`addParents`/`removeParents`), times,
  /// trash.
  public func update(
    _ id: String, metadata: [(String, JSONValue)], addParents: [String] = [], removeParents: [String] = []
  ) async throws -> DriveFile {
    var query = [("fields", DriveFile.fields)]
    if !addParents.isEmpty { query.append(("addParents", addParents.joined(separator: ","))) }
    if !removeParents.isEmpty { query.append(("removeParents", removeParents.joined(separator: ","))) }
    return try DriveFile.parse(
      try await json("PATCH", files("/" + percentEncode(id), query), .object(metadata)).body)
  }

  public func trash(_ id: String) async throws -> DriveFile {
    try await update(id, metadata: [("trashed", .bool(true))])
  }

  /// Deletes for good (skipping the trash).
  public func delete(_ id: String) async throws {
    do { _ = try await call("DELETE", files("/" + percentEncode(id), [])) } catch let e as DriveError
      where e.kind == .notFound
    {
      // Already gone (a retried delete whose first answer was lost).
    }
  }

  /// The file carrying upload key `key` (see `DriveQuery.withUploadKey`).
  public func findByUploadKey(_ key: String) async throws -> DriveFile? {
    try await list(q: DriveQuery.withUploadKey(key), pageSize: 10).first
  }

  // MARK: Changes feed

  /// The token from which `changes(since:)` reports changes.
  public func startPageToken() async throws -> String {
    let r = try await call("GET", settings.apiBase + "/changes/startPageToken")
    guard let json = try? JSONValue.parse(r.body), let token = json["startPageToken"]?.string, !token.isEmpty else {
      throw DriveError(kind: .server, status: r.status, reason: "badAnswer", message: "no startPageToken")
    }
    return token
  }

  /// Every change since `token`, following pages; returns them with the
  /// token to use next time.
  public func changes(since token: String) async throws -> (changes: [DriveChange], next: String) {
    var out: [DriveChange] = []
    var page = token
    while true {
      let query = [
        ("pageToken", page), ("pageSize", "1000"),
        ("fields", "nextPageToken,newStartPageToken,changes(fileId,removed,file(\(DriveFile.fields)))"),
      ]
      let r = try await call("GET", settings.apiBase + "/changes?" + formEncode(query))
      let parsed = try DriveChange.parsePage(r.body)
      out += parsed.changes
      if let start = parsed.newStartPageToken { return (out, start) }
      page = parsed.nextPageToken ?? ""
    }
  }

  // MARK: Resumable uploads

  /// Starts a resumable session for a new file (`fileID` nil) or new
  /// content of `fileID`; returns the session URI.
  public func initiateUpload(
    name: String, parent: String?, size: Int64, mimeType: String, uploadKey: String?, fileID: String?
  ) async throws -> String {
    var meta: [(String, JSONValue)] = [("name", .string(name))]
    if fileID == nil, let parent { meta.append(("parents", .array([.string(parent)]))) }
    if let uploadKey { meta.append(("appProperties", .object([("vigieUpload", .string(uploadKey))]))) }
    let url =
      settings.uploadBase + "/files" + (fileID.map { "/" + percentEncode($0) } ?? "") + "?"
      + formEncode([("uploadType", "resumable"), ("fields", DriveFile.fields)])
    // Initiation creates nothing but a session: safe to retry.
    let r = try await call(
      fileID == nil ? "POST" : "PATCH", url,
      headers: [
        ("Content-Type", "application/json; charset=UTF-8"), ("X-Upload-Content-Length", String(size)),
        ("X-Upload-Content-Type", mimeType),
      ], body: Array(JSONValue.object(meta).serialized.utf8))
    guard let location = r.header("location"), location.hasPrefix("http") else {
      throw DriveError(kind: .server, status: r.status, reason: "noLocation", message: "no session URI in the answer")
    }
    return location
  }

  /// One PUT to a session: a chunk, or a status query (empty body).
  /// Answers the status and the `Range` header; throws DriveError for
  /// errors other than 308/200/201/404.
  public func putChunk(session: String, contentRange: String, bytes: [UInt8]) async throws -> (
    status: Int, range: String?, body: [UInt8]
  ) {
    let request = HTTPRequest(
      method: "PUT", url: session, headers: [("Content-Range", contentRange)], body: bytes,
      stallTimeout: settings.stallTimeout, maxResponseBytes: 1 << 20)
    let r: HTTPResponse
    do { r = try await worker.send(request) } catch let e as HTTPTransportError {
      throw DriveError.transport(e.message)
    }
    uploadedBytes += Int64(bytes.count)
    switch r.status {
    case 200, 201, 308, 404, 410: return (r.status, r.header("range"), r.body)
    default: throw DriveError.classify(status: r.status, body: r.body)
    }
  }
}
