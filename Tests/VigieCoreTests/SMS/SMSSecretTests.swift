import Testing
import VigieCore

@Suite("SMS command secrets")
struct SMSSecretTests {
  static let grammar = CommandGrammar([
    CommandSpec("HELP", arguments: [.optional("command")], summary: "Help.", privilege: .read),
    CommandSpec("STATUS", summary: "Status.", privilege: .read),
    CommandSpec("PING", arguments: [.required("host")], summary: "Ping a host.", privilege: .read),
    CommandSpec(
      "RESTART", arguments: [.required("service")], summary: "Restart.", privilege: .operate),
    CommandSpec("REBOOT", arguments: [.optional("code")], summary: "Reboot.", privilege: .admin),
    CommandSpec(
      "SAY", arguments: [.rest("text", required: true)], summary: "Say.", privilege: .operate),
  ])

  @Test(
    "splitting the secret off",
    arguments: [
      ("STATUS", SMSSecret.Split.notRequired(command: "STATUS")),
      ("ping 192.0.2.1", .notRequired(command: "ping 192.0.2.1")),
      ("PING 492039", .notRequired(command: "PING 492039")),
      ("", .notRequired(command: "")),
      ("FOO 492039", .notRequired(command: "FOO 492039")),
      ("REBOOT 492039", .provided(command: "REBOOT", secret: "492039")),
      ("reboot 492039", .provided(command: "reboot", secret: "492039")),
      ("RESTART sms 492039", .provided(command: "RESTART sms", secret: "492039")),
      ("  RESTART   sms   492039  \r\n", .provided(command: "RESTART   sms", secret: "492039")),
      ("RESTART\nsms\n492039", .provided(command: "RESTART\nsms", secret: "492039")),
      ("REBOOT 123456 492039", .provided(command: "REBOOT 123456", secret: "492039")),
      ("RESTART sms correct-horse", .provided(command: "RESTART sms", secret: "correct-horse")),
      ("RESTART sms extra 492039", .provided(command: "RESTART sms extra", secret: "492039")),
      ("SAY hello world 492039", .provided(command: "SAY hello world", secret: "492039")),
      ("REBOOT", .missing(command: "REBOOT")),
      (" REBOOT ", .missing(command: "REBOOT")),
      ("RESTART", .missing(command: "RESTART")),
      ("RESTART sms", .missing(command: "RESTART sms")),
      ("SAY hello", .missing(command: "SAY hello")),
    ] as [(String, SMSSecret.Split)])
  func split(text: String, expected: SMSSecret.Split) {
    #expect(SMSSecret.split(text, grammar: Self.grammar) == expected)
  }

  @Test("the command part parses on its own")
  func commandParses() throws {
    let principal = Principal(transport: .sms, identity: "+33612345678", level: .admin)
    let split = SMSSecret.split("RESTART sms 492039", grammar: Self.grammar)
    let invocation = try Self.grammar.parse(split.command, principal: principal).get()
    #expect(invocation[argument: "service"] == "sms")
    #expect(!invocation.text.contains("492039"))
  }

  @Test(
    "redaction for logs and journals",
    arguments: [
      ("REBOOT 492039", "REBOOT ******"),
      ("RESTART sms 492039", "RESTART sms ******"),
      ("RESTART sms a-very-long-passphrase", "RESTART sms ******"),
      ("REBOOT 7", "REBOOT ******"),
      ("REBOT 492039", "REBOT ******"),  // misspelt: still redacted
      ("FOO bar baz", "FOO bar ******"),
      ("STATUS", "STATUS"),
      ("PING host", "PING host"),
      ("REBOOT", "REBOOT"),
      ("RESTART sms", "RESTART ******"),  // the safe side: "sms" could be a code
      ("RESTART 492039", "RESTART ******"),  // the service forgotten
      ("", ""),
    ])
  func redaction(text: String, redacted: String) {
    #expect(SMSSecret.redacted(text, grammar: Self.grammar) == redacted)
  }

  @Test("random texts: a provided secret never survives redaction")
  func redactionFuzz() {
    var generator = SplitMix64(seed: 17)
    let words = [
      "REBOOT", "RESTART", "STATUS", "sms", "PING", "SAY", "x", "\"", "492039", "é", " ", "\n",
    ]
    for _ in 0..<1000 {
      let count = Int.random(in: 0..<6, using: &generator)
      var text = (0..<count).map { _ in words.randomElement(using: &generator)! }.joined(
        separator: " ")
      let secret = "S3cr3t\(Int.random(in: 0..<1_000_000, using: &generator))"
      text += " " + secret
      let redacted = SMSSecret.redacted(text, grammar: Self.grammar)
      if case .provided(_, let found) = SMSSecret.split(text, grammar: Self.grammar) {
        #expect(found == secret)
        #expect(!redacted.contains(secret))
      }
      let all = text.split(whereSeparator: \.isWhitespace)
      if all.count > 1, Self.grammar.spec(named: String(all[0]))?.privilege != .read {
        #expect(!redacted.contains(secret))
      }
    }
  }

  @Test("TOTP codes with the replay guard")
  func totp() throws {
    let totp = try TOTP(secret: Array("12345678901234567890".utf8))
    let verifier = SMSSecret.Verifier(totp: totp, passphrase: nil, window: 1)
    #expect(verifier.isConfigured)
    let now: Int64 = 1_700_000_000
    var replayGuard = TOTPReplayGuard()
    let code = totp.code(at: now)
    #expect(
      verifier.verify(code, at: now, replayGuard: &replayGuard) == .totp(step: totp.step(at: now)))
    #expect(verifier.verify(code, at: now + 10, replayGuard: &replayGuard) == .replayed)
    #expect(
      verifier.verify(totp.code(at: now - 30), at: now, replayGuard: &replayGuard) == .replayed)
    #expect(verifier.verify(totp.code(at: now - 90), at: now, replayGuard: &replayGuard) == .wrong)
    #expect(verifier.verify("correct-horse", at: now, replayGuard: &replayGuard) == .wrong)
    #expect(
      verifier.verify(totp.code(at: now + 30), at: now + 30, replayGuard: &replayGuard).isAccepted)
  }

  @Test("passphrases, compared exactly")
  func passphrase() {
    let verifier = SMSSecret.Verifier(totp: nil, passphrase: "correct-horse")
    var replayGuard = TOTPReplayGuard()
    #expect(verifier.verify("correct-horse", at: 0, replayGuard: &replayGuard) == .passphrase)
    #expect(verifier.verify("correct-horse", at: 0, replayGuard: &replayGuard) == .passphrase)
    for wrong in ["Correct-horse", "correct-hors", "correct-horse ", "", "492039"] {
      #expect(verifier.verify(wrong, at: 0, replayGuard: &replayGuard) == .wrong)
    }
    #expect(replayGuard.lastAcceptedStep == nil)
  }

  @Test("both methods, or none")
  func both() throws {
    let totp = try TOTP(secret: Array("12345678901234567890".utf8))
    let verifier = SMSSecret.Verifier(totp: totp, passphrase: "123456")
    var replayGuard = TOTPReplayGuard()
    #expect(verifier.verify("123456", at: 1_700_000_000, replayGuard: &replayGuard) == .passphrase)
    #expect(
      verifier.verify(totp.code(at: 1_700_000_000), at: 1_700_000_000, replayGuard: &replayGuard)
        .isAccepted)

    let none = SMSSecret.Verifier(totp: nil, passphrase: "")
    #expect(!none.isConfigured)
    #expect(none.verify("anything", at: 0, replayGuard: &replayGuard) == .notConfigured)
    #expect(!SMSSecret.Verifier.Verdict.notConfigured.isAccepted)
  }
}
