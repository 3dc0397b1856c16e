/// The watched targets and what each is reached through: the static part of
/// dependency-aware evaluation.
///
/// `depends_on` names a target's parents. Several parents are alternative
/// paths, as Nagios's `parents`: a target is UNREACHABLE only when all of
/// them are DOWN or UNREACHABLE. An internet target is also reached through
/// our own uplink (the implicit ``uplinkName`` group of anchors), whatever
/// its parents: when the uplink is down it is INCONCLUSIVE.
///
/// The configuration is validated before (no cycles, no unknown names), but
/// the graph is defensive: it never traps, drops what it cannot use (nameless
/// or duplicate targets, unknown parents, self-dependencies, edges closing a
/// cycle) and lists each drop in ``issues``.
public struct TargetGraph: Sendable {
  /// The name of the implicit uplink group, in events and in `depends_on`.
  public static let uplinkName = "internet"

  /// One target.
  public struct Node: Sendable, Hashable {
    /// Unique name.
    public var name: String
    /// Parents: targets this one is reached through. ``TargetGraph/uplinkName``
    /// marks an internet target when no target has that name.
    public var dependsOn: [String]
    /// Whether the target is reached through our uplink.
    public var internet: Bool
    /// The probe interval, used to bound how long a child's DOWN waits for
    /// this target's verdict.
    public var interval: Duration
    /// Thresholds of this target; `nil` for the evaluator's.
    public var policy: MonitorPolicy?

    /// A target named `name`.
    public init(
      name: String, dependsOn: [String] = [], internet: Bool = false,
      interval: Duration = .seconds(60),
      policy: MonitorPolicy? = nil
    ) {
      self.name = name
      self.dependsOn = dependsOn
      self.internet = internet
      self.interval = interval
      self.policy = policy
    }
  }

  /// Our own uplink: a group of internet anchors probed each round; it is up
  /// if any anchor answers.
  public struct Uplink: Sendable, Hashable {
    /// Targets the uplink goes through (typically the default gateway), as
    /// alternative paths. Internet targets cannot be among them.
    public var dependsOn: [String]
    /// The interval of anchor rounds.
    public var interval: Duration
    /// Thresholds of the uplink; `nil` for the evaluator's.
    public var policy: MonitorPolicy?

    /// An uplink reached through `dependsOn`, probed every `interval`.
    public init(
      dependsOn: [String] = [], interval: Duration = .seconds(60), policy: MonitorPolicy? = nil
    ) {
      self.dependsOn = dependsOn
      self.interval = interval
      self.policy = policy
    }
  }

  /// Something of the input the graph could not use.
  public struct Issue: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem. New kinds may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
      private enum Kind: Sendable, Hashable {
        case emptyName, duplicateName, unknownParent, selfDependency, cycle
      }
      private let kind: Kind
      private init(_ kind: Kind) { self.kind = kind }

      /// A target without a name was dropped.
      public static let emptyName = Code(.emptyName)
      /// A second target with the same name was dropped.
      public static let duplicateName = Code(.duplicateName)
      /// A parent that is no target was ignored.
      public static let unknownParent = Code(.unknownParent)
      /// A target naming itself as parent: ignored.
      public static let selfDependency = Code(.selfDependency)
      /// A dependency closing a cycle was ignored.
      public static let cycle = Code(.cycle)

      public var description: String {
        switch kind {
        case .emptyName: "empty name"
        case .duplicateName: "duplicate name"
        case .unknownParent: "unknown parent"
        case .selfDependency: "self-dependency"
        case .cycle: "dependency cycle"
        }
      }
    }

    /// The kind of problem.
    public var code: Code
    /// The target concerned (``TargetGraph/uplinkName`` for the uplink).
    public var target: String
    /// What was dropped, for people.
    public var message: String

    /// A problem of kind `code` on `target`.
    public init(_ code: Code, target: String, _ message: String) {
      self.code = code
      self.target = target
      self.message = message
    }

    public var description: String { "\(target): \(message)" }
  }

  /// The targets kept, in the given order, with only the parents kept.
  public let nodes: [Node]
  /// The uplink, if watched.
  public let uplink: Uplink?
  /// What was dropped, in the order found.
  public let issues: [Issue]

  /// Vertices are the nodes' indices, then the uplink (index `nodes.count`).
  let parents: [[Int]]
  /// Whether a vertex goes through the uplink (besides its parents).
  let viaUplink: [Bool]
  /// Vertices with every parent (and the uplink) before its children.
  let order: [Int]
  let index: [String: Int]

  /// The graph of `nodes`, with `uplink` when our uplink is watched.
  public init(nodes input: [Node], uplink: Uplink? = nil) {
    var issues: [Issue] = []
    var kept: [Node] = []
    var index: [String: Int] = [:]
    for node in input {
      if node.name.isEmpty {
        issues.append(Issue(.emptyName, target: "", "a target without a name was ignored"))
      } else if index[node.name] != nil {
        issues.append(
          Issue(
            .duplicateName, target: node.name, "a second target named '\(node.name)' was ignored"))
      } else {
        index[node.name] = kept.count
        kept.append(node)
      }
    }
    let count = kept.count
    let uplinkVertex = uplink == nil ? nil : count
    var parents: [[Int]] = Array(repeating: [], count: count + (uplink == nil ? 0 : 1))
    var viaUplink = Array(repeating: false, count: parents.count)

    func resolve(_ names: [String], of name: String, markInternet: inout Bool) -> [Int] {
      var result: [Int] = []
      for parent in names {
        if parent == name {
          issues.append(
            Issue(.selfDependency, target: name, "'\(name)' cannot depend on itself; ignored"))
        } else if let p = index[parent] {
          if !result.contains(p) { result.append(p) }
        } else if parent == Self.uplinkName {
          markInternet = true
        } else {
          issues.append(
            Issue(.unknownParent, target: name, "no target is named '\(parent)'; ignored"))
        }
      }
      return result
    }
    for (i, node) in kept.enumerated() {
      var internet = node.internet
      parents[i] = resolve(node.dependsOn, of: node.name, markInternet: &internet)
      viaUplink[i] = internet && uplink != nil
    }
    if let uplink, let u = uplinkVertex {
      var ignored = false
      parents[u] = resolve(uplink.dependsOn, of: Self.uplinkName, markInternet: &ignored)
    }

    // Depth-first from each vertex in order: an edge to a vertex still on the
    // path closes a cycle and is dropped; the post-order puts parents first.
    var order: [Int] = []
    var state = Array(repeating: 0, count: parents.count)  // 0 new, 1 on path, 2 done
    func name(_ v: Int) -> String { v < count ? kept[v].name : Self.uplinkName }
    func edges(_ v: Int) -> [Int] {
      viaUplink[v] ? parents[v] + [uplinkVertex].compactMap { $0 } : parents[v]
    }
    // An explicit stack: a long chain of targets cannot overflow the call stack.
    for root in 0..<parents.count where state[root] == 0 {
      var stack: [(vertex: Int, next: Int)] = [(root, 0)]
      state[root] = 1
      while let (v, next) = stack.last {
        let out = edges(v)
        guard next < out.count else {
          stack.removeLast()
          state[v] = 2
          order.append(v)
          continue
        }
        stack[stack.count - 1].next += 1
        let p = out[next]
        if state[p] == 1 {
          issues.append(
            Issue(
              .cycle, target: name(v),
              "the dependency of '\(name(v))' on '\(name(p))' closes a cycle; ignored"))
          // Dropping the edge shifts the later ones down by one.
          stack[stack.count - 1].next -= 1
          if p == uplinkVertex {
            viaUplink[v] = false
          } else {
            parents[v].remove(at: next)
          }
        } else if state[p] == 0 {
          state[p] = 1
          stack.append((p, 0))
        }
      }
    }

    self.nodes = kept
    self.uplink = uplink
    self.issues = issues
    self.parents = parents
    self.viaUplink = viaUplink
    self.order = order
    self.index = index
  }

  /// The graph of the `[[watchdog.target]]` entries: intervals of 0 take
  /// `[watchdog] interval`; targets in `internet` (or naming
  /// ``uplinkName`` in `depends_on`) are internet targets.
  public init(watchdog: WatchdogConfig, internet: Set<String> = [], uplink: Uplink? = nil) {
    let nodes = watchdog.target.map { target in
      Node(
        name: target.name, dependsOn: target.dependsOn, internet: internet.contains(target.name),
        interval: target.interval > .zero ? target.interval : watchdog.interval)
    }
    self.init(nodes: nodes, uplink: uplink)
  }

  /// The parents kept for `name`, in the given order; empty for an unknown
  /// name.
  public func parents(of name: String) -> [String] {
    guard let v = index[name] else { return [] }
    return parents[v].map { nodes[$0].name }
  }

  /// Whether `name` is reached through the uplink.
  public func isInternet(_ name: String) -> Bool {
    index[name].map { viaUplink[$0] } ?? false
  }

  /// Names of the targets in evaluation order: every parent before its
  /// children.
  public var evaluationOrder: [String] {
    order.compactMap { $0 < nodes.count ? nodes[$0].name : nil }
  }
}
