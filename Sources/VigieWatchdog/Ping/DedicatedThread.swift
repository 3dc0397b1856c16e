import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Runs blocking work on a thread of its own, never on Swift's cooperative
/// pool, and hands the result back to the awaiting task.
enum DedicatedThread {
  /// What happens when the awaiting task is cancelled while `body` runs.
  enum CancellationPolicy {
    /// `body` cannot be interrupted (`getaddrinfo`): the caller gets
    /// `CancellationError` at once; the thread finishes on its own and its
    /// result is dropped.
    case abandon
    /// `body` watches `signal` and returns promptly when it fires; the
    /// caller gets whatever `body` returns or throws.
    case signal(CancelSignal)
  }

  /// Runs `body` on a new thread named `name` and returns its result.
  static func run<T: Sendable>(
    name: String, cancellation: CancellationPolicy, _ body: @escaping @Sendable () throws -> T
  ) async throws -> T {
    let resumer = ResumeOnce<T>()
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation {
        (continuation: CheckedContinuation<T, any Error>) in
        guard resumer.arm(continuation) else { return }  // already cancelled and abandoned
        let thread = Thread {
          resumer.resume(with: Result { try body() })
        }
        thread.name = name
        thread.start()
      }
    } onCancel: {
      switch cancellation {
      case .abandon: resumer.resume(with: .failure(CancellationError()))
      case .signal(let signal): signal.fire()
      }
    }
  }
}

/// Resumes a continuation exactly once, whoever comes first: the thread with
/// its result, or a cancellation handler that gives up. A cancellation that
/// comes before the continuation exists is remembered.
final class ResumeOnce<T: Sendable>: Sendable {
  private enum State {
    case idle
    case armed(CheckedContinuation<T, any Error>)
    /// Resolved before the continuation existed (cancelled early).
    case resolvedEarly(Result<T, any Error>)
    case done
  }

  private let state = Mutex<State>(.idle)

  /// Stores the continuation. Returns false (after resuming it) when a
  /// result came first: the work must then not start.
  func arm(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
    let early: Result<T, any Error>? = state.withLock { state in
      switch state {
      case .idle:
        state = .armed(continuation)
        return nil
      case .resolvedEarly(let result):
        state = .done
        return result
      case .armed, .done:
        preconditionFailure("ResumeOnce armed twice")
      }
    }
    guard let early else { return true }
    continuation.resume(with: early)
    return false
  }

  /// Resumes with `result` unless something else already did.
  func resume(with result: Result<T, any Error>) {
    let continuation: CheckedContinuation<T, any Error>? = state.withLock { state in
      switch state {
      case .idle:
        state = .resolvedEarly(result)
        return nil
      case .armed(let continuation):
        state = .done
        return continuation
      case .resolvedEarly, .done:
        return nil
      }
    }
    continuation?.resume(with: result)
  }
}

/// A wake-up for a thread blocked in `poll()`: the thread polls
/// ``descriptor`` for input, and ``fire()`` makes it readable for good.
///
/// The two ends of a socket pair are created by `init` and closed by
/// `deinit`, so they stay valid for as long as the thread or a cancellation
/// handler holds the object: no descriptor is used after close or reused.
final class CancelSignal: Sendable {
  /// The end to poll for `POLLIN`.
  let descriptor: Int32
  private let writeEnd: Int32

  /// Opens the socket pair; nil if the process is out of descriptors.
  init?() {
    var ends: [Int32] = [-1, -1]
    let flags =
      Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
    guard socketpair(AF_UNIX, flags, 0, &ends) == 0 else { return nil }
    descriptor = ends[0]
    writeEnd = ends[1]
  }

  /// Makes ``descriptor`` readable. Safe from any thread, any number of times.
  func fire() {
    var byte: UInt8 = 1
    _ = send(writeEnd, &byte, 1, Int32(MSG_NOSIGNAL))
  }

  /// Whether ``fire()`` has been called.
  var isFired: Bool {
    var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
    return poll(&entry, 1, 0) > 0 && entry.revents & Int16(POLLIN) != 0
  }

  deinit {
    close(descriptor)
    close(writeEnd)
  }
}
