import Synchronization
import VigieCore

/// The global packets-per-second cap shared by every probe of the process
/// (`[watchdog] max_packets_per_second`; `vigie probe --rate`): each probe
/// takes a token before it sends, waiting its turn when the bucket is empty.
public final class PacketBudget: Sendable {
  private let bucket: Mutex<PacketRate>
  private let epoch = ContinuousClock.now

  /// `perSecond` packets a second, bursts of up to one second's worth.
  public init(perSecond: Int) {
    bucket = Mutex(PacketRate(rate: Double(perSecond), burst: Double(perSecond)))
  }

  /// Waits until `packets` may be sent.
  public func acquire(_ packets: Int = 1) async throws {
    let now = epoch.duration(to: .now)
    let wait = bucket.withLock { $0.reserve(packets, at: now) }
    if wait > .zero { try await Task.sleep(for: wait) }
  }
}
