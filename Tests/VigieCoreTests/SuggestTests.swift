import Testing
import VigieCore

@Suite struct SuggestTests {
  static let sections = [
    "daemon", "modem", "sms", "filedrop", "drive", "watchdog", "irc", "xmpp", "alerts", "leds",
    "status",
  ]
  static let modemKeys = [
    "enabled", "device", "pin", "pin_file", "poll_interval", "command_timeout",
  ]

  @Test(arguments: [
    ("devcie", modemKeys, "device"),  // swapped letters: one edit
    ("devic", modemKeys, "device"),
    ("DEVICE", modemKeys, "device"),  // case does not matter
    ("pin-file", modemKeys, "pin_file"),
    ("poll", modemKeys, "poll_interval"),  // a prefix of the key
    ("watchdgo", sections, "watchdog"),
    ("modme", sections, "modem"),
    ("filedorp", sections, "filedrop"),
    ("xmp", sections, "xmpp"),
    ("infos", ["trace", "debug", "info", "notice", "warning", "error", "critical"], "info"),
  ])
  func suggestsTheClosestName(word: String, candidates: [String], expected: String) {
    #expect(Suggest.closest(to: word, in: candidates) == expected)
  }

  @Test(arguments: [
    ("banana", modemKeys),
    ("x", sections),
    ("", ["abc", "defg"]),
    ("timeout", ["enabled", "device"]),
    ("anything", []),
  ])
  func staysSilentWhenNothingIsClose(word: String, candidates: [String]) {
    #expect(Suggest.closest(to: word, in: candidates) == nil)
  }

  @Test(arguments: [
    ("", "", 0),
    ("", "abc", 3),
    ("abc", "", 3),
    ("abc", "abc", 0),
    ("ab", "ba", 1),
    ("kitten", "sitting", 3),
    ("devcie", "device", 1),
    ("ca", "abc", 3),  // optimal string alignment, not unrestricted Damerau
    ("é", "e", 1),
    ("naïve", "naive", 1),
  ])
  func editDistance(a: String, b: String, expected: Int) {
    #expect(Suggest.editDistance(a, b) == expected)
    #expect(Suggest.editDistance(b, a) == expected)
  }

  @Test func longWordsAreHandledQuickly() {
    let long = String(repeating: "x", count: 200_000)
    #expect(Suggest.closest(to: long, in: Self.modemKeys) == nil)
    #expect(Suggest.editDistance(long, "device") == 200_000)
  }
}
