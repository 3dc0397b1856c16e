import Testing
import VigieCore

@Suite("SMS reassembly")
struct SMSReassemblyTests {
  func part(
    _ id: Int64, _ text: String, from sender: String = "+33612345678", ref: Int? = nil, _ index: Int? = nil,
    of total: Int? = nil, at receivedAt: Int = 1000
  ) -> ReceivedPart {
    ReceivedPart(
      id: id, sender: sender, text: text, timestamp: "2026-11-25T10:00:00+01:00", unixTime: 1_795_000_000,
      reference: ref, part: index, total: total, receivedAt: receivedAt)
  }

  @Test("a single-part message passes through")
  func single() {
    let messages = SMSReassembly.assemble([part(1, "STATUS")], now: 1000, timeout: .seconds(600))
    #expect(messages.map(\.text) == ["STATUS"])
    #expect(messages[0].partIDs == [1])
    #expect(messages[0].missingParts.isEmpty)
  }

  @Test("parts arriving out of order are joined in order")
  func outOfOrder() {
    let parts = [part(7, "c", ref: 42, 3, of: 3), part(5, "a", ref: 42, 1, of: 3), part(6, "b", ref: 42, 2, of: 3)]
    let messages = SMSReassembly.assemble(parts, now: 1000, timeout: .seconds(600))
    #expect(messages.count == 1)
    #expect(messages[0].text == "abc")
    #expect(messages[0].partIDs == [5, 6, 7])
  }

  @Test("an incomplete message waits, then is delivered with a gap marker after the timeout")
  func timeout() {
    let parts = [part(1, "Hello ", ref: 9, 1, of: 3, at: 1000), part(2, "!", ref: 9, 3, of: 3, at: 1010)]
    #expect(SMSReassembly.assemble(parts, now: 1500, timeout: .seconds(600)).isEmpty)
    let late = SMSReassembly.assemble(parts, now: 1600, timeout: .seconds(600))
    #expect(late.count == 1)
    #expect(late[0].text == "Hello [\u{2026}]!")
    #expect(late[0].missingParts == [2])
  }

  @Test("the same reference from two senders are two messages; a duplicate part is consumed once")
  func sendersAndDuplicates() {
    let parts = [
      part(1, "a1", from: "+331", ref: 1, 1, of: 2), part(2, "b1", from: "+332", ref: 1, 1, of: 2),
      part(3, "a2", from: "+331", ref: 1, 2, of: 2), part(4, "a2", from: "+331", ref: 1, 2, of: 2),
    ]
    let messages = SMSReassembly.assemble(parts, now: 1000, timeout: .seconds(600))
    #expect(messages.map(\.text) == ["a1a2"])
    #expect(messages[0].partIDs == [1, 3, 4])
  }

  @Test("nonsense concatenation headers are treated as single parts", arguments: [(0, 3), (4, 3), (1, 1), (1, 300)])
  func hostileHeaders(index: Int, total: Int) {
    let messages = SMSReassembly.assemble([part(1, "x", ref: 1, index, of: total)], now: 1000, timeout: .seconds(600))
    #expect(messages.map(\.text) == ["x"])
  }
}
