import Testing
import VigieCore

@Suite("backoff")
struct BackoffTests {
  @Test("grows by the factor and stops at the cap")
  func schedule() {
    let backoff = Backoff(base: .seconds(1), factor: 2, cap: .seconds(30), jitter: 0)
    let delays = (1...8).map { backoff.delay(attempt: $0) }
    #expect(delays == [1, 2, 4, 8, 16, 30, 30, 30].map { Duration.seconds($0) })
  }

  @Test("jitter stays within [ (1-j) * d, d ]")
  func jitter() {
    let backoff = Backoff(base: .seconds(10), factor: 2, cap: .seconds(100), jitter: 0.5)
    var generator = SplitMix64(seed: 7)
    for attempt in 1...6 {
      let ceiling = backoff.undithered(attempt: attempt)
      for _ in 0..<200 {
        let delay = backoff.delay(attempt: attempt, using: &generator)
        #expect(delay <= ceiling)
        #expect(delay >= ceiling * 0.5)
      }
    }
  }

  @Test("huge attempt counts do not overflow")
  func overflow() {
    let backoff = Backoff(base: .seconds(1), factor: 10, cap: .seconds(300), jitter: 0)
    #expect(backoff.delay(attempt: 10_000) == .seconds(300))
    #expect(backoff.delay(attempt: 0) == .seconds(1))
  }
}

@Suite("status report")
struct StatusReportTests {
  @Test(
    "durations are short and readable",
    arguments: [
      (0, "0s"), (59, "59s"), (61, "1m01s"), (3600, "1h00m"), (3 * 86_400 + 4 * 3600, "3d4h"),
    ])
  func durations(seconds: Int, text: String) {
    #expect(StatusReport.formatDuration(seconds) == text)
  }

  @Test("compact text puts problems after what runs")
  func compact() {
    let report = StatusReport(
      site: "maison", version: "1.0", uptimeSeconds: 7200,
      services: [
        .init(name: "modem", state: .running, restarts: 0, sinceSeconds: 5),
        .init(
          name: "irc", state: .backingOff(failures: 3, lastError: "connection refused"), restarts: 3, sinceSeconds: 5),
        .init(name: "drive", state: .disabled, restarts: 0, sinceSeconds: 5),
      ])
    #expect(
      report.compact
        == "maison up 2h00m, vigie 1.0; WAN unknown (watchdog disabled); IP no address; disk unknown; ok: modem; irc: restarting (3 failures: connection refused)"
    )
  }
}
