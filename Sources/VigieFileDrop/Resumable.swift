import CArchive
import CFileDropSys
import Crypto
import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import VigieCore

/// Resumable uploads, tus 1.0 core with the creation extension
/// (https://tus.io/protocols/resumable-upload):
///
/// - `POST /~u/` with `Upload-Length` and `Upload-Metadata: filename <base64
///   of the path relative to the root>` creates an upload: 201 and `Location:
///   /~u/ID`.
/// - `HEAD /~u/ID` tells `Upload-Offset` (how much arrived) and `Upload-Length`.
/// - `PATCH /~u/ID` with `Content-Type: application/offset+octet-stream` and
///   `Upload-Offset` equal to the current offset appends the body (what
///   arrived before a connection dropped is kept). When the last byte is in,
///   the file is synced, hashed and renamed into place under the clash policy;
///   that answer carries `Vigie-Path` and `Vigie-Sha256`.
///
/// Parts live in `<root>/.vigie-upload-sessions/` (hidden like every temp
/// file, so on the same file system as the root) with a small `.meta` file,
/// so an upload survives a restart of the daemon; parts untouched for a day
/// are removed at start.
extension FileDropResponder {
  static let uploadsPrefix = "~u"
  static let sessionsFolder = DropRoot.tempPrefix + "sessions"
  static let tusHeaders: [(HTTPField.Name, String)] = [
    (HTTPField.Name("Tus-Resumable")!, "1.0.0")
  ]

  static let tusResumable = HTTPField.Name("Tus-Resumable")!
  static let uploadLength = HTTPField.Name("Upload-Length")!
  static let uploadOffset = HTTPField.Name("Upload-Offset")!
  static let uploadMetadata = HTTPField.Name("Upload-Metadata")!
  static let vigiePath = HTTPField.Name("Vigie-Path")!
  static let vigieSha256 = HTTPField.Name("Vigie-Sha256")!

  func sessions() throws(UploadError) -> Descriptor {
    if mkdirat(root.descriptor.fd, Self.sessionsFolder, 0o700) != 0 && errno != EEXIST {
      throw .system("mkdir sessions", errno)
    }
    let fd = openat(root.descriptor.fd, Self.sessionsFolder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { throw .system("open sessions", errno) }
    return Descriptor(fd)
  }

  func tusResponse(_ status: HTTPResponse.Status, _ text: String = "") -> Response {
    var response = text.isEmpty ? Response(status: status) : Self.text(status, text)
    response.headers[Self.tusResumable] = "1.0.0"
    response.headers[.cacheControl] = "no-store"
    return response
  }

  func resumable(_ path: DropPath, request: Request, context: DropContext) async -> Response {
    if request.method == .options {
      var response = tusResponse(.noContent)
      response.headers[HTTPField.Name("Tus-Version")!] = "1.0.0"
      response.headers[HTTPField.Name("Tus-Extension")!] = "creation"
      response.headers[HTTPField.Name("Tus-Max-Size")!] = "\(settings.maxUploadSize)"
      return response
    }
    guard request.headers[Self.tusResumable] == "1.0.0" else {
      var response = tusResponse(.preconditionFailed, "Tus-Resumable: 1.0.0 is required.\n")
      response.headers[HTTPField.Name("Tus-Version")!] = "1.0.0"
      return response
    }
    do {
      switch (request.method, path.components.count) {
      case (.post, 1): return try await create(request)
      case (.head, 2): return try status(path.components[1])
      case (.patch, 2): return try await append(path.components[1], request: request, context: context)
      default: return tusResponse(.methodNotAllowed, "Use POST /~u/, HEAD or PATCH /~u/ID.\n")
      }
    } catch {
      var response = Self.uploadFailure(error)
      response.headers[Self.tusResumable] = "1.0.0"
      return response
    }
  }

  struct Session {
    var target: DropPath
    var length: Int64
  }

  func readSession(_ id: String, in folder: Descriptor) -> Session? {
    guard ShareLink.isTokenShaped(id) else { return nil }
    let fd = openat(folder.fd, id + ".meta", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = Glibc.read(fd, &buffer, buffer.count)
    guard n > 0, let text = String(validating: buffer[0..<n], as: UTF8.self) else { return nil }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard lines.count >= 2, let length = Int64(lines[1]),
      case .success(let target) = DropPath.parse(relative: String(lines[0])), !target.isRoot
    else { return nil }
    return Session(target: target, length: length)
  }

  func create(_ request: Request) async throws(UploadError) -> Response {
    guard let lengthText = request.headers[Self.uploadLength], let length = Int64(lengthText), length >= 0 else {
      throw .badRequest("Upload-Length is required (deferred length is not supported)")
    }
    if length > settings.maxUploadSize { throw .tooLarge(limit: settings.maxUploadSize) }
    if let free = root.freeBytes(), free - settings.freeSpaceReserve < length { throw .insufficientStorage }
    var filename: String?
    for pair in (request.headers[Self.uploadMetadata] ?? "").split(separator: ",") {
      let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
      guard parts.count == 2, parts[0] == "filename" else { continue }
      guard let data = Data(base64Encoded: String(parts[1])), let text = String(data: data, encoding: .utf8) else {
        throw .badRequest("the filename metadata is not base64 UTF-8")
      }
      filename = text
    }
    guard let filename, case .success(let target) = DropPath.parse(relative: filename), !target.isRoot,
      !target.components.contains(where: { $0.hasPrefix(DropRoot.tempPrefix) || $0 == FileDropShareURL.prefix })
    else { throw .badRequest("Upload-Metadata needs a valid filename (base64 of the path in the drop)") }
    let folder = try sessions()
    var generator = SystemRandomNumberGenerator()
    let id = ShareLink.makeToken(using: &generator)
    let part = openat(folder.fd, id + ".part", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o640)
    guard part >= 0 else { throw .system("create upload", errno) }
    close(part)
    let meta = openat(folder.fd, id + ".meta", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o640)
    guard meta >= 0 else { throw .system("create upload", errno) }
    let text = Array("\(target.relative)\n\(length)\n".utf8)
    let written = write(meta, text, text.count)
    close(meta)
    guard written == text.count else { throw .system("write upload metadata", errno) }
    var response = tusResponse(.created)
    response.headers[.location] = "/\(Self.uploadsPrefix)/\(id)"
    return response
  }

  func status(_ id: String) throws(UploadError) -> Response {
    let folder = try sessions()
    guard let session = readSession(id, in: folder) else { return tusResponse(.notFound, "No such upload.\n") }
    var info = stat()
    guard fstatat(folder.fd, id + ".part", &info, AT_SYMLINK_NOFOLLOW) == 0 else {
      return tusResponse(.notFound, "No such upload.\n")
    }
    var response = tusResponse(.ok)
    response.headers[Self.uploadOffset] = "\(info.st_size)"
    response.headers[Self.uploadLength] = "\(session.length)"
    return response
  }

  func append(_ id: String, request: Request, context: DropContext) async throws(UploadError) -> Response {
    guard request.headers[.contentType] == "application/offset+octet-stream" else {
      return tusResponse(.unsupportedMediaType, "PATCH needs Content-Type: application/offset+octet-stream.\n")
    }
    let folder = try sessions()
    guard let session = readSession(id, in: folder) else { return tusResponse(.notFound, "No such upload.\n") }
    guard let slot = gate.enter() else { return Self.busy() }
    defer { slot.release() }
    let started = ContinuousClock.now
    let fd = openat(folder.fd, id + ".part", O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { return tusResponse(.notFound, "No such upload.\n") }
    let part = Descriptor(fd)
    var info = stat()
    guard fstat(part.fd, &info) == 0 else { throw .system("fstat", errno) }
    var offset = Int64(info.st_size)
    guard let claimed = request.headers[Self.uploadOffset].flatMap({ Int64($0) }), claimed == offset else {
      var response = tusResponse(.conflict, "Upload-Offset must be \(offset).\n")
      response.headers[Self.uploadOffset] = "\(offset)"
      return response
    }
    var checkedAt = offset
    do {
      for try await buffer in request.body {
        offset += Int64(buffer.readableBytes)
        if offset > session.length { throw UploadError.badRequest("the body goes past Upload-Length") }
        if offset - checkedAt >= 8 << 20 {
          checkedAt = offset
          var space = statvfs()
          if fstatvfs(part.fd, &space) == 0,
            Int64(space.f_bavail) * Int64(space.f_frsize) - settings.freeSpaceReserve < Int64(buffer.readableBytes)
          {
            throw UploadError.insufficientStorage
          }
        }
        let result = try await NIOThreadPool.singleton.runIfActive { () -> Int32 in
          buffer.withUnsafeReadableBytes { raw -> Int32 in
            var done = 0
            while done < raw.count {
              let n = write(part.fd, raw.baseAddress! + done, raw.count - done)
              if n < 0 {
                if errno == EINTR { continue }
                return errno
              }
              done += n
            }
            return 0
          }
        }
        if result == ENOSPC || result == EDQUOT { throw UploadError.insufficientStorage }
        if result != 0 { throw UploadError.system("write", result) }
      }
    } catch let error as UploadError {
      // What was written stays: the client resumes from the new offset.
      if error == .insufficientStorage { _ = ftruncate(part.fd, off_t(checkedAt)) }
      throw error
    } catch {
      // The connection dropped: keep what arrived.
      return tusResponse(.badRequest, "The body was cut off.\n")
    }
    guard offset == session.length else {
      var response = tusResponse(.noContent)
      response.headers[Self.uploadOffset] = "\(offset)"
      return response
    }
    // Complete: sync, hash, move into place.
    let digest: String
    do {
      digest = try await NIOThreadPool.singleton.runIfActive { () throws -> String in
        guard fsync(part.fd) == 0 else { throw UploadError.system("fsync", errno) }
        let reader = openat(folder.fd, id + ".part", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard reader >= 0 else { throw UploadError.system("open", errno) }
        defer { close(reader) }
        var hasher = Crypto.SHA256()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
          let n = chunk.withUnsafeMutableBytes { Glibc.read(reader, $0.baseAddress!, $0.count) }
          if n < 0 && errno == EINTR { continue }
          guard n >= 0 else { throw UploadError.system("read", errno) }
          if n == 0 { break }
          chunk.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return hasher.finalize().map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
      }
    } catch let error as UploadError {
      throw error
    } catch {
      throw .system("hash", EIO)
    }
    let target: Descriptor
    do {
      target = try makeFolders(session.target.parent)
    } catch {
      throw .badRequest("cannot use the folder \(session.target.parent): \(error)")
    }
    let name = try await Upload.place(
      from: folder, id + ".part", to: target, name: session.target.name, clash: settings.clash, onRenamed: {})
    unlinkat(folder.fd, id + ".meta", 0)
    let stored = (try? session.target.parent.appending(name).get()) ?? session.target
    Self.accessLog(
      logger, event: "upload", peer: peer(context), path: stored, bytes: offset, status: 204, outcome: "complete",
      started: started, sha256: digest)
    var response = tusResponse(.noContent)
    response.headers[Self.uploadOffset] = "\(offset)"
    response.headers[Self.vigiePath] = stored.urlPath
    response.headers[Self.vigieSha256] = digest
    return response
  }

  /// Removes upload sessions untouched for a day (at service start).
  static func sweepSessions(root: DropRoot, olderThan seconds: Int = 86400) {
    let fd = openat(root.descriptor.fd, sessionsFolder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0, let stream = fdopendir(fd) else { return }
    defer { closedir(stream) }
    let now = time(nil)
    while let entry = readdir(stream) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
      }
      guard name.hasSuffix(".part") || name.hasSuffix(".meta") else { continue }
      var info = stat()
      if fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0, now - info.st_mtim.tv_sec > seconds {
        unlinkat(fd, name, 0)
      }
    }
  }
}
