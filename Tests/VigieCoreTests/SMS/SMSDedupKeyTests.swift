import Testing
import VigieCore

@Suite("SMS deduplication key")
struct SMSDedupKeyTests {
  let alice = PhoneNumber.international("+33612345678")
  let stamp = try! SMSCTimestamp(text: "24/05/17,10:32:05+08")

  @Test("known values: the key must never change between versions")
  func golden() throws {
    // Computed independently: SHA-1 over length-prefixed (8 bytes, big
    // endian) UTF-8 fields "vigie-sms-v1", sender key, timestamp, text.
    #expect(
      SMSDedupKey(sender: alice, timestamp: stamp, text: "REBOOT 492039").value
        == "27ed214412983ba96906afc6071eaa90f8d14949")
    let west = try SMSCTimestamp(text: "24/05/17,10:32:05-20")
    #expect(
      SMSDedupKey(sender: .alphanumeric("Orange"), timestamp: west, text: "Votre facture").value
        == "8526b0e65c74c8f078bc26ff1e7e9956c05ce83f")
  }

  @Test("no timestamp, and senders only the modem understands, still have stable keys")
  func modemSenders() throws {
    #expect(
      SMSDedupKey(modemSender: "+33612345678", timestamp: stamp, text: "STATUS")
        == SMSDedupKey(sender: alice, timestamp: stamp, text: "STATUS"))
    #expect(
      SMSDedupKey(modemSender: "Orange", timestamp: nil, text: "x")
        == SMSDedupKey(sender: .alphanumeric("Orange"), timestamp: nil, text: "x"))
    let raw = SMSDedupKey(modemSender: "06 12 34 56 78", timestamp: nil, text: "x")
    #expect(raw == SMSDedupKey(modemSender: "06 12 34 56 78", timestamp: nil, text: "x"))
    #expect(raw != SMSDedupKey(modemSender: "06 12 34 56 79", timestamp: nil, text: "x"))
    #expect(
      SMSDedupKey(sender: alice, timestamp: nil, text: "x") != SMSDedupKey(sender: alice, timestamp: stamp, text: "x"))
  }

  @Test("the stored form of a timestamp reads back to the same timestamp")
  func storedTimestamp() throws {
    for text in ["24/05/17,10:32:05+08", "24/12/31,23:59:59-20", "25/01/01,00:00:00+00", "24/02/29,12:00:00+23"] {
      let t = try SMSCTimestamp(text: text)
      #expect(try SMSCTimestamp(stored: t.description) == t)
    }
    for bad in [
      "", "2024-05-17 10:32:05", "2024-05-17 10:32:05 +02:10", "2024-13-17 10:32:05 +02:00",
      "2024-05-17T10:32:05 +02:00", "2024-05-17 10:32:05 *02:00",
    ] {
      #expect(throws: SMSCTimestampError.self) { try SMSCTimestamp(stored: bad) }
    }
  }

  @Test("the sender is normalised first")
  func normalised() throws {
    let france = PhoneRegion(countryCode: "33")!
    let a = try PhoneNumber.parse("06 12 34 56 78", region: france).get()
    let b = try PhoneNumber.parse(modemNumber: "33612345678", typeOfAddress: 145).get()
    #expect(
      SMSDedupKey(sender: a, timestamp: stamp, text: "STATUS")
        == SMSDedupKey(sender: b, timestamp: stamp, text: "STATUS"))
  }

  @Test("any difference makes another key")
  func differences() throws {
    let base = SMSDedupKey(sender: alice, timestamp: stamp, text: "REBOOT 492039")
    let others = [
      SMSDedupKey(sender: .international("+33612345679"), timestamp: stamp, text: "REBOOT 492039"),
      SMSDedupKey(sender: .alphanumeric("+33612345678"), timestamp: stamp, text: "REBOOT 492039"),
      SMSDedupKey(
        sender: alice, timestamp: try SMSCTimestamp(text: "24/05/17,10:32:06+08"),
        text: "REBOOT 492039"),
      // Same instant, another zone: as given, so another key.
      SMSDedupKey(
        sender: alice, timestamp: try SMSCTimestamp(text: "24/05/17,09:32:05+04"),
        text: "REBOOT 492039"),
      SMSDedupKey(sender: alice, timestamp: stamp, text: "REBOOT 492038"),
      SMSDedupKey(sender: alice, timestamp: stamp, text: "REBOOT 492039 "),
      SMSDedupKey(sender: alice, timestamp: stamp, text: ""),
    ]
    #expect(Set(others.map(\.value)).count == others.count)
    #expect(!others.contains(base))
    // Fields are framed: moving bytes from one field to the next changes the key.
    #expect(
      SMSDedupKey(sender: .alphanumeric("AB"), timestamp: stamp, text: "C")
        != SMSDedupKey(sender: .alphanumeric("A"), timestamp: stamp, text: "BC"))
  }

  @Test("the key is 40 hex digits and reads back")
  func form() {
    let key = SMSDedupKey(sender: alice, timestamp: stamp, text: "é😀\u{0}")
    #expect(key.value.utf8.count == 40)
    #expect(key.value.allSatisfy { $0.isHexDigit && !$0.isUppercase })
    #expect(SMSDedupKey(value: key.value) == key)
    #expect(key.description == key.value)
  }
}
