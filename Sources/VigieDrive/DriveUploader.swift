import Foundation
import Logging
import VigieCore

#if canImport(Glibc)
  import Glibc
#endif

/// What an upload must remember across an outage or a reboot: the session
/// URI and the bytes the server confirmed. Persisted by the caller after
/// every change (`persist`), before the next request.
public struct UploadCheckpoint: Sendable, Equatable {
  public var sessionURI: String?
  public var confirmed: Int64
  /// Whether a create may have happened without its answer (then the file
  /// is looked up by its upload key before any new session).
  public var mayExist: Bool

  public init(sessionURI: String? = nil, confirmed: Int64 = 0, mayExist: Bool = false) {
    self.sessionURI = sessionURI
    self.confirmed = confirmed
    self.mayExist = mayExist
  }

  public var text: String {
    JSONValue.object([
      ("session", sessionURI.map { .string($0) } ?? .null), ("confirmed", .int(confirmed)),
      ("mayExist", .bool(mayExist)),
    ]).serialized
  }

  public init?(text: String) {
    guard let json = try? JSONValue.parse(text), let confirmed = json["confirmed"]?.int64, confirmed >= 0 else {
      return nil
    }
    self.init(sessionURI: json["session"]?.string, confirmed: confirmed, mayExist: json["mayExist"]?.bool ?? false)
  }
}

/// Uploads one local file with the resumable protocol, resuming from a
/// checkpoint, never re-sending bytes the server confirmed, and never
/// creating a duplicate: every new file carries `appProperties.vigieUpload
/// = key`, and after an ambiguous failure the key is looked up first.
public struct DriveUploader: Sendable {
  public let client: DriveClient
  public var retry: DriveRetryPolicy
  public let log: Logger

  public init(client: DriveClient, retry: DriveRetryPolicy = DriveRetryPolicy(), logger: Logger) {
    self.client = client
    self.retry = retry
    self.log = logger
  }

  public struct Job: Sendable {
    public var path: String
    public var name: String
    public var parent: String
    public var key: String
    public var mimeType: String
    public init(path: String, name: String, parent: String, key: String, mimeType: String = "application/octet-stream")
    {
      self.path = path
      self.name = name
      self.parent = parent
      self.key = key
      self.mimeType = mimeType
    }
  }

  /// Runs the upload to the end (or throws a non-retryable DriveError, or
  /// after `retry.maxAttempts` failures without progress).
  public func upload(
    _ job: Job, from checkpoint: UploadCheckpoint, persist: @Sendable (UploadCheckpoint) async throws -> Void
  ) async throws -> DriveFile {
    let fd = open(job.path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw DriveError(kind: .rejected, status: 0, reason: "open", message: "cannot open \(job.path)")
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw DriveError(kind: .rejected, status: 0, reason: "stat", message: job.path) }
    let size = Int64(st.st_size)
    let chunkSize = client.settings.chunkSize
    var state = ResumableUpload(
      size: size, chunkSize: chunkSize, sessionURI: checkpoint.sessionURI, confirmed: checkpoint.confirmed)
    var mayExist = checkpoint.mayExist
    var failures = 0
    var generator = SystemRandomNumberGenerator()
    var finalBody: [UInt8] = []

    func save() async throws {
      try await persist(UploadCheckpoint(sessionURI: state.sessionURI, confirmed: state.confirmed, mayExist: mayExist))
    }

    while state.phase != .finished {
      do {
        switch state.phase {
        case .needsSession:
          if mayExist, let existing = try await client.findByUploadKey(job.key) {
            log.info("drive: \(job.name) was already created (\(existing.id)); not uploading it again")
            return try verified(existing, fd: fd, size: size)
          }
          let uri = try await client.initiateUpload(
            name: job.name, parent: job.parent, size: size, mimeType: job.mimeType, uploadKey: job.key, fileID: nil)
          state.sessionStarted(uri: uri)
          try await save()
        case .needsStatusQuery:
          let r = try await client.putChunk(
            session: state.sessionURI ?? "", contentRange: state.statusQueryContentRange, bytes: [])
          try state.received(status: r.status, rangeHeader: r.range)
          if state.phase == .finished { finalBody = r.body }
          if state.phase == .needsSession { log.notice("drive: upload session of \(job.name) expired; starting over") }
          try await save()
        case .sending:
          let (offset, length) = state.nextChunk
          let bytes = try readChunk(fd: fd, offset: offset, length: length)
          // From here until an answer, the final chunk could create the file.
          if offset + length == size, !mayExist {
            mayExist = true
            try await save()
          }
          let r: (status: Int, range: String?, body: [UInt8])
          do {
            r = try await client.putChunk(
              session: state.sessionURI ?? "", contentRange: state.chunkContentRange, bytes: bytes)
          } catch let e as DriveError {
            state.ambiguousFailure()  // also after a 5xx: Google recommends a status query
            throw e
          }
          let before = state.confirmed
          try state.received(status: r.status, rangeHeader: r.range)
          if state.phase == .finished { finalBody = r.body }
          if state.confirmed > before { failures = 0 }
          try await save()
        case .finished:
          break
        }
      } catch let error as DriveError {
        failures += 1
        if error.kind == .transport { state.ambiguousFailure() }
        switch retry.decide(error, attempt: failures, refreshedAlready: failures > 1, using: &generator) {
        case .retry(let delay):
          log.notice("drive: upload of \(job.name) interrupted (\(error)); resuming in \(delay)")
          try await Task.sleep(for: delay)
        case .refreshToken:
          _ = try await client.accessToken(force: true)
        case .fail, .pauseUntilQuotaReset:
          throw error
        }
      } catch let error as ResumableUpload.ProtocolError {
        throw DriveError(kind: .server, status: 0, reason: "protocol", message: error.description)
      }
    }
    let file: DriveFile
    do { file = try DriveFile.parse(finalBody) } catch {
      // A finished session whose answer was not the file: find it by key.
      guard let found = try await client.findByUploadKey(job.key) else {
        throw DriveError(kind: .server, status: 0, reason: "lost", message: "upload finished but the file is not found")
      }
      file = found
    }
    return try verified(file, fd: fd, size: size)
  }

  private func readChunk(fd: Int32, offset: Int64, length: Int64) throws -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: Int(length))
    var done = 0
    while done < buffer.count {
      let n = buffer.withUnsafeMutableBytes {
        pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset) + off_t(done))
      }
      guard n > 0 else {
        throw DriveError(
          kind: .rejected, status: 0, reason: "read", message: "the staged file shrank or cannot be read")
      }
      done += n
    }
    return buffer
  }

  /// Checks the remote md5Checksum against the local bytes.
  private func verified(_ file: DriveFile, fd: Int32, size: Int64) throws -> DriveFile {
    guard let remote = file.md5Checksum else { return file }
    var md5 = MD5()
    var offset: Int64 = 0
    while offset < size {
      let chunk = try readChunk(fd: fd, offset: offset, length: min(1 << 20, size - offset))
      md5.update(chunk)
      offset += Int64(chunk.count)
    }
    guard md5.hexDigest() == remote else {
      throw DriveError(
        kind: .rejected, status: 0, reason: "md5Mismatch",
        message: "Drive's md5Checksum of \(file.name) differs from the local file")
    }
    return file
  }
}
