import Foundation

/// What `pkg-config` says about the C libraries installed on this machine.
enum PkgConfig {
  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  /// `pkg-config --modversion <package>`, e.g. `"1.10.3"`.
  static func modversion(_ package: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["pkg-config", "--modversion", package]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw Failure(
        description: "pkg-config --modversion \(package) exited with \(process.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The `major.minor` prefix of `version`: `"1.10.3"` -> `"1.10"`.
  static func majorMinor(_ version: String) -> String {
    version.split(separator: ".").prefix(2).joined(separator: ".")
  }

  /// The `major.minor` of what `pkg-config --modversion <package>` reports.
  static func majorMinor(of package: String) throws -> String {
    majorMinor(try modversion(package))
  }
}
