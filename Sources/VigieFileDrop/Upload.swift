import CArchive
import CFileDropSys
import Crypto
import Foundation
import Glibc
import NIOCore
import NIOPosix
import VigieCore

/// Why an upload stopped; each maps to one HTTP status.
public enum UploadError: Error, Sendable, Equatable, CustomStringConvertible {
  /// 413: larger than `max_upload_size`.
  case tooLarge(limit: Int64)
  /// 507: the write would take free space below the reserve, or the disk is full.
  case insufficientStorage
  /// 409: the name exists and the clash policy is `refuse` (or `rename` found no free name).
  case exists(String)
  /// 400: the client's body was malformed.
  case badRequest(String)
  case system(String, Int32)

  public var description: String {
    switch self {
    case .tooLarge(let limit): "the upload is larger than the limit of \(limit) bytes"
    case .insufficientStorage: "not enough free space on the drop's disk"
    case .exists(let name): "\(name) already exists"
    case .badRequest(let why): why
    case .system(let call, let code): "\(call): \(String(cString: strerror(code)))"
    }
  }
}

/// The outcome of a stored upload.
public struct StoredFile: Sendable, Equatable {
  public var path: DropPath
  public var size: Int64
  public var sha256: String

  public var json: String {
    "{\"path\":\(FileNames.jsonString(path.description)),\"size\":\(size),\"sha256\":\"\(sha256)\"}"
  }
}

/// One upload in progress: a temp file `.vigie-upload-<random>` in the target
/// folder (so the final rename never crosses file systems), written on NIO's
/// blocking thread pool, hashed with SHA-256 as it goes, checked against the
/// size cap and the free-space reserve, then fsync'd and renamed into place
/// without ever replacing a file unless the policy says `overwrite`. On any
/// failure the temp file is removed: no partial file is ever visible, neither
/// under its final name nor in listings (which hide the temp prefix).
final class Upload {
  let folder: Descriptor
  let folderPath: DropPath
  let name: String
  let tempName: String
  let file: Descriptor
  let limit: Int64
  let reserve: Int64
  let root: DropRoot
  private var hasher = Crypto.SHA256()
  private(set) var written: Int64 = 0
  private var staging: ByteBuffer
  private var checkedAt: Int64 = 0
  private var finished = false
  static let stagingSize = 1 << 20
  /// Free space is checked again after this many bytes.
  static let checkEvery: Int64 = 8 << 20

  init(root: DropRoot, folder: Descriptor, folderPath: DropPath, name: String, limit: Int64, reserve: Int64)
    throws(UploadError)
  {
    self.root = root
    self.folder = folder
    self.folderPath = folderPath
    self.name = name
    self.limit = limit
    self.reserve = reserve
    var random = SystemRandomNumberGenerator()
    tempName = DropRoot.tempPrefix + String(random.next() as UInt64, radix: 16) + ".part"
    let fd = openat(folder.fd, tempName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o640)
    guard fd >= 0 else { throw .system("create temp file", errno) }
    file = Descriptor(fd)
    staging = ByteBufferAllocator().buffer(capacity: Self.stagingSize)
  }

  /// Free bytes above the reserve on the upload's file system.
  func headroom() -> Int64? {
    var info = statvfs()
    guard fstatvfs(file.fd, &info) == 0 else { return nil }
    return Int64(info.f_bavail) * Int64(info.f_frsize) - reserve
  }

  func append(_ buffer: ByteBuffer) async throws(UploadError) {
    written += Int64(buffer.readableBytes)
    if written > limit { throw .tooLarge(limit: limit) }
    buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
    var buffer = buffer
    staging.writeBuffer(&buffer)
    if staging.readableBytes >= Self.stagingSize { try await flush() }
  }

  private func flush() async throws(UploadError) {
    guard staging.readableBytes > 0 else { return }
    if written - checkedAt >= Self.checkEvery || checkedAt == 0 {
      checkedAt = written
      if let headroom = headroom(), headroom < Int64(staging.readableBytes) { throw .insufficientStorage }
    }
    let chunk = staging
    staging.clear()
    let fd = file.fd
    let result: Int32
    do {
      result = try await NIOThreadPool.singleton.runIfActive { () -> Int32 in
        chunk.withUnsafeReadableBytes { raw -> Int32 in
          var offset = 0
          while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
              if errno == EINTR { continue }
              return errno
            }
            offset += n
          }
          return 0
        }
      }
    } catch {
      throw .system("write", EIO)
    }
    if result == ENOSPC || result == EDQUOT { throw .insufficientStorage }
    if result != 0 { throw .system("write", result) }
  }

  /// Flushes, fsyncs and renames into place; returns where the file went.
  func finish(clash: ClashPolicy) async throws(UploadError) -> StoredFile {
    try await flush()
    let fd = file.fd
    let syncResult = (try? await NIOThreadPool.singleton.runIfActive { fsync(fd) == 0 ? 0 : errno }) ?? EIO
    if syncResult == ENOSPC || syncResult == EDQUOT { throw .insufficientStorage }
    if syncResult != 0 { throw .system("fsync", syncResult) }
    let finalName = try await Self.place(
      from: folder, tempName, to: folder, name: name, clash: clash, onRenamed: { self.finished = true })
    let digest = hasher.finalize().map { byte in
      let hex = String(byte, radix: 16)
      return byte < 16 ? "0" + hex : hex
    }.joined()
    let path = (try? folderPath.appending(finalName).get()) ?? folderPath
    return StoredFile(path: path, size: written, sha256: digest)
  }

  /// Renames `tempName` in `source` to `name` in `folder` under the clash
  /// policy, then syncs the folder. Returns the name used.
  static func place(
    from source: Descriptor, _ tempName: String, to folder: Descriptor, name: String, clash: ClashPolicy,
    onRenamed: () -> Void
  ) async throws(UploadError) -> String {
    var finalName = name
    switch clash {
    case .overwrite:
      // Never replace a folder with a file.
      var info = stat()
      if fstatat(folder.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT != S_IFREG {
        throw .exists(name)
      }
      guard renameat(source.fd, tempName, folder.fd, name) == 0 else { throw .system("rename", errno) }
    case .refuse:
      guard vigie_renameat_noreplace(source.fd, tempName, folder.fd, name) == 0 else {
        if errno == EEXIST { throw .exists(name) }
        throw .system("rename", errno)
      }
    case .rename:
      var n = 0
      while true {
        if vigie_renameat_noreplace(source.fd, tempName, folder.fd, finalName) == 0 { break }
        guard errno == EEXIST else { throw .system("rename", errno) }
        n += 1
        guard n <= 9999 else { throw .exists(name) }
        finalName = FileNames.alternative(name, n)
      }
    }
    onRenamed()
    // The rename is durable once the folder is synced.
    let folderFD = openat(folder.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if folderFD >= 0 {
      _ = try? await NIOThreadPool.singleton.runIfActive { fsync(folderFD) }
      close(folderFD)
    }
    return finalName
  }

  /// Removes the temp file (after a failure or a cancelled request).
  func abandon() {
    guard !finished else { return }
    finished = true
    unlinkat(folder.fd, tempName, 0)
  }

  deinit { abandon() }
}

func vigie_renameNoReplace(_ dirfd: Int32, _ old: String, _ new: String) -> Bool {
  vigie_renameat_noreplace(dirfd, old, dirfd, new) == 0
}
