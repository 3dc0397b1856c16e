import Foundation

/// Locates executables built by this package (`vigie`, `vigie-test-helper`)
/// next to the test bundle, whatever `--scratch-path` was used.
enum Products {
  static let directory: URL = {
    let fm = FileManager.default
    var candidates: [URL] = []
    if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent()) }
    candidates.append(Bundle.main.bundleURL)
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    for start in candidates {
      var dir = start.standardizedFileURL
      for _ in 0..<4 {
        if fm.isExecutableFile(atPath: dir.appendingPathComponent("vigie").path) { return dir }
        dir.deleteLastPathComponent()
      }
    }
    fatalError("cannot find the built 'vigie' executable near \(candidates)")
  }()

  static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}
