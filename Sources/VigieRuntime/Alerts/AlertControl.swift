import Foundation
import Synchronization
import VigieChat
import VigieCore

/// What the alert router and the chat commands share: silences,
/// maintenance, open problems. Kept in a JSON file in the state directory
/// so that a SILENCE or an ACK outlives a restart.
public final class AlertControl: Sendable {
  public struct State: Codable, Sendable, Hashable {
    public var silences = AlertSilences()
    public var problems = ProblemBook()
  }

  let path: String?
  private let state: Mutex<State>

  public init(path: String?) {
    self.path = path
    var loaded = State()
    if let path, let data = FileManager.default.contents(atPath: path),
      let decoded = try? JSONDecoder().decode(State.self, from: data)
    {
      loaded = decoded
    }
    state = Mutex(loaded)
  }

  public var snapshot: State { state.withLock { $0 } }

  /// Changes the state and saves it (best effort: a full disk must not stop alerts).
  @discardableResult
  public func update<T>(_ change: (inout State) -> T) -> T {
    let (result, copy) = state.withLock { state -> (T, State) in
      let result = change(&state)
      return (result, state)
    }
    if let path, let data = try? JSONEncoder().encode(copy) {
      try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
    return result
  }
}

/// The live state of the chat links, for STATUS and the alert router.
public final class ChatBoard: Sendable {
  private let irc = Mutex<IRCLinkStatus?>(nil)
  public init() {}
  public var ircStatus: IRCLinkStatus? { irc.withLock { $0 } }
  public func setIRC(_ status: IRCLinkStatus?) { irc.withLock { $0 = status } }

  /// One line for STATUS.
  public var summary: String? {
    guard let status = ircStatus else { return nil }
    if status.registered {
      return
        "IRC \(status.nick ?? "?") in \(status.joined.isEmpty ? "no channel" : status.joined.joined(separator: " "))"
    }
    let since = status.downSince.map { " for " + StatusReport.formatDuration(Int(Date().timeIntervalSince1970) - $0) }
    return "IRC down\(since ?? "")" + (status.lastError.map { " (\($0))" } ?? "")
  }
}

/// What the router puts in the `chat.irc` queue: one alert for one target.
struct ChatDelivery: Codable, Sendable, Hashable {
  var target: String
  var alert: RoutedAlert
  /// The id of the alert in the `alerts` queue: SMS keys use it, so an
  /// alert that went by SMS already is not sent again by the fallback.
  var alertID: Int64
}
