import CArchive
import CFileDropSys
import Foundation
import Glibc
import NIOCore
import VigieCore

// The C structs (stat, sockaddr_in) are owned by whichever C module first
// included their headers: Foundation, Glibc, CArchive and NIOCore are all
// imported so that member visibility holds whatever that module is.

/// O_PATH (from C: Swift's Glibc does not export it).
let O_PATH = vigie_o_path()

/// An open file descriptor, closed when the last reference goes away.
///
/// Sendable: `fd` is immutable, and every operation on it (pread, fstat,
/// getdents through a dup) is safe from any thread; only `deinit` closes it,
/// when no other reference exists.
public final class Descriptor: Sendable {
  public let fd: Int32
  public init(_ fd: Int32) { self.fd = fd }
  deinit { close(fd) }

  public func stat() throws(DropError) -> Glibc.stat {
    var info = Glibc.stat()
    guard fstat(fd, &info) == 0 else { throw .system("fstat", errno) }
    return info
  }
}

/// Errors of file system operations in the drop; `status` is the HTTP status.
public enum DropError: Error, Sendable, Equatable, CustomStringConvertible {
  case notFound
  case outsideRoot
  case system(String, Int32)

  public var description: String {
    switch self {
    case .notFound: "not found"
    case .outsideRoot: "the path leaves the shared folder"
    case .system(let call, let code): "\(call): \(String(cString: strerror(code)))"
    }
  }
}

/// The folder the drop serves and writes. Every path is opened relative to a
/// descriptor of the root with `openat2(RESOLVE_BENEATH)`: the kernel itself
/// refuses `..`, absolute symbolic links and links that climb out, with no
/// window between a check and the open. On kernels without openat2 (before
/// 5.6) each path is resolved with `realpath` and checked to stay under the
/// root's real path, then opened with `O_NOFOLLOW` on the last component.
public struct DropRoot: Sendable {
  public let path: String
  public let realPath: String
  public let descriptor: Descriptor
  /// Force the realpath fallback (tests).
  public let useOpenat2: Bool
  /// O_PATH, for callers outside this module.
  public static let pathFlag = O_PATH

  public init(path: String, useOpenat2: Bool = true) throws(DropError) {
    self.path = path
    guard let resolved = realpath(path, nil) else { throw .system("realpath \(path)", errno) }
    realPath = String(cString: resolved)
    free(resolved)
    let fd = Glibc.open(realPath, O_PATH | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw .system("open \(realPath)", errno) }
    descriptor = Descriptor(fd)
    var probe = useOpenat2
    if probe {
      let test = vigie_openat_beneath(fd, ".", O_PATH | O_CLOEXEC, 0)
      if test >= 0 { close(test) } else { probe = false }
    }
    self.useOpenat2 = probe
  }

  /// Opens `path` (relative to the root) with `flags`; symbolic links are
  /// followed only while they stay inside the root.
  public func open(_ path: DropPath, flags: Int32, mode: mode_t = 0) throws(DropError) -> Descriptor {
    let relative = path.isRoot ? "." : path.relative
    let fd: Int32
    if useOpenat2 {
      fd = vigie_openat_beneath(descriptor.fd, relative, flags | O_CLOEXEC, mode)
      if fd < 0 {
        let code = errno
        if code == EXDEV || code == ELOOP { throw .outsideRoot }
        if code == ENOENT || code == ENOTDIR { throw .notFound }
        throw .system("openat2 \(path)", code)
      }
    } else {
      let full = realPath + "/" + relative
      let target: String
      if flags & O_CREAT != 0 {
        // The file may not exist yet: resolve its folder.
        let folder = try resolve(realPath + "/" + (path.parent.isRoot ? "." : path.parent.relative))
        target = folder + "/" + path.name
      } else {
        target = try resolve(full)
      }
      fd = Glibc.open(target, flags | O_CLOEXEC | O_NOFOLLOW, mode)
      if fd < 0 {
        let code = errno
        if code == ELOOP { throw .outsideRoot }
        if code == ENOENT || code == ENOTDIR { throw .notFound }
        throw .system("open \(path)", code)
      }
    }
    return Descriptor(fd)
  }

  private func resolve(_ full: String) throws(DropError) -> String {
    guard let resolved = realpath(full, nil) else {
      let code = errno
      if code == ENOENT || code == ENOTDIR { throw .notFound }
      if code == ELOOP { throw .outsideRoot }
      throw .system("realpath", code)
    }
    defer { free(resolved) }
    let text = String(cString: resolved)
    guard text == realPath || text.hasPrefix(realPath == "/" ? "/" : realPath + "/") else { throw .outsideRoot }
    return text
  }

  /// Whether `path` is a regular file inside the root (symbolic links
  /// followed while they stay inside).
  public func isRegularFile(_ path: DropPath) -> Bool {
    guard let handle = try? open(path, flags: O_PATH), let info = try? handle.stat() else { return false }
    return info.st_mode & S_IFMT == S_IFREG
  }

  /// Free bytes for unprivileged users on the root's file system.
  public func freeBytes() -> Int64? {
    var info = statvfs()
    guard fstatvfs(descriptor.fd, &info) == 0 else { return nil }
    return Int64(info.f_bavail) * Int64(info.f_frsize)
  }
}

/// One entry of a directory listing.
public struct DropEntry: Sendable, Equatable {
  public var name: String
  public var isDirectory: Bool
  public var size: Int64
  public var modified: Int64
}

extension DropRoot {
  /// The prefix of upload temp files; they never show in listings.
  public static let tempPrefix = ".vigie-upload-"

  /// The entries of directory `path`, sorted folders first then by name.
  /// Symbolic links are listed only if they resolve inside the root; devices,
  /// sockets, pipes and upload temp files are left out.
  public func list(_ path: DropPath, directory: Descriptor) throws(DropError) -> [DropEntry] {
    let fd = openat(directory.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw .system("opendir \(path)", errno) }
    guard let stream = fdopendir(fd) else {
      close(fd)
      throw .system("fdopendir \(path)", errno)
    }
    defer { closedir(stream) }
    var entries: [DropEntry] = []
    while let entry = readdir(stream) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
      }
      if name == "." || name == ".." || name.hasPrefix(Self.tempPrefix) { continue }
      guard case .success(let child) = path.appending(name) else { continue }
      var info = Glibc.stat()
      guard fstatat(directory.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
      if info.st_mode & S_IFMT == S_IFLNK {
        guard let target = try? open(child, flags: O_PATH), fstat(target.fd, &info) == 0 else { continue }
      }
      let type = info.st_mode & S_IFMT
      guard type == S_IFREG || type == S_IFDIR else { continue }
      entries.append(
        DropEntry(
          name: name, isDirectory: type == S_IFDIR, size: Int64(info.st_size), modified: Int64(info.st_mtim.tv_sec)))
    }
    return entries.sorted { a, b in
      a.isDirectory != b.isDirectory ? a.isDirectory : a.name.lowercased() < b.name.lowercased()
    }
  }
}
