import Foundation
import Synchronization

/// One dedicated thread that runs every libgammu call of a session, in
/// order. libgammu is not thread-safe and blocks in read(2) and sleeps, so it
/// must never run on Swift's cooperative pool.
final class GammuWorker: Sendable {
  typealias Job = @Sendable () -> Void

  private struct Queue {
    var jobs: [Job] = []
    var stopped = false
  }

  private final class Shared: Sendable {
    let queue = Mutex(Queue())
    let wakeUp = DispatchSemaphore(value: 0)
  }

  private let shared = Shared()
  private var wakeUp: DispatchSemaphore { shared.wakeUp }

  init(name: String) {
    let shared = self.shared
    let thread = Thread {
      while true {
        shared.wakeUp.wait()
        let next = shared.queue.withLock { state -> (Job?, Bool) in
          state.jobs.isEmpty ? (nil, state.stopped) : (state.jobs.removeFirst(), false)
        }
        if let job = next.0 { job() } else if next.1 { return }
      }
    }
    thread.name = name
    thread.stackSize = 1 << 20
    thread.start()
  }

  /// Queues `job`; returns false once the worker is stopped.
  @discardableResult
  func submit(_ job: @escaping Job) -> Bool {
    let accepted = shared.queue.withLock { state -> Bool in
      guard !state.stopped else { return false }
      state.jobs.append(job)
      return true
    }
    if accepted { wakeUp.signal() }
    return accepted
  }

  /// Lets queued jobs finish, then ends the thread.
  func stop() {
    shared.queue.withLock { $0.stopped = true }
    wakeUp.signal()
  }
}
