/// A point in time as the watchdog's pure core sees it: a duration since an
/// epoch the caller chooses.
///
/// The core never reads a clock: the probe engine stamps every result and
/// every evaluation tick. Use the Unix epoch (wall time) when the history is
/// plotted, a monotonic clock's offset otherwise. Times that go backwards
/// (a wall clock set back) never trap: durations computed from them are
/// clamped at zero.
public struct WatchTime: Sendable, Hashable, Comparable, CustomStringConvertible {
  /// The time elapsed since the epoch.
  public var sinceEpoch: Duration

  /// The time `sinceEpoch` after the epoch.
  public init(sinceEpoch: Duration) {
    self.sinceEpoch = sinceEpoch
  }

  /// The time `seconds` whole seconds after the epoch.
  public static func seconds(_ seconds: Int64) -> WatchTime {
    WatchTime(sinceEpoch: .seconds(seconds))
  }

  /// The epoch itself.
  public static let zero = WatchTime(sinceEpoch: .zero)

  /// The time `duration` later (earlier if negative).
  public static func + (time: WatchTime, duration: Duration) -> WatchTime {
    WatchTime(sinceEpoch: time.sinceEpoch + duration)
  }

  /// The time `duration` earlier.
  public static func - (time: WatchTime, duration: Duration) -> WatchTime {
    WatchTime(sinceEpoch: time.sinceEpoch - duration)
  }

  /// The signed duration from `b` to `a`.
  public static func - (a: WatchTime, b: WatchTime) -> Duration {
    a.sinceEpoch - b.sinceEpoch
  }

  /// The duration from `earlier` to this time, never negative.
  public func elapsed(since earlier: WatchTime) -> Duration {
    max(.zero, self - earlier)
  }

  public static func < (a: WatchTime, b: WatchTime) -> Bool {
    a.sinceEpoch < b.sinceEpoch
  }

  public var description: String { "t+\(sinceEpoch)" }
}
