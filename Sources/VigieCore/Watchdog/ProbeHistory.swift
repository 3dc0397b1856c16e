/// One probe result kept for graphs.
public struct ProbeSample: Sendable, Hashable {
  /// How the probe went.
  public enum Result: Sendable, Hashable {
    /// Answered.
    case ok
    /// Not answered, or answered wrong: a loss.
    case lost
    /// Told nothing (our side failed): neither a loss nor an answer.
    case inconclusive
  }

  /// When the probe was made.
  public var time: WatchTime
  /// The round-trip time, for answered probes that measure one.
  public var rtt: Duration?
  /// How the probe went.
  public var result: Result

  /// A sample of `result` at `time`.
  public init(time: WatchTime, rtt: Duration? = nil, result: Result) {
    self.time = time
    self.rtt = result == .ok ? rtt : nil
    self.result = result
  }

  /// A sample of `outcome` at `time`.
  public init(_ outcome: ProbeOutcome, at time: WatchTime) {
    switch outcome {
    case .success(let rtt): self.init(time: time, rtt: rtt, result: .ok)
    case .failure: self.init(time: time, result: .lost)
    case .inconclusive: self.init(time: time, result: .inconclusive)
    }
  }

  /// Whether the target answered.
  public var ok: Bool { result == .ok }
}

/// Latency and loss over some samples, SmokePing-style.
public struct LatencySummary: Sendable, Hashable {
  /// Conclusive probes (answered or lost).
  public var probes: Int
  /// Answered probes.
  public var answered: Int
  /// Probes that told nothing; not part of the loss.
  public var inconclusive: Int
  /// Smallest round-trip time; `nil` without any measured one.
  public var minimum: Duration?
  /// Mean round-trip time.
  public var average: Duration?
  /// Median round-trip time (mean of the two middle ones for an even count).
  public var median: Duration?
  /// Largest round-trip time.
  public var maximum: Duration?
  /// Population standard deviation of the round-trip times.
  public var standardDeviation: Duration?

  /// Lost probes.
  public var lost: Int { probes - answered }

  /// Lost probes in percent of the conclusive ones; `nil` without any.
  public var lossPercent: Double? {
    probes == 0 ? nil : 100 * Double(lost) / Double(probes)
  }

  /// The summary of `samples`.
  public init(_ samples: some Sequence<ProbeSample>) {
    var probes = 0
    var answered = 0
    var inconclusive = 0
    var rtts: [Duration] = []
    for sample in samples {
      switch sample.result {
      case .ok:
        probes += 1
        answered += 1
        if let rtt = sample.rtt { rtts.append(rtt) }
      case .lost: probes += 1
      case .inconclusive: inconclusive += 1
      }
    }
    self.probes = probes
    self.answered = answered
    self.inconclusive = inconclusive
    guard !rtts.isEmpty else { return }
    rtts.sort()
    let middle = rtts.count / 2
    minimum = rtts[0]
    maximum = rtts[rtts.count - 1]
    median =
      rtts.count % 2 == 1 ? rtts[middle] : rtts[middle - 1] + (rtts[middle] - rtts[middle - 1]) / 2
    let seconds = rtts.map(\.seconds)
    let count = Double(seconds.count)
    let mean = seconds.reduce(0, +) / count
    let variance = seconds.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / count
    average = .seconds(mean)
    standardDeviation = .seconds(variance.squareRoot())
  }
}

/// The latest probe results of one target, for graphs: a ring that keeps at
/// most ``capacity`` samples and forgets the oldest first.
public struct ProbeHistory: Sendable, Hashable {
  /// The most samples kept (at least 1).
  public let capacity: Int
  private var storage: [ProbeSample] = []
  /// Index of the oldest sample once the ring is full.
  private var head = 0

  /// An empty history keeping at most `capacity` samples (clamped to at
  /// least 1).
  public init(capacity: Int) {
    self.capacity = max(1, capacity)
    storage.reserveCapacity(min(self.capacity, 4096))
  }

  /// Samples kept.
  public var count: Int { storage.count }

  /// Whether no sample is kept.
  public var isEmpty: Bool { storage.isEmpty }

  /// The samples, oldest first.
  public var samples: [ProbeSample] {
    Array(storage[head...] + storage[..<head])
  }

  /// The newest sample.
  public var latest: ProbeSample? {
    storage.isEmpty ? nil : storage[(head + storage.count - 1) % storage.count]
  }

  /// Adds `sample`, forgetting the oldest one when full.
  public mutating func append(_ sample: ProbeSample) {
    if storage.count < capacity {
      storage.append(sample)
    } else {
      storage[head] = sample
      head = (head + 1) % capacity
    }
  }

  /// Latency and loss of the samples made at or after `start` (all samples
  /// when `nil`).
  public func summary(since start: WatchTime? = nil) -> LatencySummary {
    guard let start else { return LatencySummary(storage) }
    return LatencySummary(storage.lazy.filter { $0.time >= start })
  }

  /// Latency and loss of the latest `count` samples.
  public func summary(last count: Int) -> LatencySummary {
    LatencySummary(samples.suffix(max(0, count)))
  }
}
