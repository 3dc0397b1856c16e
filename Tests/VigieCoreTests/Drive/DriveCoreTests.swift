import Testing
import VigieCore

private func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite("drive: JSON")
struct DriveJSONTests {
  @Test("parses nested values and keeps numbers' text")
  func nested() throws {
    let v = try JSONValue.parse(
      #" {"a": [1, -2.5e3, true, null, "x\u00e9\ud83d\ude00\n"], "b": {"c": "99999999999999999999"}} "#)
    #expect(v["a"]?.array?.count == 5)
    #expect(v["a"]?.array?[1] == .number("-2.5e3"))
    #expect(v["a"]?.array?[4].string == "xé😀\n")
    #expect(v["b"]?["c"]?.int64 == nil)  // does not fit Int64: refused, not rounded
    #expect(try JSONValue.parse("\"9223372036854775807\"").int64 == Int64.max)
    #expect(try JSONValue.parse("1.0").int64 == nil)
  }

  @Test(
    "rejects garbage with its offset",
    arguments: [
      "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "1e", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "tru", "nul",
      "{\"a\" 1}", "[1 2]", "\"a\nb\"", "{} x", "{'a':1}", "NaN", "\"\\u12G4\"",
    ])
  func garbage(text: String) {
    #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
  }

  @Test("refuses deep nesting and invalid UTF-8 and huge numbers")
  func hostile() {
    #expect(throws: JSONParseError.self) { try JSONValue.parse(String(repeating: "[", count: 10_000)) }
    #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]) }
    #expect(throws: JSONParseError.self) { try JSONValue.parse(String(repeating: "9", count: 1000)) }
    let err = #expect(throws: JSONParseError.self) { try JSONValue.parse("[1, 2, x]") }
    #expect(err?.offset == 7)
  }

  @Test("serialises with escapes and reads back")
  func roundTrip() throws {
    let v = JSONValue.object([
      ("name", .string("a\"b\\c\u{1}\n")), ("n", .int(42)), ("l", .array([.bool(false), .null])),
    ])
    #expect(try JSONValue.parse(v.serialized) == v)
    #expect(v.serialized == #"{"name":"a\"b\\c\u0001\n","n":42,"l":[false,null]}"#)
  }
}

@Suite("drive: errors")
struct DriveErrorTests {
  let rate =
    #"{"error":{"code":403,"message":"User Rate Limit Exceeded","errors":[{"message":"User Rate Limit Exceeded","domain":"usageLimits","reason":"userRateLimitExceeded"}]}}"#

  @Test("classifies Google's error JSON by reason")
  func classify() {
    #expect(DriveError.classify(status: 403, body: utf8(rate)).kind == .rateLimited)
    #expect(DriveError.classify(status: 403, body: utf8(rate)).reason == "userRateLimitExceeded")
    let daily = rate.replacingAll("userRateLimitExceeded", with: "dailyLimitExceeded")
    #expect(DriveError.classify(status: 403, body: utf8(daily)).kind == .dailyLimit)
    let denied = rate.replacingAll("userRateLimitExceeded", with: "insufficientFilePermissions")
    #expect(DriveError.classify(status: 403, body: utf8(denied)).kind == .rejected)
    #expect(DriveError.classify(status: 429, body: []).kind == .rateLimited)
    #expect(DriveError.classify(status: 401, body: utf8("{}")).kind == .unauthorized)
    #expect(DriveError.classify(status: 502, body: utf8("<html>bad gateway</html>")).kind == .server)
    #expect(DriveError.classify(status: 404, body: utf8("{\"error\":")).kind == .notFound)
    #expect(
      DriveError.classify(status: 400, body: utf8(#"{"error":"invalid_grant","error_description":"x"}"#)).reason
        == "invalid_grant")
    let long = DriveError.classify(
      status: 500, body: utf8(#"{"error":{"message":""# + String(repeating: "m", count: 10_000) + #""}}"#))
    #expect(long.message.count == 300)
  }

  @Test("retry decisions: backoff, one refresh, daily pause, give up")
  func decisions() {
    let policy = DriveRetryPolicy(backoff: Backoff(base: .seconds(1), cap: .seconds(64), jitter: 0), maxAttempts: 3)
    var g = SystemRandomNumberGenerator()
    let server = DriveError(kind: .server, status: 503, reason: "backendError", message: "")
    #expect(policy.decide(server, attempt: 1, refreshedAlready: false, using: &g) == .retry(after: .seconds(1)))
    #expect(policy.decide(server, attempt: 2, refreshedAlready: false, using: &g) == .retry(after: .seconds(2)))
    #expect(policy.decide(server, attempt: 3, refreshedAlready: false, using: &g) == .fail)
    let auth = DriveError(kind: .unauthorized, status: 401, reason: "authError", message: "")
    #expect(policy.decide(auth, attempt: 1, refreshedAlready: false, using: &g) == .refreshToken)
    #expect(policy.decide(auth, attempt: 2, refreshedAlready: true, using: &g) == .fail)
    let daily = DriveError(kind: .dailyLimit, status: 403, reason: "dailyLimitExceeded", message: "")
    #expect(policy.decide(daily, attempt: 1, refreshedAlready: false, using: &g) == .pauseUntilQuotaReset)
    #expect(
      policy.decide(.transport("cut"), attempt: 1, refreshedAlready: false, using: &g) == .retry(after: .seconds(1)))
    #expect(!DriveError(kind: .rejected, status: 400, reason: "", message: "").isRetryable)
  }
}

@Suite("drive: OAuth")
struct OAuthTests {
  let device =
    #"{"device_code":"AH-1","user_code":"GQVQ-JKEC","verification_url":"https://www.google.com/device","expires_in":1800,"interval":5}"#

  @Test("device answer parsing, Google and RFC spellings, hostile values")
  func deviceAnswer() throws {
    let d = try DeviceAuthorization.parse(utf8(device))
    #expect(d.userCode == "GQVQ-JKEC" && d.interval == 5 && d.expiresIn == 1800)
    let rfc = device.replacingAll("verification_url", with: "verification_uri")
    #expect(try DeviceAuthorization.parse(utf8(rfc)).verificationURL == "https://www.google.com/device")
    for bad in [
      device.replacingAll("1800", with: "99999999999999999999999"),
      device.replacingAll("\"interval\":5", with: "\"interval\":0"),
      device.replacingAll("https://www.google.com/device", with: "javascript:alert(1)"), "{}", "[]", "garbage",
    ] {
      #expect(throws: OAuthError.self) { try DeviceAuthorization.parse(utf8(bad)) }
    }
  }

  @Test("polling: pending waits, slow_down adds 5 s for good, expiry, denial, success")
  func polling() throws {
    let d = try DeviceAuthorization.parse(utf8(device))
    var p = DeviceFlowPoller(d, now: 0)
    #expect(p.first == .wait(seconds: 5))
    #expect(p.next(after: .failure(.authorizationPending), now: 5) == .wait(seconds: 5))
    #expect(p.next(after: .failure(.slowDown), now: 10) == .wait(seconds: 10))
    #expect(p.next(after: .failure(.authorizationPending), now: 20) == .wait(seconds: 10))
    #expect(p.next(after: .failure(.slowDown), now: 30) == .wait(seconds: 15))
    #expect(p.next(after: .failure(.authorizationPending), now: 1790) == .failed(.expiredToken))
    var q = DeviceFlowPoller(d, now: 0)
    #expect(q.next(after: .failure(.accessDenied), now: 5) == .failed(.accessDenied))
    #expect(q.next(after: .failure(.expiredToken), now: 5) == .failed(.expiredToken))
    let token = OAuthTokenResponse(accessToken: "a", expiresIn: 3599, refreshToken: "r", scope: driveFileScope)
    #expect(q.next(after: .success(token), now: 6) == .done(token))
  }

  @Test("OAuth errors are read from the error field, not the status")
  func errors() {
    #expect(OAuthError.parse(status: 428, body: utf8(#"{"error":"authorization_pending"}"#)) == .authorizationPending)
    #expect(OAuthError.parse(status: 403, body: utf8(#"{"error":"slow_down"}"#)) == .slowDown)
    #expect(
      OAuthError.parse(
        status: 400, body: utf8(#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#))
        == .invalidGrant("Token has been expired or revoked."))
    if case .malformed = OAuthError.parse(status: 500, body: utf8("<html>")) {} else { Issue.record("not malformed") }
    #expect(OAuthError.invalidGrant("x").description.contains("vigie drive auth"))
  }

  @Test("token answers and refresh decisions")
  func tokens() throws {
    let r = try OAuthTokenResponse.parse(
      utf8(#"{"access_token":"ya29.a","expires_in":3599,"refresh_token":"1//r","scope":"s","token_type":"Bearer"}"#))
    var t = try OAuthTokens.from(r, now: 1000)
    #expect(
      t.expiresAt == 4599 && !t.needsRefresh(now: 1000) && t.needsRefresh(now: 4480) && !t.needsRefresh(now: 4478))
    let refreshed = try OAuthTokenResponse.parse(
      utf8(#"{"access_token":"ya29.b","expires_in":3599,"token_type":"Bearer"}"#))
    t = t.updated(with: refreshed, now: 5000)
    #expect(t.refreshToken == "1//r" && t.accessToken == "ya29.b" && t.scope == "s")
    #expect(
      try OAuthTokens.parseFile(Array(t.fileText.utf8))
        == OAuthTokens(accessToken: "ya29.b", expiresAt: 8599, refreshToken: "1//r", scope: "s"))
    for bad in [
      #"{"access_token":"a","expires_in":-1}"#, #"{"access_token":"a","expires_in":1e99}"#, #"{"expires_in":5}"#,
      #"{"access_token":"a","expires_in":5,"token_type":"MAC"}"#, "",
    ] {
      #expect(throws: OAuthError.self) { try OAuthTokenResponse.parse(utf8(bad)) }
    }
    #expect(throws: OAuthError.self) { try OAuthTokens.parseFile(utf8(#"{"access_token":"a"}"#)) }
    #expect(throws: OAuthError.self) { try OAuthTokens.from(refreshed, now: 0) }
  }

  @Test("form encoding")
  func form() {
    #expect(formEncode([("scope", "https://x/y z"), ("a", "é&=")]) == "scope=https%3A%2F%2Fx%2Fy%20z&a=%C3%A9%26%3D")
  }
}

@Suite("drive: resumable upload")
struct ResumableUploadTests {
  let k = ResumableUpload.granularity

  @Test("chunks are 256 KiB multiples and follow the 308 Range header")
  func chunks() throws {
    var u = ResumableUpload(size: 3 * k + 10, chunkSize: k + 5)
    #expect(u.chunkSize == k && u.phase == .needsSession)
    u.sessionStarted(uri: "http://x/s")
    #expect(u.chunkContentRange == "bytes 0-\(k - 1)/\(3 * k + 10)")
    try u.received(status: 308, rangeHeader: "bytes=0-\(k - 1)")
    #expect(u.nextChunk == (k, k))
    // The server kept less than sent (a cut chunk): resend from its word.
    try u.received(status: 308, rangeHeader: "bytes=0-\(k - 1)")
    #expect(u.nextChunk.offset == k)
    try u.received(status: 308, rangeHeader: "bytes=0-\(3 * k - 1)")
    #expect(u.nextChunk == (3 * k, 10))
    #expect(u.chunkContentRange == "bytes \(3 * k)-\(3 * k + 9)/\(3 * k + 10)")
    try u.received(status: 200, rangeHeader: nil)
    #expect(u.phase == .finished)
  }

  @Test("ambiguous failure → status query; no Range → 0; 404 → new session; persisted session resumes by query")
  func recovery() throws {
    var u = ResumableUpload(size: 2 * k, chunkSize: k)
    u.sessionStarted(uri: "http://x/s")
    u.ambiguousFailure()
    #expect(u.phase == .needsStatusQuery && u.statusQueryContentRange == "bytes */\(2 * k)")
    try u.received(status: 308, rangeHeader: nil)
    #expect(u.phase == .sending && u.confirmed == 0)
    try u.received(status: 308, rangeHeader: "bytes=0-\(k - 1)")
    try u.received(status: 404, rangeHeader: nil)
    #expect(u.phase == .needsSession && u.sessionURI == nil && u.confirmed == 0)
    let resumed = ResumableUpload(size: 2 * k, chunkSize: k, sessionURI: "http://x/s", confirmed: k)
    #expect(resumed.phase == .needsStatusQuery && resumed.confirmed == k)
    let empty = ResumableUpload(size: 0, chunkSize: k)
    #expect(empty.nextChunk == (0, 0) && empty.chunkContentRange == "bytes */0")
  }

  @Test(
    "bad Range headers are refused",
    arguments: [
      "bytes=5-10", "bytes=0-", "bytes=0-abc", "bytes 0-10", "bytes=0-10,20-30", "bytes=0--5", "bytes=0-+5",
      "bytes=0-99999999999999999999999", "", "bytes=0-9223372036854775807",
    ])
  func badRange(header: String) {
    var u = ResumableUpload(size: 10 * k, chunkSize: k)
    u.sessionStarted(uri: "u")
    #expect(throws: ResumableUpload.ProtocolError.self) { try u.received(status: 308, rangeHeader: header) }
  }

  @Test("a Range beyond the size or going backwards is refused; odd statuses too")
  func inconsistent() throws {
    var u = ResumableUpload(size: k, chunkSize: k)
    u.sessionStarted(uri: "u")
    #expect(throws: ResumableUpload.ProtocolError.rangeBeyondSize(stored: k + 1, size: k)) {
      try u.received(status: 308, rangeHeader: "bytes=0-\(k)")
    }
    try u.received(status: 308, rangeHeader: "bytes=0-99")
    #expect(throws: ResumableUpload.ProtocolError.rangeWentBackwards(stored: 50, had: 100)) {
      try u.received(status: 308, rangeHeader: "bytes=0-49")
    }
    #expect(throws: ResumableUpload.ProtocolError.unexpectedStatus(302)) {
      try u.received(status: 302, rangeHeader: nil)
    }
  }
}

@Suite("drive: policy, names, queries, md5, files")
struct DrivePolicyTests {
  @Test("window and budgets")
  func policy() {
    let p = UploadPolicy(window: TimeWindow(text: "22:00-06:00"), dailyBudget: 1000, monthlyBudget: 5000)
    #expect(p.verdict(minuteOfDay: 12 * 60, sentToday: 0, sentThisMonth: 0) == .outsideWindow)
    #expect(p.verdict(minuteOfDay: 23 * 60, sentToday: 400, sentThisMonth: 0) == .allowed(maxBytes: 600))
    #expect(p.verdict(minuteOfDay: 60, sentToday: 400, sentThisMonth: 4900) == .allowed(maxBytes: 100))
    #expect(p.verdict(minuteOfDay: 60, sentToday: 1000, sentThisMonth: 0) == .dailyBudgetSpent)
    #expect(p.verdict(minuteOfDay: 60, sentToday: 0, sentThisMonth: 5000) == .monthlyBudgetSpent)
    let open = UploadPolicy(window: nil, dailyBudget: 0, monthlyBudget: 0)
    #expect(open.verdict(minuteOfDay: 0, sentToday: .max, sentThisMonth: .max) == .allowed(maxBytes: .max))
    let v = p.verdict(minuteOfDay: 60, sentToday: 0, sentThisMonth: 0)
    #expect(p.fits(size: 1000, verdict: v, sentToday: 0, sentThisMonth: 0))
    #expect(p.fits(size: 3000, verdict: v, sentToday: 0, sentThisMonth: 0))  // bigger than a day: allowed on a fresh day
    #expect(
      !p.fits(
        size: 3000, verdict: p.verdict(minuteOfDay: 60, sentToday: 1, sentThisMonth: 0), sentToday: 1, sentThisMonth: 0)
    )
    #expect(!p.fits(size: 6000, verdict: v, sentToday: 0, sentThisMonth: 0))  // bigger than the month left
  }

  @Test("conflict names")
  func conflicts() {
    #expect(
      ConflictName.make("report.txt", year: 2026, month: 11, day: 25, hour: 14, minute: 2)
        == "report (conflict 2026-11-25 14.02).txt")
    #expect(
      ConflictName.make("Makefile", year: 2026, month: 1, day: 2, hour: 3, minute: 4)
        == "Makefile (conflict 2026-01-02 03.04)")
    #expect(
      ConflictName.make(".bashrc", year: 2026, month: 1, day: 2, hour: 3, minute: 4)
        == ".bashrc (conflict 2026-01-02 03.04)")
    #expect(
      ConflictName.make("a.tar.gz", year: 2026, month: 1, day: 2, hour: 3, minute: 4, n: 2)
        == "a.tar (conflict 2026-01-02 03.04 2).gz")
    #expect(
      ConflictName.make("notes.", year: 2026, month: 1, day: 2, hour: 3, minute: 4)
        == "notes. (conflict 2026-01-02 03.04)")
    #expect(
      ConflictName.make("v1.0 final", year: 2026, month: 1, day: 2, hour: 3, minute: 4)
        == "v1.0 final (conflict 2026-01-02 03.04)")
  }

  @Test("q literals escape quotes and backslashes")
  func queries() {
    #expect(DriveQuery.literal(#"it's a\b"#) == #"'it\'s a\\b'"#)
    #expect(DriveQuery.named("x", in: "F") == "name = 'x' and 'F' in parents and trashed = false")
  }

  @Test("MD5 test vectors (RFC 1321) and streaming")
  func md5() {
    #expect(MD5.hex([]) == "d41d8cd98f00b204e9800998ecf8427e")
    #expect(MD5.hex(Array("abc".utf8)) == "900150983cd24fb0d6963f7d28e17f72")
    #expect(
      MD5.hex(Array("12345678901234567890123456789012345678901234567890123456789012345678901234567890".utf8))
        == "57edf4a22be3c955ac49da2e2107b67a")
    var s = MD5()
    for _ in 0..<1000 { s.update(Array("abcdefg".utf8)) }
    #expect(s.hexDigest() == MD5.hex(Array(String(repeating: "abcdefg", count: 1000).utf8)))
  }

  @Test("file resources: strings for numbers, hostile values")
  func files() throws {
    let f = try DriveFile.parse(
      utf8(
        #"{"id":"1abc","name":"a.txt","mimeType":"text/plain","parents":["0AR"],"size":"12","md5Checksum":"D41D8CD98F00B204E9800998ECF8427E","version":"3","appProperties":{"vigieUpload":"k"}}"#
      ))
    #expect(
      f.size == 12 && f.version == 3 && f.md5Checksum == "d41d8cd98f00b204e9800998ecf8427e"
        && f.appProperties["vigieUpload"] == "k")
    for bad in [
      #"{"name":"x"}"#, #"{"id":"../etc","name":"x"}"#, #"{"id":"1","size":"-1"}"#,
      #"{"id":"1","size":"99999999999999999999"}"#,
      #"{"id":"1","md5Checksum":"zz"}"#, "[]",
    ] {
      #expect(throws: DriveFile.ParseError.self) { try DriveFile.parse(utf8(bad)) }
    }
    let list = try DriveFile.parseList(
      utf8(#"{"nextPageToken":"t","files":[{"id":"1","name":"a"},{"id":"2","name":"a"}]}"#))
    #expect(list.files.count == 2 && list.nextPageToken == "t")
    #expect(throws: DriveFile.ParseError.self) { try DriveFile.parseList(utf8(#"{"nextPageToken":""}"#)) }
  }
}

extension String {
  fileprivate func replacingAll(_ a: String, with b: String) -> String {
    var out = ""
    var rest = Substring(self)
    while let r = rest.firstRange(of: a) {
      out += rest[..<r.lowerBound]
      out += b
      rest = rest[r.upperBound...]
    }
    return out + rest
  }
}

@Suite("drive: changes feed")
struct DriveChangesTests {
  @Test("pages: changes, removals, tokens; malformed pages refused")
  func pages() throws {
    let page = try DriveChange.parsePage(
      Array(
        #"{"changes":[{"fileId":"1","removed":false,"file":{"id":"1","name":"a"}},{"fileId":"2","removed":true}],"newStartPageToken":"9"}"#
          .utf8))
    #expect(page.changes.count == 2 && page.changes[1].removed && page.changes[0].file?.name == "a")
    #expect(page.nextPageToken == nil && page.newStartPageToken == "9")
    for bad in [
      #"{"changes":[]}"#, #"{"changes":[],"nextPageToken":"1","newStartPageToken":"2"}"#,
      #"{"changes":[{"removed":true}],"newStartPageToken":"2"}"#, #"{"newStartPageToken":"2"}"#,
      #"{"changes":[],"newStartPageToken":""}"#,
    ] {
      #expect(throws: DriveFile.ParseError.self) { try DriveChange.parsePage(Array(bad.utf8)) }
    }
  }
}
