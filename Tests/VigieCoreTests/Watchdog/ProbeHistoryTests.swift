import Testing
import VigieCore

@Suite("watchdog: probe history")
struct ProbeHistoryTests {
  @Test("the ring keeps the newest samples up to its capacity", arguments: [1, 2, 5, 7])
  func bounded(capacity: Int) {
    var history = ProbeHistory(capacity: capacity)
    for second in 0..<23 {
      history.append(ProbeSample(time: at(Int64(second)), rtt: .milliseconds(second), result: .ok))
      #expect(history.count == min(second + 1, capacity))
    }
    #expect(history.samples.map(\.time) == (23 - capacity..<23).map { at(Int64($0)) })
    #expect(history.latest?.time == at(22))
  }

  @Test("a capacity below one keeps one sample")
  func clamped() {
    var history = ProbeHistory(capacity: 0)
    history.append(ProbeSample(time: at(1), result: .lost))
    history.append(ProbeSample(time: at(2), result: .ok))
    #expect(history.capacity == 1 && history.samples.map(\.time) == [at(2)])
  }

  @Test("latency and loss: min, median, mean, max, standard deviation, loss without inconclusive")
  func summary() {
    var history = ProbeHistory(capacity: 10)
    let rtts = [10, 40, 20, 30]
    for (index, rtt) in rtts.enumerated() {
      history.append(ProbeSample(.success(rtt: .milliseconds(rtt)), at: at(Int64(index))))
    }
    history.append(ProbeSample(Probe.lost, at: at(4)))
    history.append(ProbeSample(Probe.ours, at: at(5)))
    history.append(ProbeSample(.success(rtt: nil), at: at(6)))  // a probe without timing
    let summary = history.summary()
    #expect(
      summary.probes == 6 && summary.answered == 5 && summary.lost == 1 && summary.inconclusive == 1
    )
    #expect(abs((summary.lossPercent ?? 0) - 100.0 / 6) < 1e-9)
    #expect(summary.minimum == .milliseconds(10))
    #expect(summary.maximum == .milliseconds(40))
    #expect(close(summary.average, 0.025))
    #expect(close(summary.median, 0.025))
    // Population deviation: the square root of the mean squared deviation.
    #expect(close(summary.standardDeviation, 125e-6.squareRoot()))

    let recent = history.summary(since: at(3))
    #expect(recent.probes == 3 && recent.answered == 2 && recent.minimum == .milliseconds(30))
    #expect(recent.standardDeviation == .zero)
    let lastTwo = history.summary(last: 2)
    #expect(lastTwo.probes == 1 && lastTwo.inconclusive == 1 && lastTwo.minimum == nil)
    #expect(history.summary(last: -1).probes == 0)
  }

  @Test("no samples: no loss figure, no latency")
  func empty() {
    let summary = ProbeHistory(capacity: 3).summary()
    #expect(summary.lossPercent == nil && summary.average == nil && summary.probes == 0)
  }

  @Test("the monitor keeps every outcome in its history")
  func monitorHistory() {
    var monitor = TargetMonitor(name: "nas", historyCapacity: 4)
    _ = feed(&monitor, "SSFIS")
    #expect(monitor.history.samples.map(\.result) == [.ok, .lost, .inconclusive, .ok])
    #expect(monitor.history.summary().lossPercent.map { abs($0 - 100.0 / 3) < 1e-9 } == true)
  }

  private func close(_ duration: Duration?, _ seconds: Double) -> Bool {
    guard let duration else { return false }
    return abs(duration.seconds - seconds) < 1e-9
  }
}
