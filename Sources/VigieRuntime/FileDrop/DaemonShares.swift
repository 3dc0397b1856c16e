import Foundation
import Glibc
import Logging
import Synchronization
import VigieCore
import VigieFileDrop

/// Share links of the file drop: `vigie share` (control socket) and the
/// SHARE command.
extension Daemon {
  struct CreatedShare {
    var link: ShareLink
    var url: String
  }

  /// Checks that `path` names a regular file inside the drop, stores a link.
  func createShare(path text: String, count: Int?, expires: Duration?, by principal: String) async throws
    -> CreatedShare
  {
    let config = currentConfig.filedrop
    guard config.enabled else { throw CommandError(.failed, "The file drop is disabled ([filedrop] enabled).") }
    guard let store = resources.withLock({ $0?.shareStore }) else {
      throw CommandError(.failed, "The state store is not open.")
    }
    let path: DropPath
    switch DropPath.parse(relative: text) {
    case .success(let parsed) where !parsed.isRoot: path = parsed
    case .success: throw CommandError(.usage, "Name a file of the drop, e.g. docs/report.pdf.")
    case .failure(let error): throw CommandError(.usage, "Bad path '\(CommandGrammar.printable(text))': \(error).")
    }
    guard let root = try? DropRoot(path: config.root) else {
      throw CommandError(.failed, "The drop folder \(config.root) cannot be opened.")
    }
    guard root.isRegularFile(path) else {
      throw CommandError(.failed, "No file \(path) in the drop (folders cannot be shared yet).")
    }
    let link = try await store.create(path: path, maxDownloads: count, expiresIn: expires)
    guard case .success(let listen) = ListenAddress.parse(config.listen) else {
      throw CommandError(.failed, "[filedrop] listen is invalid")
    }
    let url =
      LANAddress.baseURL(listen: listen) + "/\(FileDropShareURL.prefix)/\(link.token)/"
      + DropPath.percentEncode(path.name)
    logger.notice(
      "share link created",
      metadata: [
        "by": "\(principal)", "path": "\(path)", "token": "\(link.token.prefix(6))…",
        "count": "\(count.map(String.init) ?? "unlimited")",
      ])
    return CreatedShare(link: link, url: url)
  }

  func shareOperation(_ request: ControlProtocol.Request, principal: Principal) async -> ControlProtocol.Response {
    guard let store = resources.withLock({ $0?.shareStore }) else {
      return ControlProtocol.Response(ok: false, text: "the state store is not open")
    }
    do {
      switch request.op {
      case .share:
        var expires: Duration?
        if let text = request.expires {
          guard let duration = Duration(configText: text), duration > .zero else {
            return ControlProtocol.Response(ok: false, text: "'\(text)' is not a duration; write e.g. 30m, 1h, 2d")
          }
          expires = duration
        }
        if let count = request.count, count < 1 {
          return ControlProtocol.Response(ok: false, text: "the count must be at least 1")
        }
        let created = try await createShare(
          path: request.text ?? "", count: request.count, expires: expires, by: "\(principal)")
        return ControlProtocol.Response(ok: true, text: created.url, data: created.link.token)
      case .shareList:
        let now = Int64(time(nil))
        let links = try await store.all()
        if links.isEmpty { return ControlProtocol.Response(ok: true, text: "No share links.") }
        return ControlProtocol.Response(ok: true, text: links.map { $0.summary(now: now) }.joined(separator: "\n"))
      case .shareRevoke:
        let token = request.text ?? ""
        guard try await store.revoke(token: token) else {
          return ControlProtocol.Response(ok: false, text: "no share link \(CommandGrammar.printable(token))")
        }
        logger.notice("share link revoked", metadata: ["by": "\(principal)", "token": "\(token.prefix(6))…"])
        return ControlProtocol.Response(ok: true, text: "Revoked.")
      default:
        return ControlProtocol.Response(ok: false, text: "not a share operation")
      }
    } catch let error as CommandError {
      return ControlProtocol.Response(ok: false, text: error.message)
    } catch {
      return ControlProtocol.Response(ok: false, text: "cannot manage share links: \(error)")
    }
  }
}
