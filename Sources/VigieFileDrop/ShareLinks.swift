import CArchive
import CFileDropSys
import Foundation
import Glibc
import NIOCore
import VigieCore

/// Share URLs are `/~s/<token>/<name>`; a real top-level folder `~s` is hidden by them.
public enum FileDropShareURL {
  public static let prefix = "~s"
}

/// Where the file drop finds share links (the state store in the daemon).
public protocol ShareLinkStore: Sendable {
  /// The link for `token`, nil when there is none.
  func link(token: String) async throws -> ShareLink?
  /// Counts one completed download of `token`.
  func recordDownload(token: String) async throws
}

/// The LAN address of this box, found like woof does: `connect()` a UDP
/// socket to TEST-NET addresses (no packet is sent) and read the source
/// address the kernel picks; the address seen twice wins, else the first.
/// Falls back to the first non-loopback IPv4 of an up interface; nil when
/// there is no LAN address at all.
public enum LANAddress {
  public static let probes = ["192.0.2.0", "198.51.100.0", "203.0.113.0"]

  public static func discover() -> String? {
    var seen: [String] = []
    for probe in probes {
      if let address = sourceAddress(towards: probe), !address.hasPrefix("127."), address != "0.0.0.0" {
        seen.append(address)
      }
    }
    if let twice = seen.first(where: { address in seen.filter { $0 == address }.count >= 2 }) { return twice }
    if let first = seen.first { return first }
    return interfaceAddress()
  }

  static func sourceAddress(towards destination: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 64)
    guard vigie_udp_source_address(destination, &buffer, UInt(buffer.count)) == 0 else { return nil }
    return String(cString: buffer)
  }

  static func interfaceAddress() -> String? {
    var buffer = [CChar](repeating: 0, count: 64)
    guard vigie_first_lan_address(&buffer, UInt(buffer.count)) == 0 else { return nil }
    return String(cString: buffer)
  }

  /// The base URL people on the LAN use: the listen address when it names
  /// one host, the discovered LAN address when it listens on all of them
  /// (127.0.0.1 only when there is no LAN address at all).
  public static func baseURL(listen: ListenAddress) -> String {
    let host: String
    switch listen.host {
    case "0.0.0.0", "::", "":
      host = discover() ?? "127.0.0.1"
    default:
      host = listen.host
    }
    let shown = host.contains(":") ? "[\(host)]" : host
    return "http://\(shown):\(listen.port)"
  }
}

/// QR codes drawn in a terminal with half blocks: two modules per character
/// cell, a quiet zone of 2 modules, dark modules as spaces on a light
/// background so that phones read it on dark terminals too.
public enum TerminalQR {
  public static func render(_ text: String) -> String? {
    guard let matrix = QREncodeLibrary.encode(text) else { return nil }
    let quiet = 2
    let size = matrix.count + 2 * quiet
    func dark(_ row: Int, _ column: Int) -> Bool {
      let r = row - quiet
      let c = column - quiet
      guard r >= 0, c >= 0, r < matrix.count, c < matrix.count else { return false }
      return matrix[r][c]
    }
    var lines: [String] = []
    for row in stride(from: 0, to: size, by: 2) {
      var line = ""
      for column in 0..<size {
        let top = !dark(row, column)
        let bottom = row + 1 < size ? !dark(row + 1, column) : false
        switch (top, bottom) {
        case (true, true): line += "█"
        case (true, false): line += "▀"
        case (false, true): line += "▄"
        case (false, false): line += " "
        }
      }
      lines.append(line)
    }
    return lines.joined(separator: "\n")
  }
}
