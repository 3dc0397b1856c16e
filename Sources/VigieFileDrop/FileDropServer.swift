import CArchive
import CFileDropSys
import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import VigieCore

/// What the file drop service needs from the configuration.
public struct FileDropSettings: Sendable {
  public var listen: ListenAddress
  public var root: String
  public var maxUploadSize: Int64
  public var freeSpaceReserve: Int64
  public var clash: ClashPolicy
  public var publicRead: Bool
  public var publicDrop: Bool
  public var users: [DropUser]
  public var maxTransfers: Int
  /// False forces the realpath fallback instead of openat2 (tests).
  public var useOpenat2 = true

  public init(_ config: FileDropConfig) throws(DropError) {
    guard case .success(let listen) = ListenAddress.parse(config.listen) else {
      throw .system("filedrop.listen \(config.listen)", EINVAL)
    }
    self.listen = listen
    root = config.root
    maxUploadSize = Int64(config.maxUploadSize.bytes)
    freeSpaceReserve = Int64(config.freeSpaceReserve.bytes)
    clash = config.clash
    publicRead = config.publicRead
    publicDrop = config.publicDrop
    users = config.user
    maxTransfers = config.maxTransfers
  }
}

/// The request context: Hummingbird's core storage plus the peer address.
public struct DropContext: RequestContext {
  public var coreContext: CoreRequestContextStorage
  public let remoteAddress: SocketAddress?

  public init(source: ApplicationRequestContextSource) {
    coreContext = .init(source: source)
    remoteAddress = source.channel.remoteAddress
  }
}

/// The LAN file drop: a Hummingbird 2 application run as a ServiceLifecycle
/// service (the supervisor restarts it when it fails or when `[filedrop]`
/// changes).
public struct FileDropService: Service {
  let settings: FileDropSettings
  let logger: Logger
  let shares: (any ShareLinkStore)?
  let onListening: @Sendable (Int) -> Void
  let mounted: MountedResponder?

  /// Another responder served under a reserved prefix (the status page
  /// under `/~status/`); it answers every path that starts with it.
  public struct MountedResponder: Sendable {
    public var prefix: String
    public var responder: any HTTPResponder<DropContext>
    public init(prefix: String, responder: any HTTPResponder<DropContext>) {
      self.prefix = prefix
      self.responder = responder
    }
  }

  public init(
    settings: FileDropSettings, shares: (any ShareLinkStore)? = nil, mounted: MountedResponder? = nil,
    logger: Logger, onListening: @escaping @Sendable (Int) -> Void = { _ in }
  ) {
    self.settings = settings
    self.shares = shares
    self.mounted = mounted
    self.logger = logger
    self.onListening = onListening
  }

  public func run() async throws {
    if access(settings.root, F_OK) != 0 {
      try FileManagerless.makeDirectories(settings.root)
      logger.notice("created the file drop folder", metadata: ["root": "\(settings.root)"])
    }
    // VIGIE_FILEDROP_NO_OPENAT2 forces the realpath fallback (its tests).
    let useOpenat2 = settings.useOpenat2 && getenv("VIGIE_FILEDROP_NO_OPENAT2") == nil
    let root = try DropRoot(path: settings.root, useOpenat2: useOpenat2)
    FileDropResponder.sweepSessions(root: root)
    // Transfer buffers (128-256 KiB) are allocated on one thread and freed on
    // another. glibc raises its mmap threshold after such frees and then
    // keeps the memory in per-thread arenas, so RSS grew by tens of MB after
    // big transfers. A fixed threshold keeps them mmapped: freed at once.
    _ = vigie_set_mmap_threshold(128 * 1024)
    let responder = FileDropResponder(
      root: root, settings: settings, gate: TransferGate(limit: settings.maxTransfers), shares: shares,
      access: AccessControl(publicRead: settings.publicRead, publicDrop: settings.publicDrop, users: settings.users),
      mounted: mounted, logger: logger)
    let logger = self.logger
    let onListening = self.onListening
    let root_ = root.realPath
    let app = Application(
      responder: responder,
      configuration: ApplicationConfiguration(
        address: .hostname(settings.listen.host, port: settings.listen.port), serverName: "vigie"),
      onServerRunning: { channel in
        let port = channel.localAddress?.port ?? 0
        logger.notice(
          "file drop listening",
          metadata: [
            "address": "\(channel.localAddress.map { "\($0)" } ?? "?")", "root": "\(root_)",
            "containment": "\(root.useOpenat2 ? "openat2" : "realpath")",
          ])
        onListening(port)
      },
      logger: logger)
    try await app.run()
  }
}

enum FileManagerless {
  /// `mkdir -p` with mode 0750.
  static func makeDirectories(_ path: String) throws(DropError) {
    var prefix = ""
    for component in path.split(separator: "/") {
      prefix += "/" + component
      if mkdir(prefix, 0o750) != 0 && errno != EEXIST { throw .system("mkdir \(prefix)", errno) }
    }
  }
}

/// Counts transfers in progress against `[filedrop] max_transfers`.
final class TransferGate: Sendable {
  let limit: Int
  private let count = Mutex(0)
  init(limit: Int) { self.limit = limit }

  /// A slot, or nil when all are taken. The slot is given back when released
  /// or when the last reference to it goes (a body never written).
  func enter() -> TransferSlot? {
    let granted = count.withLock { count in
      guard count < limit else { return false }
      count += 1
      return true
    }
    return granted ? TransferSlot(gate: self) : nil
  }

  fileprivate func leave() { count.withLock { $0 -= 1 } }
  var active: Int { count.withLock { $0 } }
}

/// Sendable: the only mutable state is `released`, behind a Mutex.
final class TransferSlot: Sendable {
  private let gate: TransferGate
  private let released = Mutex(false)
  init(gate: TransferGate) { self.gate = gate }
  func release() {
    let first = released.withLock { released in
      defer { released = true }
      return !released
    }
    if first { gate.leave() }
  }
  deinit { release() }
}

extension HTTPField.Name {
  static let contentDisposition = Self("Content-Disposition")!
  static let xContentTypeOptions = Self("X-Content-Type-Options")!
  static let contentSecurityPolicy = Self("Content-Security-Policy")!
}

struct FileDropResponder: HTTPResponder {
  typealias Context = DropContext
  let root: DropRoot
  let settings: FileDropSettings
  let gate: TransferGate
  let shares: (any ShareLinkStore)?
  let access: AccessControl
  let mounted: FileDropService.MountedResponder?
  let logger: Logger
  /// The first component of share URLs: `/~s/<token>/<name>`.
  static let sharePrefix = FileDropShareURL.prefix
  static let chunkSize = 256 * 1024

  func respond(to request: Request, context: DropContext) async throws -> Response {
    let target = request.head.path ?? "/"
    if let mounted,
      target == mounted.prefix || target.hasPrefix(mounted.prefix + "/")
        || target.hasPrefix(mounted.prefix + "?")
    {
      return try await mounted.responder.respond(to: request, context: context)
    }
    let rawPath: Substring
    let query: Substring
    if let mark = target.firstIndex(of: "?") {
      rawPath = target[..<mark]
      query = target[target.index(after: mark)...]
    } else {
      rawPath = target[...]
      query = ""
    }
    let path: DropPath
    switch DropPath.parse(urlPath: String(rawPath)) {
    case .success(let parsed): path = parsed
    case .failure(let error): return Self.text(.badRequest, "Bad path: \(error).\n")
    }
    if path.components.contains(where: { $0.hasPrefix(DropRoot.tempPrefix) }) {
      return Self.text(.notFound, "Not found.\n")
    }
    let parameters = Self.queryParameters(query)
    if request.method == .put || request.method == .post, let refusal = Self.crossSiteRefusal(request) {
      logger.warning("refused a cross-site upload", metadata: ["origin": "\(refusal)", "peer": "\(peer(context))"])
      return Self.text(.forbidden, "Cross-site uploads are refused.\n")
    }
    if path.isRoot, request.method == .get || request.method == .head, let asset = parameters["asset"] {
      return Self.asset(asset)
    }
    if path.components.first == Self.sharePrefix {
      guard request.method == .get || request.method == .head else {
        return Self.text(.methodNotAllowed, "Share links are read-only.\n")
      }
      return try await share(path, request: request, parameters: parameters, context: context)
    }
    let authorization = request.headers[.authorization]
    if path.components.first == Self.uploadsPrefix {
      let decision = access.decide(.drop, authorization: authorization)
      guard case .allowed = decision else { return Self.refusal(decision) }
      return await resumable(path, request: request, context: context)
    }
    switch request.method {
    case .get, .head:
      let decision = access.decide(.read, authorization: authorization)
      guard case .allowed = decision else {
        // A drop box: people who may only upload get the page, without the listing.
        if case .allowed = access.decide(.drop, authorization: authorization), rawPath.hasSuffix("/"),
          parameters["format"] != "json"
        {
          return Self.page(path, entries: nil)
        }
        return Self.refusal(decision)
      }
      return try await get(
        path, directorySlash: rawPath.hasSuffix("/"), request: request, parameters: parameters, context: context)
    case .put, .post:
      let decision = access.decide(.drop, authorization: authorization)
      guard case .allowed = decision else { return Self.refusal(decision) }
      return request.method == .put
        ? await put(path, request: request, context: context) : await post(path, request: request, context: context)
    default:
      var response = Self.text(.methodNotAllowed, "Method not allowed.\n")
      response.headers[.allow] = "GET, HEAD, PUT, POST"
      return response
    }
  }

  // MARK: Downloads

  func get(
    _ path: DropPath, directorySlash: Bool, request: Request, parameters: [String: String], context: DropContext
  ) async throws -> Response {
    let handle: Descriptor
    do {
      handle = try root.open(path, flags: O_PATH)
    } catch DropError.notFound {
      // `/photos.zip` streams the folder `photos` when no such file exists.
      if let (base, format) = ArchiveFormat.split(path.name), case .success(let folder) = path.parent.appending(base),
        let directory = try? root.open(folder, flags: O_PATH | O_DIRECTORY)
      {
        return archive(folder, directory, format: format, request: request, context: context)
      }
      return Self.text(.notFound, "Not found.\n")
    } catch DropError.outsideRoot {
      logger.warning("refused a path leaving the root", metadata: ["path": "\(path)", "peer": "\(peer(context))"])
      return Self.text(.notFound, "Not found.\n")
    } catch {
      return Self.text(.internalServerError, "Cannot open: \(error).\n")
    }
    let info = try handle.stat()
    switch info.st_mode & S_IFMT {
    case S_IFDIR:
      if !directorySlash && !path.isRoot {
        var response = Response(status: .movedPermanently)
        response.headers[.location] = path.urlPath + "/"
        return response
      }
      return try listing(path, handle: handle, request: request, parameters: parameters)
    case S_IFREG:
      // Reopen the very inode that was checked for reading.
      let fd = open("/proc/self/fd/\(handle.fd)", O_RDONLY | O_CLOEXEC | O_NOCTTY)
      guard fd >= 0 else {
        return Self.text(.internalServerError, "Cannot open: \(String(cString: strerror(errno))).\n")
      }
      return file(path, Descriptor(fd), info: info, request: request, parameters: parameters, context: context)
    default:
      return Self.text(.notFound, "Not found.\n")
    }
  }

  /// `/~s/<token>` redirects to `/~s/<token>/<name>` (so that browsers save
  /// the right name, as woof does); that URL serves the file while the link
  /// is active. A download that reaches the end of the file counts.
  func share(_ path: DropPath, request: Request, parameters: [String: String], context: DropContext) async throws
    -> Response
  {
    guard let shares, path.components.count >= 2, path.components.count <= 3,
      let link = try await shares.link(token: path.components[1])
    else { return Self.text(.notFound, "No such link.\n") }
    let state = link.state(now: Int64(time(nil)))
    guard state == .active else { return Self.text(.gone, "This link is \(state.rawValue).\n") }
    let canonical = "/\(Self.sharePrefix)/\(link.token)/\(DropPath.percentEncode(link.path.name))"
    if path.components.count == 2 || path.components[2] != link.path.name {
      var response = Self.text(.found, "See \(canonical)\n")
      response.headers[.location] = canonical
      return response
    }
    let handle: Descriptor
    do {
      handle = try root.open(link.path, flags: O_PATH)
    } catch {
      return Self.text(.notFound, "The shared file is gone.\n")
    }
    let info = try handle.stat()
    guard info.st_mode & S_IFMT == S_IFREG else { return Self.text(.notFound, "The shared file is gone.\n") }
    let fd = open("/proc/self/fd/\(handle.fd)", O_RDONLY | O_CLOEXEC | O_NOCTTY)
    guard fd >= 0 else { return Self.text(.internalServerError, "Cannot open the file.\n") }
    let token = link.token
    let logger = self.logger
    return file(link.path, Descriptor(fd), info: info, request: request, parameters: parameters, context: context) {
      do {
        try await shares.recordDownload(token: token)
      } catch {
        logger.error("cannot count a share download", metadata: ["error": "\(error)"])
      }
    }
  }

  func file(
    _ path: DropPath, _ file: Descriptor, info: stat, request: Request, parameters: [String: String],
    context: DropContext, completed: (@Sendable () async -> Void)? = nil
  ) -> Response {
    let size = Int64(info.st_size)
    let validators = FileValidators(
      inode: UInt64(info.st_ino), size: size, modifiedSeconds: Int64(info.st_mtim.tv_sec),
      modifiedNanoseconds: Int64(info.st_mtim.tv_nsec))
    var headers = HTTPFields()
    headers[.eTag] = validators.etag
    headers[.lastModified] = HTTPDate.format(validators.lastModified)
    headers[.acceptRanges] = "bytes"
    headers[.cacheControl] = "no-cache"
    let outcome = validators.evaluate(
      ifNoneMatch: request.headers[.ifNoneMatch], ifModifiedSince: request.headers[.ifModifiedSince],
      ifRange: request.headers[.ifRange])
    guard case .proceed(let honourRange) = outcome else {
      return Response(status: .notModified, headers: headers)
    }
    headers[.contentType] = FileNames.mediaType(path.name)
    headers[.contentDisposition] = FileNames.contentDisposition(path.name, inline: parameters["inline"] != nil)
    headers[.xContentTypeOptions] = "nosniff"
    headers[.contentSecurityPolicy] = "sandbox; default-src 'none'"
    let range = honourRange ? RangeRequest.evaluate(request.headers[.range], size: size) : .whole
    let status: HTTPResponse.Status
    let span: ClosedRange<Int64>?
    switch range {
    case .unsatisfiable:
      headers[.contentRange] = "bytes */\(size)"
      return Response(status: .rangeNotSatisfiable, headers: headers)
    case .partial(let bytes):
      status = .partialContent
      span = bytes
      headers[.contentRange] = "bytes \(bytes.lowerBound)-\(bytes.upperBound)/\(size)"
    case .whole:
      status = .ok
      span = size > 0 ? 0...(size - 1) : nil
    }
    let length = span.map { $0.upperBound - $0.lowerBound + 1 } ?? 0
    if request.method == .head {
      headers[.contentLength] = "\(length)"
      return Response(status: status, headers: headers)
    }
    guard let slot = gate.enter() else { return Self.busy() }
    let logger = self.logger
    let who = peer(context)
    let started = ContinuousClock.now
    let body = ResponseBody(contentLength: Int(length)) { writer in
      defer { slot.release() }
      var sent: Int64 = 0
      var outcome = "incomplete"
      defer {
        Self.accessLog(
          logger, event: "download", peer: who, path: path, bytes: sent, status: Int(status.code), outcome: outcome,
          started: started, sha256: nil)
      }
      if let span {
        var offset = span.lowerBound
        while offset <= span.upperBound {
          let count = Int(min(Int64(Self.chunkSize), span.upperBound - offset + 1))
          let chunk = try await Self.read(file, offset: offset, count: count)
          guard chunk.readableBytes > 0 else { throw DropError.system("read (file shrank)", EIO) }
          try await writer.write(chunk)
          offset += Int64(chunk.readableBytes)
          sent += Int64(chunk.readableBytes)
        }
      }
      try await writer.finish(nil)
      outcome = "complete"
      // Counted when the end of the file went out (a whole download or the
      // last piece of a resumed one).
      if let completed, span == nil || span!.upperBound == size - 1 { await completed() }
    }
    return Response(status: status, headers: headers, body: body)
  }

  /// A folder streamed as an archive (chunked, no Content-Length).
  func archive(
    _ folder: DropPath, _ directory: Descriptor, format: ArchiveFormat, request: Request, context: DropContext
  ) -> Response {
    let name = (folder.isRoot ? "drop" : folder.name) + "." + format.rawValue
    var headers = HTTPFields()
    headers[.contentType] = format.mediaType
    headers[.contentDisposition] = FileNames.contentDisposition(name)
    headers[.xContentTypeOptions] = "nosniff"
    headers[.cacheControl] = "no-store"
    if request.method == .head { return Response(status: .ok, headers: headers) }
    guard let slot = gate.enter() else { return Self.busy() }
    let fd = open("/proc/self/fd/\(directory.fd)", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return Self.text(.internalServerError, "Cannot open the folder.\n") }
    let handoff = ArchiveWriter.start(
      format: format, folder: Descriptor(fd), prefix: folder.isRoot ? "drop" : folder.name)
    let logger = self.logger
    let who = peer(context)
    let started = ContinuousClock.now
    let logged = folder.parent.appending(name).map { $0 }
    let body = ResponseBody { writer in
      defer { slot.release() }
      var sent: Int64 = 0
      var outcome = "incomplete"
      defer {
        Self.accessLog(
          logger, event: "archive", peer: who, path: (try? logged.get()) ?? folder, bytes: sent, status: 200,
          outcome: outcome, started: started, sha256: nil)
      }
      do {
        for try await chunk in handoff.stream {
          sent += Int64(chunk.readableBytes)
          try await writer.write(chunk)
          handoff.taken()
        }
        try await writer.finish(nil)
        outcome = "complete"
      } catch {
        handoff.cancel()
        outcome = "\(error)"
        throw error
      }
    }
    return Response(status: .ok, headers: headers, body: body)
  }

  /// One pread on NIO's blocking thread pool.
  static func read(_ file: Descriptor, offset: Int64, count: Int) async throws -> ByteBuffer {
    try await NIOThreadPool.singleton.runIfActive {
      var buffer = ByteBufferAllocator().buffer(capacity: count)
      let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
        while true {
          let n = pread(file.fd, raw.baseAddress!, count, off_t(offset))
          if n < 0 && errno == EINTR { continue }
          return max(n, 0)
        }
      }
      _ = n
      return buffer
    }
  }

  func listing(_ path: DropPath, handle: Descriptor, request: Request, parameters: [String: String]) throws -> Response
  {
    let entries = try root.list(path, directory: handle)
    let wantsJSON =
      parameters["format"] == "json"
      || (request.headers[.accept]?.contains("application/json") == true
        && request.headers[.accept]?.contains("text/html") != true)
    var headers = HTTPFields()
    headers[.cacheControl] = "no-store"
    headers[.xContentTypeOptions] = "nosniff"
    if wantsJSON {
      headers[.contentType] = "application/json"
      let items = entries.map { entry in
        "{\"name\":\(FileNames.jsonString(entry.name)),\"type\":\"\(entry.isDirectory ? "dir" : "file")\",\"size\":\(entry.size),\"modified\":\(entry.modified)}"
      }
      let json =
        "{\"path\":\(FileNames.jsonString(path.isRoot ? "/" : path.description + "/")),\"entries\":[\(items.joined(separator: ","))]}\n"
      return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
    }
    return Self.page(path, entries: entries)
  }

  /// The HTML page; `entries` nil for a drop box (no listing).
  static func page(_ path: DropPath, entries: [DropEntry]?) -> Response {
    var headers = HTTPFields()
    headers[.cacheControl] = "no-store"
    headers[.xContentTypeOptions] = "nosniff"
    headers[.contentType] = "text/html; charset=utf-8"
    headers[.contentSecurityPolicy] =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    let html = DropPage.render(path: path, entries: entries)
    return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
  }

  static func refusal(_ decision: AccessControl.Decision) -> Response {
    switch decision {
    case .forbidden:
      return text(.forbidden, "Your account may not do this.\n")
    default:
      var response = text(.unauthorized, "Log in to do this.\n")
      response.headers[.wwwAuthenticate] = "Basic realm=\"vigie file drop\", charset=\"UTF-8\""
      return response
    }
  }

  // MARK: Uploads

  /// `PUT /folder/name`: the body is the file. Missing folders are created.
  func put(_ path: DropPath, request: Request, context: DropContext) async -> Response {
    guard !path.isRoot else { return Self.text(.methodNotAllowed, "PUT needs a file name.\n") }
    if let early = precheck(request) { return early }
    guard let slot = gate.enter() else { return Self.busy() }
    defer { slot.release() }
    let started = ContinuousClock.now
    let folder: Descriptor
    do {
      folder = try makeFolders(path.parent)
    } catch {
      return Self.text(
        error == .outsideRoot || error == .notFound ? .notFound : .conflict, "Cannot use the folder: \(error).\n")
    }
    let upload: Upload
    do {
      upload = try Upload(
        root: root, folder: folder, folderPath: path.parent, name: path.name, limit: settings.maxUploadSize,
        reserve: settings.freeSpaceReserve)
    } catch {
      return Self.uploadFailure(error)
    }
    do {
      for try await buffer in request.body { try await upload.append(buffer) }
      let stored = try await upload.finish(clash: settings.clash)
      Self.accessLog(
        logger, event: "upload", peer: peer(context), path: stored.path, bytes: stored.size, status: 201,
        outcome: "complete", started: started, sha256: stored.sha256)
      var response = Self.json(.created, stored.json + "\n")
      response.headers[.location] = stored.path.urlPath
      return response
    } catch {
      upload.abandon()
      let failure = (error as? UploadError) ?? .badRequest("the upload was interrupted: \(error)")
      let response = Self.uploadFailure(failure)
      Self.accessLog(
        logger, event: "upload", peer: peer(context), path: path, bytes: upload.written,
        status: Int(response.status.code),
        outcome: "\(failure)", started: started, sha256: nil)
      return response
    }
  }

  /// `POST /folder/` with `multipart/form-data`: every file part is stored in
  /// the folder (a file name with slashes, from a folder upload, goes into
  /// subfolders). Streamed: parts are written as they arrive.
  func post(_ path: DropPath, request: Request, context: DropContext) async -> Response {
    let boundary: String
    switch MultipartParser.boundary(contentType: request.headers[.contentType] ?? "") {
    case .success(let value): boundary = value
    case .failure(let error): return Self.text(.unsupportedMediaType, "\(error).\n")
    }
    if let early = precheck(request) { return early }
    guard let slot = gate.enter() else { return Self.busy() }
    defer { slot.release() }
    let started = ContinuousClock.now
    var parser = MultipartParser(boundary: boundary)
    var stored: [StoredFile] = []
    var current: Upload?
    var total: Int64 = 0
    do {
      for try await buffer in request.body {
        total += Int64(buffer.readableBytes)
        if total > settings.maxUploadSize { throw UploadError.tooLarge(limit: settings.maxUploadSize) }
        let events: [MultipartParser.Event]
        do {
          events = try parser.feed(buffer.readableBytesView)
        } catch {
          throw UploadError.badRequest("\(error)")
        }
        for event in events {
          switch event {
          case .begin(let part):
            guard let filename = part.filename else { continue }
            guard case .success(let relative) = DropPath.parse(relative: filename), !relative.isRoot,
              !relative.components.contains(where: { $0.hasPrefix(DropRoot.tempPrefix) })
            else { throw UploadError.badRequest("bad file name '\(CommandGrammar.printable(filename))'") }
            var target = path
            for component in relative.components {
              guard case .success(let next) = target.appending(component) else {
                throw UploadError.badRequest("the path is too deep")
              }
              target = next
            }
            let folder: Descriptor
            do {
              folder = try makeFolders(target.parent)
            } catch {
              throw UploadError.badRequest("cannot use the folder \(target.parent): \(error)")
            }
            current = try Upload(
              root: root, folder: folder, folderPath: target.parent, name: target.name,
              limit: settings.maxUploadSize, reserve: settings.freeSpaceReserve)
          case .body(let bytes):
            if let current { try await current.append(ByteBuffer(bytes: bytes)) }
          case .end:
            if let upload = current {
              let file = try await upload.finish(clash: settings.clash)
              stored.append(file)
              Self.accessLog(
                logger, event: "upload", peer: peer(context), path: file.path, bytes: file.size, status: 201,
                outcome: "complete", started: started, sha256: file.sha256)
            }
            current = nil
          }
        }
      }
      do {
        try parser.finish()
      } catch {
        throw UploadError.badRequest("\(error)")
      }
    } catch {
      current?.abandon()
      let failure = (error as? UploadError) ?? .badRequest("the upload was interrupted: \(error)")
      let response = Self.uploadFailure(failure, stored: stored)
      Self.accessLog(
        logger, event: "upload", peer: peer(context), path: path, bytes: current?.written ?? 0,
        status: Int(response.status.code), outcome: "\(failure)", started: started, sha256: nil)
      return response
    }
    return Self.json(.created, "{\"files\":[\(stored.map(\.json).joined(separator: ","))]}\n")
  }

  /// Early refusals from the headers alone: 413 from Content-Length, 507
  /// when the declared length does not fit above the reserve.
  func precheck(_ request: Request) -> Response? {
    guard let text = request.headers[.contentLength], let length = Int64(text) else { return nil }
    if length > settings.maxUploadSize { return Self.uploadFailure(.tooLarge(limit: settings.maxUploadSize)) }
    if let free = root.freeBytes(), free - settings.freeSpaceReserve < length {
      return Self.uploadFailure(.insufficientStorage)
    }
    return nil
  }

  /// Opens folder `path`, creating what is missing (mode 0750).
  func makeFolders(_ path: DropPath) throws(DropError) -> Descriptor {
    var current = DropPath.root
    var handle = try root.open(.root, flags: O_PATH | O_DIRECTORY)
    for component in path.components {
      guard case .success(let next) = current.appending(component) else { throw .notFound }
      do {
        handle = try root.open(next, flags: O_PATH | O_DIRECTORY)
      } catch DropError.notFound {
        if mkdirat(handle.fd, component, 0o750) != 0 && errno != EEXIST { throw .system("mkdir \(next)", errno) }
        handle = try root.open(next, flags: O_PATH | O_DIRECTORY)
      }
      current = next
    }
    return handle
  }

  // MARK: Helpers

  /// CSRF: a browser always sends `Origin` on a cross-site POST or PUT; it
  /// must name this very host. (Requests without `Origin` come from curl and
  /// other non-browser clients, which no third-party page can drive. The page
  /// itself uploads with a custom header, which no cross-site form can send
  /// without a CORS preflight this server never grants.) Returns the
  /// offending origin, nil when the request may proceed.
  static func crossSiteRefusal(_ request: Request) -> String? {
    guard let origin = request.headers[.origin] else { return nil }
    guard let host = request.head.authority else { return origin }
    if origin == "http://\(host)" || origin == "https://\(host)" { return nil }
    return origin
  }

  static func asset(_ name: String) -> Response {
    var headers = HTTPFields()
    headers[.cacheControl] = "max-age=300"
    headers[.xContentTypeOptions] = "nosniff"
    switch name {
    case "drop.css":
      headers[.contentType] = "text/css; charset=utf-8"
      return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: DropPage.css)))
    case "drop.js":
      headers[.contentType] = "text/javascript; charset=utf-8"
      return Response(
        status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: DropPage.javascript)))
    default:
      return text(.notFound, "No such asset.\n")
    }
  }

  func peer(_ context: DropContext) -> String {
    guard let address = context.remoteAddress else { return "?" }
    return address.ipAddress ?? "\(address)"
  }

  static func accessLog(
    _ logger: Logger, event: String, peer: String, path: DropPath, bytes: Int64, status: Int, outcome: String,
    started: ContinuousClock.Instant, sha256: String?
  ) {
    let elapsed = started.duration(to: .now)
    let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    var json =
      "{\"event\":\"\(event)\",\"peer\":\(FileNames.jsonString(peer)),\"path\":\(FileNames.jsonString(path.description)),\"bytes\":\(bytes),\"status\":\(status),\"outcome\":\(FileNames.jsonString(outcome)),\"ms\":\(ms)"
    if let sha256 { json += ",\"sha256\":\"\(sha256)\"" }
    json += "}"
    logger.info("access \(json)")
  }

  static func queryParameters(_ query: Substring) -> [String: String] {
    var result: [String: String] = [:]
    for pair in query.split(separator: "&") {
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      let key = String(parts[0])
      let value = parts.count > 1 ? String(parts[1]) : ""
      result[key] = value.removingPercentEncodingOrSelf
    }
    return result
  }

  static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "text/plain; charset=utf-8"
    headers[.xContentTypeOptions] = "nosniff"
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
  }

  static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
  }

  static func busy() -> Response {
    var response = text(.serviceUnavailable, "Too many transfers at once; try again shortly.\n")
    response.headers[.retryAfter] = "5"
    return response
  }

  static func uploadFailure(_ error: UploadError, stored: [StoredFile] = []) -> Response {
    let status: HTTPResponse.Status
    switch error {
    case .tooLarge: status = .contentTooLarge
    case .insufficientStorage: status = .init(code: 507, reasonPhrase: "Insufficient Storage")
    case .exists: status = .conflict
    case .badRequest: status = .badRequest
    case .system: status = .internalServerError
    }
    var body = "{\"error\":\(FileNames.jsonString(error.description))"
    if !stored.isEmpty { body += ",\"files\":[\(stored.map(\.json).joined(separator: ","))]" }
    var response = json(status, body + "}\n")
    // The rest of a refused body is not worth reading.
    response.headers[.connection] = "close"
    return response
  }
}

extension String {
  var removingPercentEncodingOrSelf: String {
    guard case .success(let bytes) = DropPath.percentDecode(Substring(self.replacingPlus).utf8),
      let text = String(validating: bytes, as: UTF8.self)
    else { return self }
    return text
  }

  var replacingPlus: String { String(self.map { $0 == "+" ? " " : $0 }) }
}
