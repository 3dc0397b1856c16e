import Testing
import VigieCore

@Suite("command grammar")
struct CommandGrammarTests {
  let grammar = CommandGrammar([
    CommandSpec("HELP", arguments: [.optional("command")], summary: "Help.", privilege: .read),
    CommandSpec("STATUS", summary: "Status.", privilege: .read),
    CommandSpec("PING", arguments: [.required("host")], summary: "Ping a host.", privilege: .read),
    CommandSpec("RESTART", arguments: [.required("service")], summary: "Restart.", privilege: .operate),
    CommandSpec("REBOOT", arguments: [.optional("code")], summary: "Reboot.", privilege: .admin),
    CommandSpec("SAY", arguments: [.required("to"), .rest("text", required: true)], summary: "Say.", privilege: .read),
  ])

  func principal(_ level: Privilege) -> Principal {
    Principal(transport: .sms, identity: "+33612345678", level: level)
  }

  func parse(_ text: String, _ level: Privilege = .admin) -> Result<CommandInvocation, CommandError> {
    grammar.parse(text, principal: principal(level))
  }

  @Test("names are case-insensitive", arguments: ["status", "STATUS", "Status", "  sTaTuS  "])
  func caseInsensitive(text: String) throws {
    let invocation = try parse(text).get()
    #expect(invocation.spec.name == "STATUS")
  }

  @Test("arguments are bound by name")
  func arguments() throws {
    let ping = try parse("ping 192.0.2.1").get()
    #expect(ping[argument: "host"] == "192.0.2.1")
    let say = try parse("SAY alice  hello   there \"big world\"").get()
    #expect(say[argument: "to"] == "alice")
    #expect(say[argument: "text"] == "hello there big world")
    let quoted = try parse(#"PING "my host""#).get()
    #expect(quoted[argument: "host"] == "my host")
    let reboot = try parse("REBOOT").get()
    #expect(reboot[argument: "code"] == nil)
  }

  @Test(
    "usage errors say what is missing and show the usage",
    arguments: [
      ("PING", "Missing host. Usage: PING host"),
      ("PING a b", "Too many arguments (b). Usage: PING host"),
      ("SAY bob", "Missing text. Usage: SAY to text..."),
      ("STATUS now", "Too many arguments (now). Usage: STATUS"),
    ])
  func usage(text: String, message: String) {
    guard case .failure(let error) = parse(text) else {
      Issue.record("\(text) parsed")
      return
    }
    #expect(error.code == .usage)
    #expect(error.message == message)
  }

  @Test("unknown commands get a hint among the commands the sender may use")
  func unknown() {
    guard case .failure(let error) = parse("STATSU", .read) else { return #expect(Bool(false)) }
    #expect(error.code == .unknownCommand)
    #expect(error.message == "Unknown command 'STATSU'. Did you mean STATUS? Send HELP for the list.")
    // REBOOT is admin-only: a read user is not pointed at it.
    guard case .failure(let hidden) = parse("REBOT", .read) else { return #expect(Bool(false)) }
    #expect(!hidden.message.contains("REBOOT"))
  }

  @Test(
    "privilege levels",
    arguments: [
      ("STATUS", Privilege.read, true), ("RESTART sms", .read, false), ("RESTART sms", .operate, true),
      ("REBOOT", .operate, false), ("REBOOT", .admin, true),
    ])
  func authorisation(text: String, level: Privilege, allowed: Bool) {
    switch parse(text, level) {
    case .success: #expect(allowed)
    case .failure(let error):
      #expect(!allowed)
      #expect(error.code == .denied)
      #expect(error.message.contains("needs the"))
    }
  }

  @Test("privileges are ordered read < operate < admin")
  func ordering() {
    #expect(Privilege.read < .operate)
    #expect(Privilege.operate < .admin)
    #expect(!(Privilege.admin < .read))
  }

  @Test("HELP lists only what the level allows; HELP command explains one")
  func help() throws {
    let forRead = try grammar.help(topic: nil, level: .read).get()
    #expect(forRead == "Commands: HELP [command], STATUS, PING host, SAY to text.... Send HELP <command> for details.")
    let forAdmin = try grammar.help(topic: nil, level: .admin).get()
    #expect(forAdmin.contains("REBOOT [code]"))
    #expect(try grammar.help(topic: "ping", level: .read).get() == "PING host: Ping a host. (level read)")
    guard case .failure(let error) = grammar.help(topic: "reboot", level: .read) else { return #expect(Bool(false)) }
    #expect(error.message == "No command 'reboot'.")
  }

  @Test(
    "hostile input is refused cleanly",
    arguments: [
      ("", CommandError.Code.empty), ("   \t ", .empty), ("PING \"unclosed", .malformed),
      ("STATUS\u{0}", .malformed), ("\u{1B}[2J STATUS", .malformed), (String(repeating: "A", count: 5000), .malformed),
      (String(repeating: "PING ", count: 300), .malformed),
    ])
  func hostile(text: String, code: CommandError.Code) {
    guard case .failure(let error) = parse(text) else { return #expect(Bool(false), "accepted \(text.prefix(20))") }
    #expect(error.code == code)
  }

  @Test("unknown names are echoed back bounded and printable")
  func echoBounded() {
    let long = String(repeating: "ÿ", count: 200)
    guard case .failure(let error) = parse(long) else { return #expect(Bool(false)) }
    #expect(error.message.count < 120)
  }

  @Test("a multi-line SMS keeps its words; CRLF is whitespace")
  func multiline() throws {
    let invocation = try parse("PING\r\n192.0.2.7\r\n").get()
    #expect(invocation[argument: "host"] == "192.0.2.7")
  }

  @Test("random bytes never crash the tokenizer")
  func fuzz() {
    var generator = SplitMix64(seed: 42)
    for _ in 0..<2000 {
      let length = Int.random(in: 0..<64, using: &generator)
      let scalars = (0..<length).compactMap { _ in Unicode.Scalar(UInt32.random(in: 0..<0x3000, using: &generator)) }
      var text = ""
      text.unicodeScalars.append(contentsOf: scalars)
      _ = parse(text)
    }
  }
}

/// A small seeded generator so fuzz runs are reproducible.
struct SplitMix64: RandomNumberGenerator {
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
