import Foundation
import Testing
import VigieCore

@Suite("SMSC timestamps")
struct SMSCTimestampTests {
  @Test("TP-SCTS octets: swapped BCD, signed zone in quarter hours")
  func pdu() throws {
    // 2024-05-17 10:32:05 +02:00
    let t = try SMSCTimestamp(pdu: [0x42, 0x50, 0x71, 0x01, 0x23, 0x50, 0x80])
    #expect(
      [t.year, t.month, t.day, t.hour, t.minute, t.second] as [Int] == [2024, 5, 17, 10, 32, 5])
    #expect(t.zoneQuarterHours == 8)
    #expect(t.unixTime == 1_715_934_725)
    #expect(t.description == "2024-05-17 10:32:05 +02:00")
    // Same local time at -05:00 (0x0A: sign bit and 2 tens, 0 units).
    let west = try SMSCTimestamp(pdu: [0x42, 0x50, 0x71, 0x01, 0x23, 0x50, 0x0A])
    #expect(west.zoneQuarterHours == -20)
    #expect(west.unixTime == 1_715_959_925)
    #expect(west.description == "2024-05-17 10:32:05 -05:00")
    #expect(west != t)
    // Nepal, +05:45.
    let nepal = try SMSCTimestamp(pdu: [0x42, 0x50, 0x71, 0x01, 0x23, 0x50, 0x32])
    #expect(nepal.description == "2024-05-17 10:32:05 +05:45")
  }

  @Test(
    "bad octets are refused",
    arguments: [
      ([0x42, 0x50, 0x71, 0x01, 0x23, 0x50], SMSCTimestampError.Code.malformed),
      ([0x42, 0x50, 0x71, 0x01, 0x23, 0x50, 0x80, 0x00], .malformed),
      ([], .malformed),
      ([0x42, 0xA0, 0x71, 0x01, 0x23, 0x50, 0x80], .malformed),  // not BCD
      ([0x42, 0x31, 0x71, 0x01, 0x23, 0x50, 0x80], .outOfRange),  // month 13
      ([0x42, 0x40, 0x13, 0x01, 0x23, 0x50, 0x80], .outOfRange),  // 31 April
      ([0x32, 0x20, 0x92, 0x01, 0x23, 0x50, 0x80], .outOfRange),  // 29 Feb 2023
      ([0x42, 0x50, 0x71, 0x42, 0x23, 0x50, 0x80], .outOfRange),  // hour 24
      ([0x42, 0x50, 0x71, 0x01, 0x06, 0x50, 0x80], .outOfRange),  // minute 60
      ([0x42, 0x50, 0x71, 0x01, 0x23, 0x50, 0x75], .outOfRange),  // zone +57
      ([0x42, 0x50, 0x71, 0x01, 0x23, 0x50, 0x9D], .outOfRange),  // zone -59
    ] as [([UInt8], SMSCTimestampError.Code)])
  func badPDU(octets: [UInt8], code: SMSCTimestampError.Code) {
    do {
      _ = try SMSCTimestamp(pdu: octets)
      Issue.record("decoded")
    } catch {
      #expect(error.code == code)
    }
  }

  @Test("29 February of a leap year")
  func leap() throws {
    let t = try SMSCTimestamp(pdu: [0x42, 0x20, 0x92, 0x00, 0x00, 0x00, 0x00])
    #expect(t.unixTime == 1_709_164_800)
  }

  @Test("the modem's text form")
  func text() throws {
    let t = try SMSCTimestamp(text: "24/05/17,10:32:05+08")
    #expect(t.unixTime == 1_715_934_725)
    #expect(try SMSCTimestamp(text: "\"24/05/17,10:32:05+08\"") == t)
    #expect(try SMSCTimestamp(text: "24/05/17,10:32:05-20").zoneQuarterHours == -20)
    for bad in [
      "", "24/5/17,10:32:05+08", "24/05/17 10:32:05+08", "24/05/17,10:32:05",
      "24/05/17,10:32:05*08",
      "2024/05/17,10:32:05+08", "24/05/17,10:32:05+08\u{0}", "٢٤/05/17,10:32:05+08", "\"",
    ] {
      #expect(throws: SMSCTimestampError.self, "\(bad)") { try SMSCTimestamp(text: bad) }
    }
    #expect(throws: SMSCTimestampError.self) { try SMSCTimestamp(text: "24/13/17,10:32:05+08") }
  }

  @Test("Unix time of known dates")
  func unixTimes() throws {
    let epoch = try SMSCTimestamp(
      year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, zoneQuarterHours: 0)
    #expect(epoch.unixTime == 0)
    let y2k = try SMSCTimestamp(
      year: 2000, month: 1, day: 1, hour: 1, minute: 0, second: 0, zoneQuarterHours: 4)
    #expect(y2k.unixTime == 946_684_800)
    let end = try SMSCTimestamp(
      year: 2099, month: 12, day: 31, hour: 23, minute: 59, second: 59, zoneQuarterHours: 0)
    #expect(end.unixTime == 4_102_444_799)
  }

  @Test("Codable validates")
  func codable() throws {
    let t = try SMSCTimestamp(text: "24/05/17,10:32:05+08")
    let data = try JSONEncoder().encode(t)
    #expect(try JSONDecoder().decode(SMSCTimestamp.self, from: data) == t)
    let bad = Data(
      #"{"year":2024,"month":2,"day":30,"hour":0,"minute":0,"second":0,"zoneQuarterHours":0}"#.utf8)
    #expect(throws: SMSCTimestampError.self) {
      try JSONDecoder().decode(SMSCTimestamp.self, from: bad)
    }
  }
}

@Suite("command age")
struct CommandAgeTests {
  let sent: Int64 = 1_715_934_725

  @Test(
    "fresh, too old, from the future",
    arguments: [
      (Int64(0), CommandAge.Verdict.fresh(age: .zero)),
      (3600, .fresh(age: .seconds(3600))),
      (3601, .tooOld(age: .seconds(3601))),
      (86400 * 30, .tooOld(age: .seconds(86400 * 30))),
      (-300, .fresh(age: .seconds(-300))),
      (-301, .fromTheFuture(ahead: .seconds(301))),
      (-86400, .fromTheFuture(ahead: .seconds(86400))),
    ] as [(Int64, CommandAge.Verdict)])
  func verdicts(offset: Int64, verdict: CommandAge.Verdict) {
    #expect(CommandAge().check(sentAt: sent, now: sent + offset) == verdict)
  }

  @Test("the zone of the timestamp counts")
  func zone() throws {
    let paris = try SMSCTimestamp(text: "24/05/17,10:32:05+08")
    let newYork = try SMSCTimestamp(text: "24/05/17,10:32:05-16")
    // 30 minutes after the Paris stamp: the same wall-clock time in New York
    // is 6 hours later, in the future.
    let now = paris.unixTime + 1800
    #expect(CommandAge().check(sent: paris, now: now).isFresh)
    #expect(
      CommandAge().check(sent: newYork, now: now)
        == .fromTheFuture(ahead: .seconds(6 * 3600 - 1800)))
    #expect(CommandAge().check(sent: newYork, now: now + 6 * 3600).isFresh)
  }

  @Test("configured limits, clamped, and extreme clocks")
  func limits() {
    let strict = CommandAge(maxAge: .seconds(60), maxFutureSkew: .seconds(-10))
    #expect(strict.maxFutureSkew == .zero)
    #expect(strict.check(sentAt: 100, now: 160).isFresh)
    #expect(!strict.check(sentAt: 100, now: 161).isFresh)
    #expect(!strict.check(sentAt: 100, now: 99).isFresh)
    #expect(!CommandAge().check(sentAt: Int64.min, now: Int64.max).isFresh)
    #expect(!CommandAge().check(sentAt: Int64.max, now: Int64.min).isFresh)
  }
}
