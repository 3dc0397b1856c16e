import CArchive
import CFileDropSys
import Foundation
import Glibc
import NIOCore
import Synchronization
import VigieCore

/// The archive formats a folder is streamed as.
public enum ArchiveFormat: String, Sendable, CaseIterable {
  case zip
  case tar
  case tarGz = "tar.gz"

  public var mediaType: String {
    switch self {
    case .zip: "application/zip"
    case .tar: "application/x-tar"
    case .tarGz: "application/gzip"
    }
  }

  /// The format a file name ends with (`photos.zip` → `.zip`), and the name without it.
  public static func split(_ name: String) -> (base: String, format: ArchiveFormat)? {
    for format in [ArchiveFormat.tarGz, .tar, .zip] where name.hasSuffix("." + format.rawValue) {
      let base = String(name.dropLast(format.rawValue.count + 1))
      if !base.isEmpty { return (base, format) }
    }
    return nil
  }
}

/// Hands chunks from the archiving thread to the response, one at a time:
/// the thread waits until the response has taken the previous chunk, so
/// memory stays constant whatever the folder's size.
///
/// Sendable: all mutable state is behind the Mutex; the semaphore is
/// thread-safe by design.
final class ChunkHandoff: Sendable {
  private struct State {
    var cancelled = false
  }
  private let state = Mutex(State())
  private let space = DispatchSemaphore(value: 2)
  let stream: AsyncThrowingStream<ByteBuffer, any Error>
  private let continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation

  init() {
    (stream, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .unbounded)
  }

  var isCancelled: Bool { state.withLock { $0.cancelled } }

  /// Called on the archiving thread: blocks while two chunks are waiting.
  func put(_ buffer: ByteBuffer) -> Bool {
    space.wait()
    if isCancelled { return false }
    continuation.yield(buffer)
    return true
  }

  /// Called by the response after writing a chunk.
  func taken() { space.signal() }

  func finish(_ error: (any Error)?) { continuation.finish(throwing: error) }

  /// The response went away: the thread stops at its next write.
  func cancel() {
    state.withLock { $0.cancelled = true }
    space.signal()
    space.signal()
  }
}

/// Writes a folder as an archive with libarchive on a thread of its own,
/// libarchive's write callback feeding `ChunkHandoff`: no temp file, constant
/// memory. Symbolic links, devices, sockets, pipes and upload temp files are
/// left out; files are opened with `O_NOFOLLOW` relative to their folder.
/// ZIP: stored (no compression) by default, ZIP64 when needed; the output is
/// not seekable, so libarchive writes data descriptors.
final class ArchiveWriter {
  let handoff: ChunkHandoff
  let format: ArchiveFormat
  let folder: Descriptor
  let prefix: String
  private var archive: OpaquePointer?
  private var pending: ByteBuffer
  private(set) var failure: String?
  static let chunkSize = 128 * 1024

  init(handoff: ChunkHandoff, format: ArchiveFormat, folder: Descriptor, prefix: String) {
    self.handoff = handoff
    self.format = format
    self.folder = folder
    self.prefix = prefix
    pending = ByteBufferAllocator().buffer(capacity: Self.chunkSize)
  }

  /// Starts the thread; the stream of `handoff` carries the archive.
  static func start(format: ArchiveFormat, folder: Descriptor, prefix: String) -> ChunkHandoff {
    let handoff = ChunkHandoff()
    let thread = Thread {
      let writer = ArchiveWriter(handoff: handoff, format: format, folder: folder, prefix: prefix)
      writer.run()
    }
    thread.name = "vigie-archive"
    thread.start()
    return handoff
  }

  func run() {
    // libarchive converts names through the thread's locale: UTF-8 names
    // need a UTF-8 locale (the daemon may run under C/POSIX), set for this
    // thread only.
    let utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", nil)
    if let utf8 { uselocale(utf8) }
    defer {
      if let utf8 {
        uselocale(locale_t(bitPattern: -1))  // LC_GLOBAL_LOCALE
        freelocale(utf8)
      }
    }
    guard let archive = archive_write_new() else {
      handoff.finish(DropError.system("archive_write_new", ENOMEM))
      return
    }
    self.archive = archive
    defer { archive_write_free(archive) }
    switch format {
    case .zip:
      archive_write_set_format_zip(archive)
      archive_write_set_options(archive, "zip:compression=store,zip:hdrcharset=UTF-8")
    case .tar:
      archive_write_set_format_pax_restricted(archive)
    case .tarGz:
      archive_write_set_format_pax_restricted(archive)
      archive_write_add_filter_gzip(archive)
    }
    archive_write_set_bytes_in_last_block(archive, 1)
    let context = Unmanaged.passUnretained(self).toOpaque()
    let opened = archive_write_open2(
      archive, context, nil,
      { _, context, buffer, length in
        let writer = Unmanaged<ArchiveWriter>.fromOpaque(context!).takeUnretainedValue()
        return writer.accept(UnsafeRawBufferPointer(start: buffer, count: length)) ? length : -1
      }, nil, nil)
    guard opened == ARCHIVE_OK else {
      handoff.finish(DropError.system("archive_write_open", EIO))
      return
    }
    let ok = walk(folder.fd, relative: prefix)
    if ok { archive_write_close(archive) }
    if ok, flush() {
      handoff.finish(nil)
    } else {
      handoff.finish(DropError.system(failure ?? "archive: the client went away", EIO))
    }
  }

  /// The write callback: gathers into 128 KiB chunks.
  func accept(_ bytes: UnsafeRawBufferPointer) -> Bool {
    if handoff.isCancelled { return false }
    pending.writeBytes(bytes)
    if pending.readableBytes >= Self.chunkSize { return flush() }
    return true
  }

  func flush() -> Bool {
    guard pending.readableBytes > 0 else { return true }
    let chunk = pending
    pending = ByteBufferAllocator().buffer(capacity: Self.chunkSize)
    return handoff.put(chunk)
  }

  /// Adds the entries of directory `fd`, recursively.
  func walk(_ fd: Int32, relative: String) -> Bool {
    let listing = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard listing >= 0, let stream = fdopendir(listing) else {
      failure = "cannot read \(relative)"
      return false
    }
    defer { closedir(stream) }
    var names: [String] = []
    while let entry = readdir(stream) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
      }
      if name == "." || name == ".." || name.hasPrefix(DropRoot.tempPrefix) { continue }
      names.append(name)
    }
    for name in names.sorted() {
      if handoff.isCancelled { return false }
      var info = stat()
      guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
      let path = relative + "/" + name
      switch info.st_mode & S_IFMT {
      case S_IFDIR:
        let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else { continue }
        defer { close(child) }
        guard header(path + "/", info: info, size: 0, type: vigie_AE_IFDIR()) else { return false }
        guard walk(child, relative: path) else { return false }
      case S_IFREG:
        let file = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
        guard file >= 0 else { continue }
        defer { close(file) }
        var opened = stat()
        guard fstat(file, &opened) == 0, opened.st_mode & S_IFMT == S_IFREG else { continue }
        guard header(path, info: opened, size: Int64(opened.st_size), type: vigie_AE_IFREG()) else { return false }
        guard copy(file, size: Int64(opened.st_size)) else { return false }
      default:
        continue
      }
    }
    return true
  }

  func header(_ path: String, info: stat, size: Int64, type: mode_t) -> Bool {
    guard let entry = archive_entry_new() else { return false }
    defer { archive_entry_free(entry) }
    archive_entry_set_pathname_utf8(entry, path)
    archive_entry_set_filetype(entry, UInt32(type))
    archive_entry_set_perm(entry, type == vigie_AE_IFDIR() ? 0o755 : 0o644)
    archive_entry_set_size(entry, size)
    archive_entry_set_mtime(entry, info.st_mtim.tv_sec, 0)
    let result = archive_write_header(archive, entry)
    if result < ARCHIVE_WARN {
      failure = archive_error_string(archive).map { String(cString: $0) } ?? "archive_write_header"
      return false
    }
    return true
  }

  /// Copies exactly `size` bytes (the size in the header), padding with
  /// zeros if the file shrank meanwhile.
  func copy(_ fd: Int32, size: Int64) -> Bool {
    var remaining = size
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while remaining > 0 {
      let want = Int(min(Int64(buffer.count), remaining))
      var n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, want) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 {
        // Shrunk or unreadable: keep the archive consistent.
        buffer.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) }
        n = want
      }
      let written = buffer.withUnsafeBytes { archive_write_data(archive, $0.baseAddress!, n) }
      if written < 0 {
        failure = archive_error_string(archive).map { String(cString: $0) } ?? "archive_write_data"
        return false
      }
      remaining -= Int64(n)
    }
    return true
  }
}
