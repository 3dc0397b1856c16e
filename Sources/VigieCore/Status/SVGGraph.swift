/// A time series drawn as an inline SVG by the server: no JavaScript, no
/// external file, readable on a phone (it scales with `viewBox`).
///
/// SmokePing-style for probes: the latency line, broken where a probe got no
/// answer, and a red band under each loss.
public struct SVGGraph: Sendable {
  /// One sample: seconds since the epoch, and a value (nil = no answer).
  public struct Point: Sendable, Hashable, Codable {
    public var time: Int
    public var value: Double?
    public init(time: Int, value: Double?) {
      self.time = time
      self.value = value
    }
  }

  public var title: String
  /// Unit after values on the axis, e.g. `ms`, `%`.
  public var unit: String
  public var points: [Point]
  /// The time span shown, ending at `end`.
  public var start: Int
  public var end: Int
  public var width = 600
  public var height = 160
  /// The value axis starts at zero, up to the largest value (or `minimumTop`).
  public var minimumTop: Double = 1

  public init(title: String, unit: String, points: [Point], start: Int, end: Int) {
    self.title = title
    self.unit = unit
    self.points = points.filter { $0.time >= start && $0.time <= end }.sorted { $0.time < $1.time }
    self.start = start
    self.end = max(end, start + 1)
  }

  /// Plot area margins: left for value labels, bottom for time labels.
  static let left = 48
  static let bottom = 20
  static let top = 18

  /// The value at the top of the axis.
  public var top: Double {
    let largest = points.compactMap(\.value).max() ?? 0
    return Self.niceCeiling(max(largest, minimumTop))
  }

  /// x of a time, y of a value, in viewBox units (rounded to 0.1).
  func x(_ time: Int) -> Double {
    let plot = Double(width - Self.left - 4)
    return Self.round(Double(Self.left) + plot * Double(time - start) / Double(end - start))
  }

  func y(_ value: Double) -> Double {
    let plot = Double(height - Self.bottom - Self.top)
    return Self.round(Double(Self.top) + plot * (1 - min(value, top) / top))
  }

  /// The polylines' points: one run per stretch of answered samples.
  public var runs: [[(x: Double, y: Double)]] {
    var runs: [[(x: Double, y: Double)]] = []
    var current: [(x: Double, y: Double)] = []
    for point in points {
      if let value = point.value {
        current.append((x(point.time), y(value)))
      } else if !current.isEmpty {
        runs.append(current)
        current = []
      }
    }
    if !current.isEmpty { runs.append(current) }
    return runs
  }

  /// The SVG element, ready to inline in a page.
  public func render() -> String {
    let bottomY = height - Self.bottom
    var svg = """
      <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(width) \(height)" role="img" \
      aria-label="\(HTML.escape(title))" class="graph">
      <title>\(HTML.escape(title))</title>
      <rect x="\(Self.left)" y="\(Self.top)" width="\(width - Self.left - 4)" height="\(bottomY - Self.top)" \
      class="plot"/>

      """
    // Value axis: 0, half, top.
    for fraction in [0.0, 0.5, 1.0] {
      let value = top * fraction
      let lineY = y(value)
      svg += "<line x1=\"\(Self.left)\" y1=\"\(lineY)\" x2=\"\(width - 4)\" y2=\"\(lineY)\" class=\"grid\"/>"
      svg += "<text x=\"\(Self.left - 4)\" y=\"\(Self.round(lineY + 4))\" text-anchor=\"end\">"
      svg += "\(Self.format(value))\(HTML.escape(unit))</text>\n"
    }
    // Time axis: the start, the middle and the end, as hours ago.
    for fraction in [0.0, 0.5, 1.0] {
      let time = start + Int(Double(end - start) * fraction)
      let ago = end - time
      let label = ago == 0 ? "now" : "-\(StatusReport.formatDuration(ago))"
      let anchor = fraction == 0 ? "start" : fraction == 1 ? "end" : "middle"
      svg += "<text x=\"\(x(time))\" y=\"\(height - 4)\" text-anchor=\"\(anchor)\">\(label)</text>\n"
    }
    // Losses: a band under each unanswered sample.
    let step = Self.typicalStep(points)
    for point in points where point.value == nil {
      let from = x(point.time - step / 2)
      let to = x(point.time + step / 2)
      svg += "<rect x=\"\(max(from, Double(Self.left)))\" y=\"\(Self.top)\" "
      svg += "width=\"\(Self.round(max(to - from, 1)))\" height=\"\(bottomY - Self.top)\" class=\"loss\"/>\n"
    }
    for run in runs {
      if run.count == 1 {
        svg += "<circle cx=\"\(run[0].x)\" cy=\"\(run[0].y)\" r=\"1.5\" class=\"dot\"/>\n"
      } else {
        let list = run.map { "\($0.x),\($0.y)" }.joined(separator: " ")
        svg += "<polyline points=\"\(list)\" class=\"line\"/>\n"
      }
    }
    if points.isEmpty {
      svg += "<text x=\"\(width / 2)\" y=\"\(height / 2)\" text-anchor=\"middle\">no data yet</text>\n"
    }
    svg += "</svg>"
    return svg
  }

  /// The median gap between samples (for the width of loss bands).
  static func typicalStep(_ points: [Point]) -> Int {
    let gaps = zip(points, points.dropFirst()).map { $1.time - $0.time }.filter { $0 > 0 }.sorted()
    return gaps.isEmpty ? 60 : gaps[gaps.count / 2]
  }

  /// 1, 2 or 5 times a power of ten, at least `value`.
  public static func niceCeiling(_ value: Double) -> Double {
    guard value > 0, value.isFinite else { return 1 }
    var magnitude = 1.0
    while magnitude * 10 <= value { magnitude *= 10 }
    while magnitude > value { magnitude /= 10 }
    for factor in [1.0, 2.0, 5.0, 10.0] where magnitude * factor >= value { return magnitude * factor }
    return magnitude * 10
  }

  static func round(_ value: Double) -> Double { (value * 10).rounded() / 10 }

  static func format(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(Self.round(value))
  }
}
