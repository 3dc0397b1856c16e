import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import VigieCore

/// Where the watchdog's alerts go (the durable alert queue, implemented by
/// VigieRuntime).
public protocol WatchdogAlertSink: Sendable {
  func raiseAlert(key: String, severity: String, text: String) async throws
}

/// The live state of every target, for STATUS and the status page.
public final class WatchdogBoard: Sendable {
  public struct Row: Sendable, Hashable {
    public var name: String
    public var state: TargetState
    public var lastRTT: Duration?
    public var lastOutcome: String
  }

  /// One probe of a target's history, for graphs: wall-clock seconds since
  /// the Unix epoch, and the round trip in milliseconds (nil: lost).
  public struct HistoryPoint: Sendable, Hashable {
    public var time: Int
    public var milliseconds: Double?
  }

  private let rows = Mutex<[Row]>([])
  private let histories = Mutex<[String: [HistoryPoint]]>([:])
  private let wanState = Mutex<WANState>(.unknown("no watchdog targets"))

  public init() {}

  public var snapshot: [Row] { rows.withLock { $0 } }

  /// Whether the internet answers, for STATUS's WAN line.
  public var wan: WANState { wanState.withLock { $0 } }

  func update(_ new: [Row]) { rows.withLock { $0 = new } }

  /// The probes kept for `target` (the last `1440` by default: a day at one
  /// probe a minute), oldest first. Probes that told nothing are left out;
  /// answers without a round trip (some HTTP checks) too.
  public func history(of target: String) -> [HistoryPoint] { histories.withLock { $0[target] ?? [] } }

  func update(histories new: [String: [HistoryPoint]]) { histories.withLock { $0 = new } }

  func update(wan: WANState) { wanState.withLock { $0 = wan } }

  /// `targets: loopback up 0.1 ms, ssh down` for STATUS.
  public var summary: String? {
    let rows = snapshot
    guard !rows.isEmpty else { return nil }
    return "targets: "
      + rows.map { row in
        var text = "\(row.name) \(row.state)"
        if row.state == .up, let rtt = row.lastRTT {
          text += String(
            format: " %.1f ms", Double(rtt.components.attoseconds) / 1e15 + Double(rtt.components.seconds) * 1000)
        }
        return text
      }.joined(separator: ", ")
  }
}

/// The network watchdog: probes each `[[watchdog.target]]` at its interval,
/// feeds the results to the pure `OutageEvaluator` (thresholds, dependencies,
/// flapping) and turns its events into log lines and alerts.
///
/// Every probe kind of `ProbeSpec` runs: `icmp` (one echo request),
/// `tcp:PORT` (half-open SYN, or connect() without CAP_NET_RAW),
/// `tcp-connect:PORT`, the service probes (`dns`, `dns:NAME`, `ntp`,
/// `udp-openvpn:PORT`, `tcp-openvpn:PORT`) and `http:URL`.
public final class WatchdogService: Service, Sendable {
  let config: WatchdogConfig
  let board: WatchdogBoard
  let alerts: any WatchdogAlertSink
  let logger: Logger
  let siteName: String

  public init(
    config: WatchdogConfig, siteName: String, board: WatchdogBoard, alerts: any WatchdogAlertSink, logger: Logger
  ) {
    self.config = config
    self.siteName = siteName
    self.board = board
    self.alerts = alerts
    var logger = logger
    logger[metadataKey: "service"] = "watchdog"
    self.logger = logger
  }

  public func run() async throws {
    var implicit = ImplicitTargets(config: config)
    implicit.refresh(logger: logger)
    let targets = implicit.targets + config.target
    var effective = config
    effective.target = targets
    let uplink: TargetGraph.Uplink? =
      implicit.watchesUplink
      ? TargetGraph.Uplink(dependsOn: implicit.hasGateway ? ["gateway"] : [], interval: config.interval) : nil
    let graph = TargetGraph(watchdog: effective, uplink: uplink)
    for issue in graph.issues { logger.warning("target ignored", metadata: ["issue": "\(issue)"]) }
    var evaluator = OutageEvaluator(graph: graph, policy: MonitorPolicy(config))
    // Every probe sends one packet (a TCP or HTTP exchange a few more: the
    // cap is on probes started, counted as packets).
    let budget = PacketBudget(perSecond: config.maxPacketsPerSecond)
    let epoch = ContinuousClock.now
    let wallEpoch = Date()
    var next: [String: ContinuousClock.Instant] = [:]
    for target in targets { next[target.name] = epoch }
    if uplink != nil { next[TargetGraph.uplinkName] = epoch }
    var lastRTT: [String: Duration] = [:]
    var lastOutcome: [String: String] = [:]
    publish(evaluator, targets: targets, lastRTT: lastRTT, lastOutcome: lastOutcome, wallEpoch: wallEpoch)

    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      let now = ContinuousClock.now
      implicit.refresh(logger: logger)
      let due = implicit.apply(to: targets).filter { (next[$0.name] ?? now) <= now }
      let uplinkDue = uplink != nil && (next[TargetGraph.uplinkName] ?? now) <= now
      if !due.isEmpty || uplinkDue {
        let anchors = uplinkDue ? config.internetAnchors : []
        let timeout = config.timeout
        async let anchorOutcomes = withTaskGroup(of: ProbeOutcome.self) { group in
          for anchor in anchors {
            var probe = WatchTarget()
            probe.name = TargetGraph.uplinkName
            probe.host = anchor
            group.addTask {
              do { try await budget.acquire() } catch {
                return .inconclusive(InconclusiveReason(.rateLimited, "stopping"))
              }
              return await Self.probe(probe, timeout: timeout)
            }
          }
          var collected: [ProbeOutcome] = []
          for await outcome in group { collected.append(outcome) }
          return collected
        }
        let results = await withTaskGroup(of: (String, ProbeOutcome).self) { group in
          for target in due {
            let timeout = target.timeout > .zero ? target.timeout : config.timeout
            group.addTask {
              // An implicit target with nothing to probe (no default route).
              if target.host.isEmpty, target.name == "gateway" || target.name == "resolver" {
                return (target.name, .inconclusive(InconclusiveReason(.noRoute, "no \(target.name) found")))
              }
              do {
                try await budget.acquire()
              } catch {
                return (target.name, .inconclusive(InconclusiveReason(.rateLimited, "stopping")))
              }
              return (target.name, await Self.probe(target, timeout: timeout))
            }
          }
          var collected: [(String, ProbeOutcome)] = []
          for await result in group { collected.append(result) }
          return collected
        }
        let uplinkRound = await anchorOutcomes
        let time = WatchTime(sinceEpoch: epoch.duration(to: .now))
        for (name, outcome) in results {
          lastOutcome[name] = Self.describe(outcome)
          if case .success(let rtt?) = outcome { lastRTT[name] = rtt }
        }
        if let round = ProbeOutcome.uplinkRound(uplinkRound) {
          lastOutcome[TargetGraph.uplinkName] = Self.describe(round)
          if case .success(let rtt?) = round { lastRTT[TargetGraph.uplinkName] = rtt }
        }
        let events = evaluator.evaluate(
          results.map { ProbeResult(target: $0.0, outcome: $0.1, time: time) }, uplink: uplinkRound, at: time)
        for target in due {
          let interval = target.interval > .zero ? target.interval : config.interval
          next[target.name] = now.advanced(by: interval)
        }
        if uplinkDue { next[TargetGraph.uplinkName] = now.advanced(by: config.interval) }
        // Parents worth checking now (a child started failing): probe them early.
        for parent in evaluator.parentsToCheck { next[parent] = now }
        publish(evaluator, targets: targets, lastRTT: lastRTT, lastOutcome: lastOutcome, wallEpoch: wallEpoch)
        for event in events { await announce(event, wallEpoch: wallEpoch) }
      }
      let earliest = next.values.min() ?? now.advanced(by: config.interval)
      let wait = max(.milliseconds(50), min(.seconds(1), ContinuousClock.now.duration(to: earliest)))
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
    }
  }

  func publish(
    _ evaluator: OutageEvaluator, targets: [WatchTarget], lastRTT: [String: Duration], lastOutcome: [String: String],
    wallEpoch: Date
  ) {
    board.update(wan: Self.wan(evaluator, wallEpoch: wallEpoch))
    let epochSeconds = Int(wallEpoch.timeIntervalSince1970)
    var histories: [String: [WatchdogBoard.HistoryPoint]] = [:]
    for target in targets {
      guard let monitor = evaluator.monitor(of: target.name) else { continue }
      histories[target.name] = monitor.history.samples.compactMap { sample in
        let time = epochSeconds + Int(sample.time.sinceEpoch.components.seconds)
        switch sample.result {
        case .lost: return WatchdogBoard.HistoryPoint(time: time, milliseconds: nil)
        case .inconclusive: return nil
        case .ok:
          guard let rtt = sample.rtt else { return nil }
          let ms = Double(rtt.components.seconds) * 1000 + Double(rtt.components.attoseconds) / 1e15
          return WatchdogBoard.HistoryPoint(time: time, milliseconds: ms)
        }
      }
    }
    board.update(histories: histories)
    var rows = targets.map { target in
      WatchdogBoard.Row(
        name: target.name, state: evaluator.state(of: target.name) ?? .unknown, lastRTT: lastRTT[target.name],
        lastOutcome: lastOutcome[target.name] ?? "not probed yet")
    }
    if let uplink = evaluator.uplinkState {
      rows.insert(
        WatchdogBoard.Row(
          name: TargetGraph.uplinkName, state: uplink, lastRTT: lastRTT[TargetGraph.uplinkName],
          lastOutcome: lastOutcome[TargetGraph.uplinkName] ?? "not probed yet"), at: 0)
    }
    board.update(rows)
  }

  /// The WAN from the uplink's verdict, or from the internet targets'.
  static func wan(_ evaluator: OutageEvaluator, wallEpoch: Date) -> WANState {
    func verdict(_ state: TargetState?, _ monitor: TargetMonitor?) -> WANState.Verdict {
      let since = monitor?.outageSince.map {
        Int64(wallEpoch.timeIntervalSince1970) + $0.sinceEpoch.components.seconds
      }
      return WANState.Verdict(state: state ?? .unknown, outageSince: since)
    }
    let graph = evaluator.graph
    if graph.nodes.isEmpty && graph.uplink == nil { return .unknown("no watchdog targets") }
    let uplink = graph.uplink == nil ? nil : verdict(evaluator.uplinkState, evaluator.uplinkMonitor)
    let internet = graph.nodes.map(\.name).filter { graph.isInternet($0) }.map {
      verdict(evaluator.state(of: $0), evaluator.monitor(of: $0))
    }
    return WANState.derive(uplink: uplink, internet: internet)
  }

  /// A probe that threw: a name that does not resolve is the target's
  /// failure; anything else happened on our side and proves nothing.
  static func outcome(of error: any Error) -> ProbeOutcome {
    guard let error = error as? PingError else { return .inconclusive(InconclusiveReason(.other, "\(error)")) }
    return error.code == .resolutionFailed
      ? .failure(ProbeFailure(.other, error.message))
      : .inconclusive(InconclusiveReason(.sendFailed, error.message))
  }

  func announce(_ event: WatchEvent, wallEpoch: Date) async {
    let text = "\(siteName): " + Self.text(event, wallEpoch: wallEpoch)
    if event.isAlert {
      logger.warning("\(Self.text(event, wallEpoch: wallEpoch))")
      let severity: String
      switch event.kind {
      case .down, .uplinkDown: severity = "critical"
      default: severity = "info"
      }
      do {
        try await alerts.raiseAlert(
          key: "watchdog.\(event.target).\(Self.kindName(event.kind))", severity: severity, text: text)
      } catch {
        logger.error("cannot queue the alert", metadata: ["error": "\(error)"])
      }
    } else {
      logger.notice("\(Self.text(event, wallEpoch: wallEpoch))")
    }
  }

  /// A person's wording of an event: wall-clock times, short durations.
  static func text(_ event: WatchEvent, wallEpoch: Date) -> String {
    func clock(_ time: WatchTime) -> String {
      let date = wallEpoch.addingTimeInterval(Double(time.sinceEpoch.components.seconds))
      let formatter = DateFormatter()
      formatter.dateFormat = "HH:mm:ss"
      return formatter.string(from: date)
    }
    func length(_ duration: Duration) -> String { StatusReport.formatDuration(Int(duration.components.seconds)) }
    switch event.kind {
    case .down(let since, let reason):
      return "\(event.target) DOWN since \(clock(since))" + (reason.map { " (\($0))" } ?? "")
    case .up(let after):
      return "\(event.target) UP again after \(length(after))"
    case .unreachable(let parent):
      return "\(event.target) UNREACHABLE (through \(parent), which is down)"
    case .flappingStarted(let percent):
      return "\(event.target) is FLAPPING (\(Int(percent))% state changes)"
    case .flappingStopped(let state):
      return "\(event.target) stopped flapping; now \(state)"
    case .uplinkDown(let since, let reason):
      return "our internet uplink is DOWN since \(clock(since))" + (reason.map { " (\($0))" } ?? "")
    case .uplinkUp(let after):
      return "our internet uplink is UP again after \(length(after))"
    }
  }

  static func kindName(_ kind: WatchEvent.Kind) -> String {
    switch kind {
    case .down: "down"
    case .up: "up"
    case .unreachable: "unreachable"
    case .flappingStarted: "flapping"
    case .flappingStopped: "stable"
    case .uplinkDown: "uplink-down"
    case .uplinkUp: "uplink-up"
    }
  }

  /// `answered in 1.2 ms`, `failed: refused: port 22 closed (RST)`,
  /// `inconclusive: no answer within 1s: server may use tls-auth`.
  public static func describe(_ outcome: ProbeOutcome) -> String {
    switch outcome {
    case .success(let rtt): rtt.map { "answered in \(TCPConnectVerdict.milliseconds($0)) ms" } ?? "answered"
    case .failure(let failure): "failed: \(failure)"
    case .inconclusive(let reason): "inconclusive: " + (reason.detail.isEmpty ? "\(reason.code)" : reason.detail)
    }
  }

  // MARK: Probes

  /// Runs one probe of `target`, as the service does (the `PROBE` command
  /// and `vigie probe` use it); never throws: every problem is an outcome.
  public static func probe(_ target: WatchTarget, timeout: Duration) async -> ProbeOutcome {
    guard case .success(let spec) = ProbeSpec.parse(target.probe) else {
      return .inconclusive(InconclusiveReason(.other, "invalid probe \(target.probe)"))
    }
    switch spec {
    case .icmp:
      do {
        let result = try await Pinger.ping(host: target.host, count: 1, interval: .zero, timeout: timeout)
        if let rtt = result.rtts.first { return .success(rtt: rtt) }
        if let error = result.errors.first { return .failure(ProbeFailure(.unreachable, error)) }
        return .failure(ProbeFailure(.timeout, "no echo reply within \(timeout)"))
      } catch {
        return Self.outcome(of: error)
      }
    case .tcpConnect(let port):
      do {
        switch try await TCPConnectProbe.probe(host: target.host, port: port, timeout: timeout) {
        case .open(let rtt): return .success(rtt: rtt)
        case .closed: return .failure(ProbeFailure(.refused, "port \(port) closed"))
        case .filtered: return .failure(ProbeFailure(.timeout, "no answer on port \(port) within \(timeout)"))
        case .unreachable(let why):
          return why.contains("Network is unreachable")
            ? .inconclusive(InconclusiveReason(.noRoute, why)) : .failure(ProbeFailure(.unreachable, why))
        }
      } catch {
        return Self.outcome(of: error)
      }
    case .dns, .dnsQuery, .ntp, .udpOpenVPN, .tcpOpenVPN:
      do {
        let verdict: ServiceVerdict
        switch spec {
        case .dns: verdict = try await ServiceProbe.dns(host: target.host, name: nil, timeout: timeout)
        case .dnsQuery(let name): verdict = try await ServiceProbe.dns(host: target.host, name: name, timeout: timeout)
        case .ntp: verdict = try await ServiceProbe.ntp(host: target.host, timeout: timeout)
        case .udpOpenVPN(let port):
          verdict = try await ServiceProbe.openVPN(host: target.host, port: port, tcp: false, timeout: timeout)
        case .tcpOpenVPN(let port):
          verdict = try await ServiceProbe.openVPN(host: target.host, port: port, tcp: true, timeout: timeout)
        default: return .inconclusive(InconclusiveReason(.other, "unreachable probe kind"))
        }
        return outcome(verdict, silenceProvesNothing: spec.isOpenVPN)
      } catch {
        return Self.outcome(of: error)
      }
    case .http(let url):
      do {
        switch try await HTTPProbe.probe(
          url: url, check: target.httpCheck, verifyTLS: target.tlsVerify, timeout: timeout)
        {
        case .ok(let rtt, _, _): return .success(rtt: rtt)
        case .bad(let why): return .failure(ProbeFailure(.badAnswer, why))
        case .refused(let why): return .failure(ProbeFailure(.refused, why))
        case .timeout(let why): return .failure(ProbeFailure(.timeout, why))
        case .unreachable(let why): return .failure(ProbeFailure(.unreachable, why))
        case .noRoute(let why): return .inconclusive(InconclusiveReason(.noRoute, why))
        case .failed(let why): return .failure(ProbeFailure(.other, why))
        }
      } catch {
        return .inconclusive(InconclusiveReason(.other, "\(error)"))
      }
    case .tcpSYN(let port):
      do {
        let result = try await TCPSYNProbe.probe(host: target.host, port: port, timeout: timeout)
        let mode = result.mode == .raw ? "" : " (connect() mode: \(result.fallbackReason ?? "raw SYN not permitted"))"
        switch result.verdict {
        case .open(let rtt): return .success(rtt: rtt)
        case .closed: return .failure(ProbeFailure(.refused, "port \(port) closed (RST)" + mode))
        case .filtered:
          return .failure(ProbeFailure(.timeout, "no answer to the SYN on port \(port) within \(timeout)" + mode))
        case .unreachable(let why):
          return why.contains("Network is unreachable")
            ? .inconclusive(InconclusiveReason(.noRoute, why)) : .failure(ProbeFailure(.unreachable, why + mode))
        }
      } catch {
        return Self.outcome(of: error)
      }
    }
  }

  /// A service verdict as the state machine sees it. Silence (UDP
  /// open|filtered, or a TCP server that says nothing) is a failure for DNS
  /// and NTP, which answer every valid request, and inconclusive for
  /// OpenVPN, whose servers with tls-auth drop our unsigned reset.
  static func outcome(_ verdict: ServiceVerdict, silenceProvesNothing: Bool) -> ProbeOutcome {
    switch verdict {
    case .open(let rtt, _): return .success(rtt: rtt)
    case .badAnswer(_, let detail): return .failure(ProbeFailure(.badAnswer, detail))
    case .closed(let why): return .failure(ProbeFailure(.refused, why))
    case .filtered(let why): return .failure(ProbeFailure(.timeout, why))
    case .silent(let why):
      return silenceProvesNothing
        ? .inconclusive(InconclusiveReason(.silent, why)) : .failure(ProbeFailure(.timeout, why + " (open|filtered)"))
    case .unreachable(let why):
      return why.contains("Network is unreachable")
        ? .inconclusive(InconclusiveReason(.noRoute, why)) : .failure(ProbeFailure(.unreachable, why))
    }
  }
}
