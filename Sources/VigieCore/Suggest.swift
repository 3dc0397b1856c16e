/// "Did you mean …?" hints for unknown names (config keys, commands).
public enum Suggest {
  /// The candidate closest to `word` by edit distance, if it is close enough
  /// to be a plausible typo (at most a third of the word's length, min 1, max 3),
  /// or if one is a prefix of the other.
  public static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
    let lowered = word.lowercased()
    let length = lowered.count
    let budget = min(3, max(1, length / 3))
    var best: (candidate: String, distance: Int)?
    var prefixed: (candidate: String, extra: Int)?
    for candidate in candidates {
      let other = candidate.lowercased()
      if other == lowered { return candidate }
      // The distance is at least the difference in length: skip hopeless
      // candidates (and hostile, huge words) without computing it.
      let extra = abs(other.count - length)
      if extra <= budget {
        let distance = editDistance(lowered, other)
        if distance <= budget, best == nil || distance < best!.distance { best = (candidate, distance) }
      }
      if length >= 3, other.hasPrefix(lowered) || lowered.hasPrefix(other), prefixed == nil || extra < prefixed!.extra {
        prefixed = (candidate, extra)
      }
    }
    return best?.candidate ?? prefixed?.candidate
  }

  /// Damerau-Levenshtein distance (optimal string alignment): a swap of two
  /// adjacent characters counts as one edit, the commonest typo.
  public static func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous2 = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      current[0] = i
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
          current[j] = min(current[j], previous2[j - 2] + 1)
        }
      }
      (previous2, previous, current) = (previous, current, previous2)
    }
    return previous[b.count]
  }
}
