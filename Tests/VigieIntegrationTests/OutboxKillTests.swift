import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What `vigie-test-helper outbox-report` prints.
private struct TortureReport: Decodable {
  var delivered: [String: Int]
  var outbox: [String: String]
  var ackedWithoutDelivery: [String]
  var integrity: [String]
}

/// SplitMix64: the kill schedule is replayable from the printed seed
/// (`VIGIE_TORTURE_SEED=N swift test --filter OutboxKillTests`).
private struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

@Suite struct OutboxKillTests {
  static let kills = 45
  static let helper = Products.path("vigie-test-helper")

  /// Starts the helper with `arguments`; its stderr goes to `stderrPath`.
  private static func start(_ arguments: [String], stdout: Pipe, stderrPath: String) throws
    -> Process
  {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: helper)
    process.arguments = arguments
    process.standardOutput = stdout
    if !FileManager.default.fileExists(atPath: stderrPath) {
      _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
    }
    let stderr = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
    stderr.seekToEndOfFile()
    process.standardError = stderr
    try process.run()
    return process
  }

  /// Waits up to `timeout` for the helper to print "ready"; false on EOF or timeout.
  private static func waitForReady(_ pipe: Pipe, timeout: Duration) -> Bool {
    let fd = pipe.fileHandleForReading.fileDescriptor
    let deadline = ContinuousClock.now + timeout
    var received = ""
    while ContinuousClock.now < deadline {
      var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let left = deadline - ContinuousClock.now
      let millis = Int32(
        max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
      )
      guard poll(&descriptor, 1, millis) > 0 else { continue }
      var buffer = [UInt8](repeating: 0, count: 256)
      let count = read(fd, &buffer, buffer.count)
      if count <= 0 { return false }
      received += String(decoding: buffer[0..<count], as: UTF8.self)
      if received.contains("ready\n") { return true }
    }
    return false
  }

  /// Runs the helper to completion and returns its stdout.
  private static func runToEnd(_ arguments: [String], stderrPath: String) throws -> (Int32, Data) {
    let pipe = Pipe()
    let process = try start(arguments, stdout: pipe, stderrPath: stderrPath)
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, output)
  }

  private static func report(db: String, stderrPath: String) throws -> TortureReport {
    let (status, output) = try runToEnd(["outbox-report", "--db", db], stderrPath: stderrPath)
    try #require(status == 0, "outbox-report failed: \(errors(stderrPath))")
    return try JSONDecoder().decode(TortureReport.self, from: output)
  }

  private static func errors(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)).map { String($0.suffix(2000)) } ?? ""
  }

  /// The keys logged with `verb` ("enqueued" or "acked"); a torn last line
  /// (no newline) is ignored.
  private static func logged(_ verb: String, in log: String) -> [String] {
    var lines = log.split(separator: "\n", omittingEmptySubsequences: false)
    if log.last != "\n" { lines.removeLast() }
    return lines.compactMap { line in
      let parts = line.split(separator: " ")
      return parts.count == 2 && parts[0] == verb ? String(parts[1]) : nil
    }
  }

  @Test("the outbox loses nothing and delivers into its local sink exactly once across SIGKILLs")
  func sigkillTorture() throws {
    let seed =
      ProcessInfo.processInfo.environment["VIGIE_TORTURE_SEED"].flatMap(UInt64.init)
      ?? UInt64.random(in: 1...999_999)
    var random = SplitMix(state: seed)
    let root = FileManager.default.temporaryDirectory.appendingPathComponent(
      "vigie-kill-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    let db = root + "/state"
    let logPath = root + "/torture.log"
    let stderrPath = root + "/helper.stderr"
    let started = ContinuousClock.now

    var killedDuringStartup = 0
    for run in 0..<Self.kills {
      let pipe = Pipe()
      let process = try Self.start(
        [
          "outbox-torture", "--db", db, "--log", logPath, "--seed",
          "\(seed &* 1_000 &+ UInt64(run))",
        ],
        stdout: pipe, stderrPath: stderrPath)
      if run % 5 == 4 {
        // Every fifth kill lands anywhere from exec to the first items,
        // opening and migrating included.
        usleep(UInt32.random(in: 0...60_000, using: &random))
        killedDuringStartup += 1
      } else {
        let ready = Self.waitForReady(pipe, timeout: .seconds(20))
        try #require(ready, "run \(run): the helper never got ready: \(Self.errors(stderrPath))")
        usleep(UInt32.random(in: 3_000...100_000, using: &random))
      }
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      try #require(
        process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL,
        "run \(run): the helper ended by itself (status \(process.terminationStatus)): \(Self.errors(stderrPath))"
      )
    }

    let log = try String(contentsOfFile: logPath, encoding: .utf8)
    let enqueued = Set(Self.logged("enqueued", in: log))
    let acked = Set(Self.logged("acked", in: log))
    #expect(!enqueued.isEmpty && !acked.isEmpty, "the helper did some work between kills")

    // Straight after the kills.
    let afterKills = try Self.report(db: db, stderrPath: stderrPath)
    #expect(afterKills.integrity == ["ok"])
    #expect(
      afterKills.ackedWithoutDelivery.isEmpty,
      "acked without delivery: \(afterKills.ackedWithoutDelivery.prefix(10))")
    for key in acked {
      #expect(
        afterKills.delivered[key] == 1,
        "logged acked, delivered \(afterKills.delivered[key] ?? 0) times: \(key)")
    }
    let duplicated = afterKills.delivered.filter { $0.value != 1 }
    #expect(duplicated.isEmpty, "delivered more than once: \(duplicated.prefix(10))")
    let lost = enqueued.filter { afterKills.delivered[$0] == nil && afterKills.outbox[$0] == nil }
    #expect(lost.isEmpty, "logged enqueued, then lost: \(lost.sorted().prefix(10))")
    for (key, _) in afterKills.delivered {
      #expect(
        afterKills.outbox[key] == "acked",
        "delivered but not acked: \(key) is \(afterKills.outbox[key] ?? "missing")")
    }

    // One more run drains what is left: everything is delivered once or dead.
    let (drainStatus, _) = try Self.runToEnd(
      ["outbox-drain", "--db", db, "--log", logPath], stderrPath: stderrPath)
    #expect(drainStatus == 0, "drain failed: \(Self.errors(stderrPath))")
    let final = try Self.report(db: db, stderrPath: stderrPath)
    #expect(final.integrity == ["ok"])
    #expect(final.ackedWithoutDelivery.isEmpty)
    #expect(final.delivered.values.allSatisfy { $0 == 1 }, "a drain delivered something twice")
    let states = Dictionary(grouping: final.outbox.values, by: { $0 }).mapValues(\.count)
    #expect(Set(states.keys).isSubset(of: ["acked", "dead"]), "left after the drain: \(states)")
    for key in enqueued {
      let state = final.outbox[key]
      #expect(
        (state == "acked" && final.delivered[key] == 1)
          || (state == "dead" && final.delivered[key] == nil),
        "\(key): \(state ?? "missing"), delivered \(final.delivered[key] ?? 0) times")
    }

    let elapsed = (ContinuousClock.now - started).components
    let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    print(
      """
      outbox SIGKILL torture (seed \(seed)): \(Self.kills) kills (\(killedDuringStartup) during startup), \
      \(enqueued.count) enqueued, \(acked.count) acked before the kills, \
      \(final.delivered.count) delivered after the drain, \(states["dead"] ?? 0) dead, \
      in \(String(format: "%.1f", seconds)) s
      """)
  }
}
