import Synchronization
import VigieCore

/// The live state of every supervised service: what STATUS, `vigie status`,
/// the status page and the LEDs show. Updated by `SupervisedService`.
public final class ServiceBoard: Sendable {
  private struct Entry {
    var state: ServiceState
    var since: ContinuousClock.Instant
    var restarts: Int
  }

  private let entries = Mutex<[(name: String, entry: Entry)]>([])
  private let changes = Mutex<[UInt64: AsyncStream<Void>.Continuation]>([:])
  private let nextWatcher = Atomic<UInt64>(0)

  public init(names: [String] = []) {
    let now = ContinuousClock.now
    entries.withLock { list in
      for name in names { list.append((name, Entry(state: .stopped, since: now, restarts: 0))) }
    }
  }

  public func set(_ name: String, _ state: ServiceState) {
    let changed = entries.withLock { list -> Bool in
      let now = ContinuousClock.now
      if let index = list.firstIndex(where: { $0.name == name }) {
        guard list[index].entry.state != state else { return false }
        list[index].entry.state = state
        list[index].entry.since = now
      } else {
        list.append((name, Entry(state: state, since: now, restarts: 0)))
      }
      return true
    }
    if changed { notify() }
  }

  public func recordRestart(_ name: String) {
    entries.withLock { list in
      if let index = list.firstIndex(where: { $0.name == name }) { list[index].entry.restarts += 1 }
    }
  }

  public func state(of name: String) -> ServiceState? {
    entries.withLock { list in list.first(where: { $0.name == name })?.entry.state }
  }

  public func snapshot() -> [ServiceStatus] {
    let now = ContinuousClock.now
    return entries.withLock { list in
      list.map { name, entry in
        ServiceStatus(
          name: name, state: entry.state, restarts: entry.restarts,
          sinceSeconds: Int(entry.since.duration(to: now).components.seconds))
      }
    }
  }

  /// A stream that yields after every state change (for sd_notify STATUS=
  /// lines and tests).
  public func changesStream() -> AsyncStream<Void> {
    let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    let id = nextWatcher.add(1, ordering: .relaxed).newValue
    changes.withLock { $0[id] = continuation }
    continuation.onTermination = { [weak self] _ in
      _ = self?.changes.withLock { $0.removeValue(forKey: id) }
    }
    return stream
  }

  private func notify() {
    for continuation in changes.withLock({ Array($0.values) }) { continuation.yield() }
  }
}
