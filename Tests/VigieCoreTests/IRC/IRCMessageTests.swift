import Testing
import VigieCore

@Suite("IRC message parser and serializer")
struct IRCMessageTests {
  func parse(_ text: String) -> Result<IRCMessage, IRCParseError> { IRCMessage.parse(Array(text.utf8)) }

  @Test("a full line: tags, source, command, middle params and trailing")
  func full() throws {
    let message = try parse(
      "@time=2026-11-25T10:00:00.000Z;account=alice;+draft/x :alice!al@host.example PRIVMSG #ops :hello there :)"
    )
    .get()
    #expect(message.tag("time") == "2026-11-25T10:00:00.000Z")
    #expect(message.tag("account") == "alice")
    #expect(message.tag("+draft/x") == "")
    #expect(message.tag("missing") == nil)
    #expect(message.source == IRCSource(nick: "alice", user: "al", host: "host.example"))
    #expect(message.command == "PRIVMSG")
    #expect(message.params == ["#ops", "hello there :)"])
  }

  @Test("numerics, lower-case commands, a server source, CR LF removed, repeated spaces")
  func variants() throws {
    let welcome = try parse(":irc.example 001 vigie :Welcome to IRC\r\n").get()
    #expect(welcome.source?.nick == "irc.example" && welcome.source?.user == nil)
    #expect(welcome.command == "001" && welcome.params == ["vigie", "Welcome to IRC"])
    let ping = try parse("ping   token").get()
    #expect(ping.command == "PING" && ping.params == ["token"])
    let empty = try parse("PRIVMSG #a :").get()
    #expect(empty.params == ["#a", ""])
    let bare = try parse("CAP * LS :").get()
    #expect(bare.params == ["*", "LS", ""])
  }

  @Test("tag values are unescaped; a repeated key keeps the last value")
  func tagEscapes() throws {
    let message = try parse("@a=one\\:two\\sthree\\\\four\\r\\n\\x\\;a2=x;a2=y CMD").get()
    #expect(message.tag("a") == "one;two three\\four\r\nx")
    #expect(message.tag("a2") == "y")
    #expect(IRCTag.escape("a; b\\") == "a\\:\\sb\\\\")
  }

  @Test("non-UTF-8 bytes are read as Latin-1")
  func latin1() throws {
    let message = try IRCMessage.parse(Array("PRIVMSG #a :caf".utf8) + [0xE9]).get()
    #expect(message.params[1] == "café")
  }

  @Test("hostile lines are rejected with precise errors")
  func hostile() {
    #expect(parse("") == .failure(.empty))
    #expect(parse("\r\n") == .failure(.empty))
    #expect(IRCMessage.parse(Array("PRIVMSG #a :x".utf8) + [0] + Array("y".utf8)) == .failure(.nulByte(offset: 13)))
    #expect(parse("PRIVMSG #a :x\rQUIT") == .failure(.lineBreak(offset: 13)))
    #expect(parse("PRIVMSG #a :x\nQUIT") == .failure(.lineBreak(offset: 13)))
    #expect(parse(":only.source") == .failure(.missingCommand))
    #expect(parse("@a=b") == .failure(.missingCommand))
    #expect(parse(": PRIVMSG") == .failure(.emptySource))
    #expect(parse("PRIV-MSG x") == .failure(.invalidCommand("PRIV-MSG")))
    #expect(parse("0001 x") == .failure(.invalidCommand("0001")))
    #expect(parse("@=x CMD") == .failure(.emptyTagKey))
    #expect(parse("@a b=c CMD") == .failure(.invalidCommand("b=c")))
    #expect(parse("@k!y=1 CMD") == .failure(.invalidTagKey("k!y")))
    let many = "CMD " + (1...16).map(String.init).joined(separator: " ")
    #expect(parse(many) == .failure(.tooManyParams(count: 16, limit: 15)))
    let long = "PRIVMSG #a :" + String(repeating: "x", count: 500)
    #expect(parse(long) == .failure(.lineTooLong(bytes: 514, limit: 512)))
    let longTags = "@a=" + String(repeating: "x", count: 8200) + " CMD"
    #expect(parse(longTags) == .failure(.tagsTooLong(bytes: 8204, limit: 8191)))
    // Within the limits: 510 bytes plus CR LF, and tags beside it.
    let exact = "PRIVMSG #a :" + String(repeating: "x", count: 498)
    #expect((try? parse(exact).get()) != nil)
    #expect((try? parse("@a=" + String(repeating: "y", count: 8000) + " " + exact).get()) != nil)
    for error in [
      IRCParseError.nulByte(offset: 3), .lineTooLong(bytes: 600, limit: 512), .invalidMiddleParam(index: 0),
    ] {
      #expect(!error.description.isEmpty)
    }
  }

  @Test("random garbage never crashes the parser")
  func garbage() {
    var generator = IRCTestRandom(seed: 42)
    for _ in 0..<5000 {
      let count = Int(generator.next() % 700)
      let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
      _ = IRCMessage.parse(bytes)
      // Mostly printable garbage exercises deeper paths.
      let text = (0..<count).map { _ in UInt8(32 + generator.next() % 95) }
      if case .success(let message) = IRCMessage.parse(text) { _ = try? message.serialized() }
    }
  }

  @Test("serializing: trailing when needed, CR LF, round trip")
  func serialize() throws {
    let message = IRCMessage(command: "PRIVMSG", params: ["#ops", "nas DOWN: since 10:00"])
    #expect(String(decoding: try message.serialized(), as: UTF8.self) == "PRIVMSG #ops :nas DOWN: since 10:00\r\n")
    #expect(String(decoding: try IRCMessage("NICK", "vigie").serialized(), as: UTF8.self) == "NICK vigie\r\n")
    #expect(String(decoding: try IRCMessage("PRIVMSG", "#a", ":)").serialized(), as: UTF8.self) == "PRIVMSG #a ::)\r\n")
    #expect(String(decoding: try IRCMessage("PRIVMSG", "#a", "").serialized(), as: UTF8.self) == "PRIVMSG #a :\r\n")
    let tagged = IRCMessage(tags: [IRCTag("+x", "a b;c")], command: "TAGMSG", params: ["#a"])
    let bytes = try tagged.serialized()
    #expect(try IRCMessage.parse(bytes).get() == tagged)
  }

  @Test("serializing refuses injections and oversize lines")
  func serializeRefuses() {
    #expect(throws: IRCParseError.lineBreak(offset: 13)) {
      try IRCMessage("PRIVMSG", "#a", "x\r\nQUIT :bye").serialized()
    }
    #expect(throws: IRCParseError.nulByte(offset: 11)) { try IRCMessage("PRIVMSG", "#a", "\0").serialized() }
    #expect(throws: IRCParseError.invalidMiddleParam(index: 0)) {
      try IRCMessage("PRIVMSG", "#a b", "x").serialized()
    }
    #expect(throws: IRCParseError.invalidMiddleParam(index: 0)) { try IRCMessage("JOIN", "", "x").serialized() }
    #expect(throws: IRCParseError.invalidCommand("PRIV MSG")) { try IRCMessage("PRIV MSG", "x").serialized() }
    #expect(throws: IRCParseError.lineTooLong(bytes: 513, limit: 512)) {
      try IRCMessage("PRIVMSG", "#a", String(repeating: "é", count: 250)).serialized()
    }
  }
}

/// A small deterministic generator for the garbage test.
struct IRCTestRandom: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
