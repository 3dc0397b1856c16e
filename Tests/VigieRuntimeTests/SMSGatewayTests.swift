import Foundation
import GRDB
import Logging
import Synchronization
import Testing
import VigieCore
import VigieModem

@testable import VigieRuntime

/// The SMS gateway against a real state store: parts stored as the modem
/// service stores them, messages handled, replies read back from the outbox.
@Suite("SMS gateway")
struct SMSGatewayTests {
  static let admin = "+33639980001"
  static let reader = "+33639980002"
  static let totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DP"

  final class Fixture {
    let directory: String
    let store: StateStore
    let outbox: Outbox
    let modemStore: ModemStore
    let smsStore: SMSStore
    let registry: CommandRegistry
    let ran = RanCommands()
    var section = SMSConfig()
    var clockSynchronised = true

    final class RanCommands: Sendable {
      private let list = Mutex<[String]>([])
      var names: [String] { list.withLock { $0 } }
      func append(_ name: String) { list.withLock { $0.append(name) } }
    }

    init() throws {
      directory = NSTemporaryDirectory() + "vigie-sms-\(UUID().uuidString)"
      store = try StateStore.open(
        at: directory, migrations: ModemStore.migrations + SMSStore.migrations, logger: quietLogger)
      outbox = Outbox(store: store)
      modemStore = ModemStore(store: store, outbox: outbox)
      smsStore = SMSStore(store: store, outbox: outbox)
      let ran = self.ran
      let commands: [(spec: CommandSpec, handler: CommandRegistry.Handler)] = [
        (
          CommandSpec("STATUS", summary: "s", privilege: .read),
          { _ in
            ran.append("STATUS")
            return "all good"
          }
        ),
        (
          CommandSpec("LONG", summary: "l", privilege: .read),
          { _ in String(repeating: "0123456789", count: 100) }
        ),
        (
          CommandSpec("RESTART", arguments: [.required("service")], summary: "r", privilege: .operate),
          { invocation in
            ran.append("RESTART \(invocation[argument: "service"]!)")
            return "Restarting."
          }
        ),
      ]
      registry = CommandRegistry(commands, logger: quietLogger)
      var sender = SMSSender()
      sender.number = SMSGatewayTests.admin
      sender.level = .admin
      var other = SMSSender()
      other.number = "06 39 98 00 02"
      other.level = .read
      section.allow = [sender, other]
      section.defaultCountryCode = "33"
      let secretFile = directory + "/totp"
      try SMSGatewayTests.totpSecret.write(toFile: secretFile, atomically: true, encoding: .utf8)
      chmod(secretFile, 0o600)
      section.totpSecretFile = secretFile
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func gateway() throws -> SMSGatewayService {
      let synchronised = clockSynchronised
      return SMSGatewayService(
        configuration: try SMSGatewayConfiguration(section), store: smsStore, registry: registry,
        logger: quietLogger, clockIsSynchronised: { synchronised })
    }

    /// Stores parts as the modem service would, then lets the gateway handle
    /// every complete message.
    func receive(_ parts: [StoredSMS], now: Int = Int(Date().timeIntervalSince1970)) async throws {
      try await modemStore.storeIncoming(parts, simID: "sim")
      _ = try await smsStore.assemble(now: now, timeout: section.multipartTimeout)
      let gateway = try gateway()
      while let message = try await smsStore.nextNew() { await gateway.handle(message) }
    }

    /// Replies queued for the modem, oldest first.
    func replies() async throws -> [ModemStore.OutgoingPayload] {
      try await store.database.read { db in
        try Data.fetchAll(db, sql: "SELECT payload FROM outbox WHERE queue = 'sms' ORDER BY id")
      }.map { try JSONDecoder().decode(ModemStore.OutgoingPayload.self, from: $0) }
    }

    func states() async throws -> [String] {
      try await store.database.read { db in
        try String.fetchAll(db, sql: "SELECT state || ':' || COALESCE(outcome, '') FROM sms_messages ORDER BY id")
      }
    }

    func code(offset: Int64 = 0) throws -> String {
      try TOTP(base32Secret: SMSGatewayTests.totpSecret).code(at: Int64(Date().timeIntervalSince1970) + offset)
    }
  }

  static var now: SMSCTimestamp {
    let t = Int(Date().timeIntervalSince1970)
    let days = t / 86_400
    // civil from days (UTC), enough for a timestamp "now"
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
    let s = t % 86_400
    return try! SMSCTimestamp(
      year: y, month: m, day: d, hour: s / 3600, minute: s % 3600 / 60, second: s % 60, zoneQuarterHours: 0)
  }

  static func sms(
    _ text: String, from sender: String = admin, at timestamp: SMSCTimestamp = now,
    part: (ref: Int, index: Int, total: Int)? = nil, location: Int = 1
  ) -> StoredSMS {
    StoredSMS(
      location: location, folder: 1, memory: "SM", kind: .deliver, sender: sender, text: text, binary: nil,
      timestamp: timestamp,
      concatenation: part.map { .init(reference: $0.ref, part: $0.index, total: $0.total) },
      messageReference: 0, deliveryStatus: 0)
  }

  @Test("an allowed sender's STATUS is answered; the same SMS read twice runs once")
  func statusOnce() async throws {
    let f = try Fixture()
    let message = Self.sms("status")
    try await f.receive([message])
    try await f.receive([message])  // the modem failed to delete it and it was read again
    #expect(try await f.replies().map(\.text) == ["all good"])
    #expect(try await f.replies().first?.to == Self.admin)
    #expect(f.ran.names == ["STATUS"])
  }

  @Test("a national-format allow entry matches the international sender")
  func nationalFormat() async throws {
    let f = try Fixture()
    try await f.receive([Self.sms("STATUS", from: Self.reader)])
    #expect(try await f.replies().map(\.to) == [Self.reader])
  }

  @Test("unknown senders and sender names are never answered")
  func unknown() async throws {
    let f = try Fixture()
    try await f.receive([Self.sms("STATUS", from: "+33700000000"), Self.sms("STATUS", from: "Orange", location: 2)])
    #expect(try await f.replies().isEmpty)
    #expect(try await f.states() == ["ignored:unknown sender", "ignored:unknown sender"])
    #expect(f.ran.names.isEmpty)
  }

  @Test("a command in three parts delivered out of order runs once, complete")
  func multipart() async throws {
    let f = try Fixture()
    try await f.receive([Self.sms("TAT", part: (7, 2, 3), location: 1)])
    #expect(try await f.states().isEmpty)  // waits for the other parts
    try await f.receive([Self.sms("US", part: (7, 3, 3), location: 2), Self.sms("S", part: (7, 1, 3), location: 3)])
    #expect(try await f.states() == ["done:ok"])
    #expect(f.ran.names == ["STATUS"])
  }

  @Test("operate commands need a valid TOTP code; a code works once")
  func totp() async throws {
    let f = try Fixture()
    try await f.receive([Self.sms("RESTART sms")])
    #expect(try await f.replies().last?.text == "RESTART needs your code as the last word, e.g. RESTART SMS 123456.")
    let code = try f.code()
    let codeStep = Int64(Date().timeIntervalSince1970) / 30
    try await f.receive([Self.sms("RESTART sms \(code)", location: 2)])
    #expect(f.ran.names == ["RESTART sms"])
    #expect(try await f.replies().last?.text == "Restarting.")
    // The same code again (a new SMS, a second later) is a replay.
    let later = try SMSCTimestamp(
      year: Self.now.year, month: Self.now.month, day: Self.now.day, hour: Self.now.hour, minute: Self.now.minute,
      second: (Self.now.second + 1) % 60, zoneQuarterHours: 0)
    let beforeReplay = Int64(Date().timeIntervalSince1970) / 30
    try await f.receive([Self.sms("RESTART sms \(code)", at: later, location: 3)])
    #expect(f.ran.names == ["RESTART sms"], "a code never runs a command twice")
    // TOTP codes are good for one 30 s step either side. On a slow machine
    // the replay may come after the code's window closed: then it is refused
    // as a wrong code, which is right too; inside the window it is a replay.
    let afterReplay = Int64(Date().timeIntervalSince1970) / 30
    if afterReplay <= codeStep + 1 {
      #expect(try await f.replies().last?.text == "That code was already used; wait for the next one.")
    } else if beforeReplay > codeStep + 1 {
      #expect(try await f.states().last == "refused:wrong code")
    } else {
      // The window closed while the replay was checked: either answer is right.
      let state = try await f.states().last
      #expect(state == "refused:code replayed" || state == "refused:wrong code", "\(state ?? "nil")")
    }
    // The journal never shows the code.
    let texts = try await f.store.database.read { db in
      try String.fetchAll(db, sql: "SELECT redacted FROM sms_messages")
    }
    #expect(!texts.contains { $0.contains(code) })
  }

  @Test("three wrong codes lock the sender out, who then gets no answer at all")
  func lockout() async throws {
    let f = try Fixture()
    for attempt in 1...3 {
      try await f.receive([Self.sms("RESTART sms 00000\(attempt)", location: attempt)])
    }
    let replies = try await f.replies().map(\.text)
    #expect(replies == ["Wrong code (2 attempts left).", "Wrong code (1 attempt left)."])
    try await f.receive([Self.sms("RESTART sms \(try f.code())", location: 9)])
    #expect(f.ran.names.isEmpty)
    #expect(try await f.replies().count == 2)
    #expect(try await f.states().last == "refused:locked out")
  }

  @Test("a command older than max_command_age is refused, unless the clock is not synchronised")
  func tooOld() async throws {
    let f = try Fixture()
    let old = try SMSCTimestamp(year: 2025, month: 1, day: 1, hour: 10, minute: 0, second: 0, zoneQuarterHours: 4)
    try await f.receive([Self.sms("STATUS", at: old)])
    #expect(f.ran.names.isEmpty)
    #expect(try await f.replies().first?.text.hasPrefix("Ignored \"STATUS\": sent ") == true)

    let unsynchronised = try Fixture()
    unsynchronised.clockSynchronised = false
    try await unsynchronised.receive([Self.sms("STATUS", at: old)])
    #expect(unsynchronised.ran.names == ["STATUS"])
  }

  @Test("a long reply is capped to max_reply_parts with a marker")
  func capped() async throws {
    let f = try Fixture()
    f.section.maxReplyParts = 2
    try await f.receive([Self.sms("LONG")])
    let reply = try #require(try await f.replies().first)
    #expect(reply.text.hasSuffix("...(truncated)"))
    #expect(reply.multipart)
    #expect(SMSPlan.make(text: reply.text).parts.count == 2)
  }

  @Test("the daily budget stops replies, and says so in the journal")
  func budget() async throws {
    let f = try Fixture()
    f.section.dailyBudget = 1
    try await f.receive([Self.sms("STATUS", location: 1)])
    let second = try SMSCTimestamp(
      year: Self.now.year, month: Self.now.month, day: Self.now.day, hour: Self.now.hour, minute: Self.now.minute,
      second: (Self.now.second + 2) % 60, zoneQuarterHours: 0)
    try await f.receive([Self.sms("STATUS", at: second, location: 2)])
    #expect(try await f.replies().count == 1)
    #expect(try await f.states().last == "done:ok; reply not sent: daily budget reached")
  }

  @Test("a command that was running when the process died is never run again")
  func runOnce() async throws {
    let f = try Fixture()
    let sms = Self.sms("STATUS")
    try await f.modemStore.storeIncoming([sms], simID: "sim")
    _ = try await f.smsStore.assemble(now: Int(Date().timeIntervalSince1970), timeout: .seconds(600))
    let message = try #require(try await f.smsStore.nextNew())
    try await f.smsStore.markRunning(message.id, redacted: "STATUS")
    // ...the process dies here. At the next start:
    let interrupted = try await f.smsStore.markInterrupted()
    #expect(interrupted.map(\.id) == [message.id])
    #expect(try await f.smsStore.nextNew() == nil)
    try await f.receive([sms])  // the same SMS, read again from the modem
    #expect(f.ran.names.isEmpty)
    #expect(try await f.states() == ["interrupted:interrupted by a restart"])
  }
}

@Suite("SMS journal keys across the SMSDedupKey upgrade")
struct SMSDedupMigrationTests {
  /// The key SMSStore made before it used SMSDedupKey.
  static func oldKey(sender: String, timestamp: String?, text: String) -> String {
    SHA1.hash(Array([sender, timestamp ?? "-", text].joined(separator: "\u{1F}").utf8)).map { byte in
      (byte < 16 ? "0" : "") + String(byte, radix: 16)
    }.joined()
  }

  @Test("a message journalled under the old key is not run again when read after the upgrade")
  func oldRowsKeepWorking() async throws {
    let directory = NSTemporaryDirectory() + "vigie-sms-migration-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let message = SMSGatewayTests.sms("REBOOT")
    let stamp = try #require(message.timestamp).description
    do {
      // The database as the previous version left it: sms.v1 only, one row done.
      let old = try StateStore.open(
        at: directory, migrations: ModemStore.migrations + [SMSStore.migrations[0]], logger: quietLogger)
      try await old.database.write { db in
        try db.execute(
          sql: """
            INSERT INTO sms_messages (dedup_key, sender, text, smsc_time, received_at, state, outcome, updated_at)
            VALUES (?, ?, 'REBOOT', ?, 1, 'done', 'ok', 1)
            """,
          arguments: [
            Self.oldKey(sender: SMSGatewayTests.admin, timestamp: stamp, text: "REBOOT"), SMSGatewayTests.admin, stamp,
          ])
      }
    }
    let store = try StateStore.open(
      at: directory, migrations: ModemStore.migrations + SMSStore.migrations, logger: quietLogger)
    let key = try await store.database.read { db in try String.fetchOne(db, sql: "SELECT dedup_key FROM sms_messages") }
    let expected = SMSDedupKey(
      sender: .international(SMSGatewayTests.admin), timestamp: message.timestamp, text: "REBOOT")
    #expect(key == expected.value)
    // The same SMS read again (its delete had failed): no second row, nothing to run.
    let outbox = Outbox(store: store)
    try await ModemStore(store: store, outbox: outbox).storeIncoming([message], simID: "sim")
    let smsStore = SMSStore(store: store, outbox: outbox)
    _ = try await smsStore.assemble(now: Int(Date().timeIntervalSince1970), timeout: .seconds(60))
    #expect(try await smsStore.nextNew() == nil)
    #expect(try await smsStore.recent().count == 1)
  }
}
