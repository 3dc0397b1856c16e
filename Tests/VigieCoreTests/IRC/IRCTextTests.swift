import Testing
import VigieCore

@Suite("IRC text: flood control, splitting, CTCP, masks")
struct IRCTextTests {
  @Test("token bucket: burst of 4, then one line per second")
  func bucket() async {
    let clock = ManualClock()
    var bucket = TokenBucket(burst: 4, interval: .seconds(1), now: clock.now)
    for _ in 0..<4 { #expect(bucket.take(at: clock.now) == nil) }
    #expect(bucket.take(at: clock.now) == .seconds(1))
    clock.advance(by: .milliseconds(400))
    #expect(bucket.take(at: clock.now) == .milliseconds(600))
    clock.advance(by: .milliseconds(600))
    #expect(bucket.take(at: clock.now) == nil)
    #expect(bucket.take(at: clock.now) != nil)
    // A long calm refills the burst, never beyond it.
    clock.advance(by: .seconds(100))
    #expect(bucket.available(at: clock.now) == 4)
    var sent = 0
    for _ in 0..<10 where bucket.take(at: clock.now) == nil { sent += 1 }
    #expect(sent == 4)
  }

  @Test("token bucket: 50 lines over time never exceed burst + elapsed/interval")
  func bucketRate() {
    let clock = ManualClock()
    var bucket = TokenBucket(burst: 3, interval: .milliseconds(500), now: clock.now)
    var sentAt: [Duration] = []
    while sentAt.count < 50 {
      if let wait = bucket.take(at: clock.now) {
        clock.advance(by: wait)
      } else {
        sentAt.append(clock.now.offset)
      }
    }
    for (index, time) in sentAt.enumerated() {
      #expect(index + 1 <= 3 + Int(time.seconds / 0.5 + 1e-6))
    }
    #expect(abs(sentAt.last!.seconds - 23.5) < 0.001)
  }

  @Test("budget counts the relay prefix :nick!user@host PRIVMSG #chan :")
  func budget() {
    // 512 - (":vigie!vigie@host.example PRIVMSG #ops :" + CR LF)
    let prefix = ":vigie!vigie@host.example PRIVMSG #ops :"
    #expect(
      IRCText.budget(target: "#ops", nick: "vigie", user: "vigie", host: "host.example") == 512 - prefix.utf8.count - 2)
    // Unknown user and host: assume the longest usual.
    #expect(
      IRCText.budget(target: "#ops", nick: "vigie", user: nil, host: nil) == 512 - 2
        - (1 + 5 + 1 + 10 + 1 + 63 + 1 + 7 + 1 + 4 + 2))
  }

  @Test("splitting 2,000 characters of mixed scripts: every line fits, nothing lost, no broken UTF-8")
  func split2000() {
    let words = ["alerte", "réseau", "日本語", "👩‍👩‍👧‍👦", "naïve", "x", "Ωμέγα", "🇫🇷", "e\u{301}"]
    var generator = IRCTestRandom(seed: 7)
    var text = ""
    while text.count < 2000 {
      text += words[Int(generator.next() % UInt64(words.count))]
      text += generator.next() % 5 == 0 ? "" : " "
    }
    text = String(text.prefix(2000))
    for budget in [17, 64, 300, 397] {
      let lines = IRCText.split(text, budget: budget)
      #expect(lines.joined() == text, "budget \(budget)")
      for line in lines { #expect(line.utf8.count <= budget && !line.isEmpty) }
      // Never a cut inside a grapheme cluster when the cluster fits (the
      // 25-byte family emoji does not fit in 17 bytes: cut between scalars).
      if budget >= 25 { #expect(lines.flatMap { Array($0) } == Array(text), "budget \(budget)") }
    }
  }

  @Test("splitting prefers word boundaries, keeps the space (at the start of the next line), and respects line breaks")
  func splitWords() {
    #expect(IRCText.split("aaaa bbbb cccc", budget: 10) == ["aaaa bbbb", " cccc"])
    #expect(IRCText.split("aaaaa bbbbbbb", budget: 10) == ["aaaaa", " bbbbbbb"])
    // A space too early in the line: a hard cut rather than a short line.
    #expect(IRCText.split("a bbbbbbbbbbbb", budget: 10) == ["a bbbbbbbb", "bbbb"])
    #expect(IRCText.split("one\ntwo\r\n\nthree", budget: 100) == ["one", "two", "three"])
    #expect(IRCText.split("a\0b\u{7}c\u{2}bold", budget: 100) == ["a b c\u{2}bold"])
    #expect(IRCText.split("   \n", budget: 100) == [])
    // No space near the end: a hard cut.
    #expect(IRCText.split("abcdefghij", budget: 4) == ["abcd", "efgh", "ij"])
    // A cluster longer than the budget is cut between scalars, never inside one.
    let family = "👩‍👩‍👧‍👦"
    let pieces = IRCText.split(family, budget: 8)
    #expect(pieces.joined() == family)
    for piece in pieces { #expect(piece.utf8.count <= 8) }
  }

  @Test("CTCP requests are recognised; normal text is not")
  func ctcp() {
    #expect(IRCText.CTCP.parse("\u{1}VERSION\u{1}") == IRCText.CTCP(command: "VERSION", argument: ""))
    #expect(IRCText.CTCP.parse("\u{1}ping 12345\u{1}") == IRCText.CTCP(command: "PING", argument: "12345"))
    #expect(IRCText.CTCP.parse("\u{1}ACTION waves") == IRCText.CTCP(command: "ACTION", argument: "waves"))
    #expect(IRCText.CTCP.parse("hello") == nil)
    #expect(IRCText.CTCP.parse("\u{1}") == nil)
    #expect(IRCText.CTCP.parse("\u{1}\u{1}") == nil)
    #expect(IRCText.CTCP(command: "VERSION", argument: "vigie 1.0").text == "\u{1}VERSION vigie 1.0\u{1}")
  }

  @Test("case folding, channel names, hostmask globs, alternate nicks")
  func names() {
    #expect(IRCText.fold("Vigie[1]\\~") == "vigie{1}|^")
    #expect(IRCText.isChannel("#ops") && IRCText.isChannel("&local") && !IRCText.isChannel("alice"))
    #expect(IRCText.maskMatches("*!*@trusted.example", "Alice!al@trusted.example"))
    #expect(IRCText.maskMatches("alice!?l@*", "ALICE!al@x"))
    #expect(!IRCText.maskMatches("*!*@trusted.example", "mallory!m@trusted.example.evil"))
    #expect(!IRCText.maskMatches("alice!*@*", "alicex!a@h"))
    #expect(IRCText.alternateNick("vigie", attempt: 0) == "vigie")
    #expect(IRCText.alternateNick("vigie", attempt: 1) == "vigie_")
    #expect(IRCText.alternateNick("vigie", attempt: 2) == "vigie__")
    let third = IRCText.alternateNick("vigie", attempt: 3)
    #expect(third.hasPrefix("vigie") && third != "vigie" && third.count <= 30)
    #expect(IRCText.alternateNick(String(repeating: "n", count: 30), attempt: 5).count <= 30)
  }
}
