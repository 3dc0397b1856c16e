/// When uploads may run and how much they may send: `[drive] upload_window`
/// (time of day), `daily_budget` and `monthly_budget` (bytes a day and a
/// calendar month; 3G costs money). Pure: the caller passes the local time
/// and the bytes already sent.
public struct UploadPolicy: Sendable, Equatable {
  public var window: TimeWindow?
  /// 0 = unlimited.
  public var dailyBudget: Int64
  /// 0 = unlimited.
  public var monthlyBudget: Int64

  public init(window: TimeWindow?, dailyBudget: Int64, monthlyBudget: Int64) {
    self.window = window
    self.dailyBudget = dailyBudget
    self.monthlyBudget = monthlyBudget
  }

  public enum Verdict: Sendable, Equatable {
    /// Upload up to this many bytes now (`Int64.max` when no budget applies).
    case allowed(maxBytes: Int64)
    case outsideWindow
    case dailyBudgetSpent
    case monthlyBudgetSpent
  }

  /// May an upload run at `minuteOfDay` (local, 0..<1440) with `sentToday`
  /// and `sentThisMonth` bytes already sent?
  public func verdict(minuteOfDay: Int, sentToday: Int64, sentThisMonth: Int64) -> Verdict {
    if let window, !window.contains(minuteOfDay: minuteOfDay) { return .outsideWindow }
    var left = Int64.max
    if dailyBudget > 0 {
      guard sentToday < dailyBudget else { return .dailyBudgetSpent }
      left = min(left, dailyBudget - sentToday)
    }
    if monthlyBudget > 0 {
      guard sentThisMonth < monthlyBudget else { return .monthlyBudgetSpent }
      left = min(left, monthlyBudget - sentThisMonth)
    }
    return .allowed(maxBytes: left)
  }

  /// Whether a file of `size` bytes still to send fits what `verdict`
  /// allows. A file bigger than a whole daily budget could never fit, so it
  /// is let through when the day's budget is untouched (it then spends
  /// several days' worth once, which the log says).
  public func fits(size: Int64, verdict: Verdict, sentToday: Int64, sentThisMonth: Int64) -> Bool {
    guard case .allowed(let maxBytes) = verdict else { return false }
    if size <= maxBytes { return true }
    return dailyBudget > 0 && size > dailyBudget && sentToday == 0
      && (monthlyBudget == 0 || size <= monthlyBudget - sentThisMonth)
  }
}

/// Names for the copies Vigie keeps when both sides changed.
public enum ConflictName {
  /// `report.txt` → `report (conflict 2026-11-25 14.02).txt`; a name without
  /// an extension (or a dot file such as `.bashrc`) gets the suffix at the
  /// end. `n` > 1 adds ` 2`, ` 3`… when the first choice is taken.
  public static func make(
    _ name: String, year: Int, month: Int, day: Int, hour: Int, minute: Int, n: Int = 1
  ) -> String {
    func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    var tag = "conflict \(year)-\(two(month))-\(two(day)) \(two(hour)).\(two(minute))"
    if n > 1 { tag += " \(n)" }
    let scalars = Array(name.unicodeScalars)
    if let dot = scalars.lastIndex(of: "."), dot > 0, dot < scalars.count - 1,
      scalars.count - dot <= 11, !scalars[(dot + 1)...].contains(" ")
    {
      let base = String(String.UnicodeScalarView(scalars[..<dot]))
      let ext = String(String.UnicodeScalarView(scalars[dot...]))
      return "\(base) (\(tag))\(ext)"
    }
    return "\(name) (\(tag))"
  }
}

/// Drive search-query helpers (the `q` parameter of files.list).
public enum DriveQuery {
  /// `text` as a quoted q string: `'` and `\` are escaped with `\`.
  public static func literal(_ text: String) -> String {
    var out = "'"
    for c in text {
      if c == "'" || c == "\\" { out.append("\\") }
      out.append(c)
    }
    return out + "'"
  }

  /// Children of `folderID` not in the trash.
  public static func children(of folderID: String) -> String {
    "\(literal(folderID)) in parents and trashed = false"
  }

  /// A file named `name` in `folderID`, not trashed.
  public static func named(_ name: String, in folderID: String) -> String {
    "name = \(literal(name)) and \(children(of: folderID))"
  }

  /// The file carrying Vigie's upload key (set in `appProperties` at
  /// create), to find a file whose create answer was lost.
  public static func withUploadKey(_ key: String) -> String {
    "appProperties has { key='vigieUpload' and value=\(literal(key)) } and trashed = false"
  }
}

/// A QR code matrix as terminal text: two module rows per line with the
/// half-block characters, a 2-module quiet zone, dark modules drawn light on
/// a dark terminal… so it is inverted: spaces are dark.
public enum QRText {
  public static func render(_ matrix: [[Bool]]) -> String {
    let quiet = 2
    let width = (matrix.first?.count ?? 0) + 2 * quiet
    func dark(_ row: Int, _ column: Int) -> Bool {
      let r = row - quiet
      let c = column - quiet
      guard r >= 0, r < matrix.count, c >= 0, c < matrix[r].count else { return false }
      return matrix[r][c]
    }
    var lines: [String] = []
    var row = 0
    while row < matrix.count + 2 * quiet {
      var line = ""
      for column in 0..<width {
        // Light is drawn (terminal foreground), dark is left blank.
        switch (!dark(row, column), !dark(row + 1, column) && row + 1 < matrix.count + 2 * quiet) {
        case (true, true): line += "█"
        case (true, false): line += "▀"
        case (false, true): line += "▄"
        case (false, false): line += " "
        }
      }
      lines.append(line)
      row += 2
    }
    return lines.joined(separator: "\n")
  }
}
