import Testing
import VigieCore

@Suite struct DropPathTests {
  @Test(arguments: [
    ("/", [String]()),
    ("/a/b.txt", ["a", "b.txt"]),
    ("//a///b/", ["a", "b"]),
    ("/a/./b/.", ["a", "b"]),
    ("/caf%C3%A9/na%20me", ["café", "na me"]),
    ("/%2e%2e.txt", ["...txt"]),  // not ".." once decoded: "..." + ".txt"
    ("/...", ["..."]),
    ("/a%25b", ["a%b"]),
  ])
  func normalises(raw: String, expected: [String]) throws {
    #expect(try DropPath.parse(urlPath: raw).get().components == expected)
  }

  @Test(arguments: [
    ("/../etc/passwd", DropPathError.dotDot),
    ("/a/../../b", .dotDot),
    ("/a/..", .dotDot),
    ("/%2e%2e/etc/passwd", .dotDot),
    ("/%2E%2E/x", .dotDot),
    ("/a/.%2e/b", .dotDot),
    ("/..%2fetc%2fpasswd", .encodedSlash),
    ("/a%2Fb", .encodedSlash),
    ("/a%5c..%5cb", .backslash),
    ("/a\\b", .backslash),
    ("/a%00.txt", .nul),
    ("/a%0d%0aSet-Cookie:x", .controlCharacter),
    ("/a%7f", .controlCharacter),
    ("/%", .badPercentEncoding),
    ("/%4", .badPercentEncoding),
    ("/%zz", .badPercentEncoding),
    ("/%c3%28", .invalidUTF8),
    ("/%ff%fe", .invalidUTF8),
    ("relative/path", .notAbsolute),
    ("", .notAbsolute),
  ])
  func refusesHostilePaths(raw: String, error: DropPathError) {
    #expect(throws: error) { try DropPath.parse(urlPath: raw).get() }
  }

  @Test func refusesOverlongNamesAndDepth() throws {
    #expect(throws: DropPathError.nameTooLong) {
      try DropPath.parse(urlPath: "/" + String(repeating: "a", count: 256)).get()
    }
    #expect(try DropPath.parse(urlPath: "/" + String(repeating: "a", count: 255)).get().components.count == 1)
    let deep = String(repeating: "/d", count: DropPath.maxDepth + 1)
    #expect(throws: DropPathError.tooDeep) { try DropPath.parse(urlPath: deep).get() }
  }

  @Test func relativePathsFromPeople() throws {
    #expect(try DropPath.parse(relative: "docs/a b.pdf").get().components == ["docs", "a b.pdf"])
    #expect(try DropPath.parse(relative: "/docs/./x").get().components == ["docs", "x"])
    #expect(throws: DropPathError.dotDot) { try DropPath.parse(relative: "docs/../../x").get() }
    #expect(throws: DropPathError.nul) { try DropPath.parse(relative: "a\u{0}b").get() }
    // Percent signs are literal here.
    #expect(try DropPath.parse(relative: "100%2F").get().components == ["100%2F"])
  }

  @Test func encodesBackIntoURLs() throws {
    let path = try DropPath.parse(urlPath: "/caf%C3%A9/a%20b%23%3F.txt").get()
    #expect(path.urlPath == "/caf%C3%A9/a%20b%23%3F.txt")
    #expect(path.name == "a b#?.txt")
    #expect(path.parent.components == ["café"])
    #expect(DropPath.root.urlPath == "/")
  }
}

@Suite struct RangeRequestTests {
  @Test(arguments: [
    (nil as String?, 1000 as Int64, RangeRequest.whole),
    ("bytes=0-499", 1000, .partial(0...499)),
    ("bytes=500-", 1000, .partial(500...999)),
    ("bytes=-200", 1000, .partial(800...999)),
    ("bytes=-2000", 1000, .partial(0...999)),
    ("bytes=900-5000", 1000, .partial(900...999)),
    ("BYTES=1-1", 1000, .partial(1...1)),
    ("bytes=1000-", 1000, .unsatisfiable),
    ("bytes=1000-1001", 1000, .unsatisfiable),
    ("bytes=-0", 1000, .unsatisfiable),
    ("bytes=0-", 0, .unsatisfiable),
    ("bytes=-5", 0, .unsatisfiable),
    // Ignored: invalid syntax or other units serve the whole file.
    ("bytes=5-1", 1000, .whole),
    ("bytes=a-b", 1000, .whole),
    ("bytes=--1", 1000, .whole),
    ("items=0-1", 1000, .whole),
    ("bytes=+1-2", 1000, .whole),
    ("bytes=99999999999999999999-", 1000, .whole),
    // Several ranges: served whole (allowed by RFC 9110).
    ("bytes=0-1,5-6", 1000, .whole),
    // One satisfiable among unsatisfiable ones.
    ("bytes=0-1, 5000-6000", 1000, .partial(0...1)),
  ])
  func evaluates(header: String?, size: Int64, expected: RangeRequest) {
    #expect(RangeRequest.evaluate(header, size: size) == expected)
  }

  @Test func tooManyRangesAreIgnored() {
    let header = "bytes=" + (0..<20).map { "\($0 * 10)-\($0 * 10 + 1)" }.joined(separator: ",")
    #expect(RangeRequest.evaluate(header, size: 1000) == .whole)
  }
}

@Suite struct ConditionalRequestTests {
  let validators = FileValidators(inode: 42, size: 1000, modifiedSeconds: 784_111_777, modifiedNanoseconds: 5)

  @Test func etagIsStrongAndDependsOnEverything() {
    #expect(validators.etag == "\"2a-3e8-2ebc98a1.5\"")
    let other = FileValidators(inode: 42, size: 1000, modifiedSeconds: 784_111_777, modifiedNanoseconds: 6)
    #expect(other.etag != validators.etag)
  }

  @Test func ifNoneMatch() {
    #expect(validators.evaluate(ifNoneMatch: validators.etag, ifModifiedSince: nil, ifRange: nil) == .notModified)
    #expect(
      validators.evaluate(ifNoneMatch: "W/" + validators.etag, ifModifiedSince: nil, ifRange: nil) == .notModified)
    #expect(
      validators.evaluate(ifNoneMatch: "\"x\", " + validators.etag, ifModifiedSince: nil, ifRange: nil) == .notModified)
    #expect(validators.evaluate(ifNoneMatch: "*", ifModifiedSince: nil, ifRange: nil) == .notModified)
    #expect(
      validators.evaluate(ifNoneMatch: "\"x\"", ifModifiedSince: nil, ifRange: nil) == .proceed(honourRange: true))
    // If-None-Match wins over If-Modified-Since.
    #expect(
      validators.evaluate(ifNoneMatch: "\"x\"", ifModifiedSince: "Sun, 06 Nov 1994 08:49:37 GMT", ifRange: nil)
        == .proceed(honourRange: true))
  }

  @Test func ifModifiedSince() {
    #expect(
      validators.evaluate(ifNoneMatch: nil, ifModifiedSince: "Sun, 06 Nov 1994 08:49:37 GMT", ifRange: nil)
        == .notModified)
    #expect(
      validators.evaluate(ifNoneMatch: nil, ifModifiedSince: "Sun, 06 Nov 1994 08:49:36 GMT", ifRange: nil)
        == .proceed(honourRange: true))
    #expect(
      validators.evaluate(ifNoneMatch: nil, ifModifiedSince: "garbage", ifRange: nil) == .proceed(honourRange: true))
  }

  @Test func ifRange() {
    #expect(
      validators.evaluate(ifNoneMatch: nil, ifModifiedSince: nil, ifRange: validators.etag)
        == .proceed(honourRange: true))
    #expect(
      validators.evaluate(ifNoneMatch: nil, ifModifiedSince: nil, ifRange: "\"old\"") == .proceed(honourRange: false))
    // Weak tags never match If-Range.
    #expect(
      validators.evaluate(ifNoneMatch: nil, ifModifiedSince: nil, ifRange: "W/" + validators.etag)
        == .proceed(honourRange: false))
    #expect(
      validators.evaluate(ifNoneMatch: nil, ifModifiedSince: nil, ifRange: "Sun, 06 Nov 1994 08:49:37 GMT")
        == .proceed(honourRange: true))
    #expect(
      validators.evaluate(ifNoneMatch: nil, ifModifiedSince: nil, ifRange: "Sun, 06 Nov 1994 08:49:38 GMT")
        == .proceed(honourRange: false))
  }

  @Test func httpDates() {
    #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
    #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
    #expect(HTTPDate.format(951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
    #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
    for seconds: Int64 in [0, 86399, 951_782_400, 1_700_000_000, 4_102_444_800] {
      #expect(HTTPDate.parse(HTTPDate.format(seconds)) == seconds)
    }
    for bad in [
      "", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 UTC",
      "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
    ] {
      #expect(HTTPDate.parse(bad) == nil, "\(bad)")
    }
  }
}

@Suite struct FileNamesTests {
  @Test func contentDispositionHasAnASCIIFallbackAndTheExactName() {
    #expect(
      FileNames.contentDisposition("report.pdf") == "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf")
    #expect(
      FileNames.contentDisposition("été \"x\".txt")
        == "attachment; filename=\"_t_ _x_.txt\"; filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22.txt")
    #expect(FileNames.contentDisposition("a\\b%c;d", inline: true).hasPrefix("inline; filename=\"a_b_c;d\""))
  }

  @Test func htmlAndJSONEscaping() {
    #expect(
      HTML.escape("<img src=x onerror='a(1)'>&\"") == "&lt;img src=x onerror=&#39;a(1)&#39;&gt;&amp;&quot;")
    #expect(FileNames.jsonString("a\"b\\c\n</script>\u{1}") == "\"a\\\"b\\\\c\\n\\u003c/script\\u003e\\u0001\"")
  }

  @Test(arguments: [
    ("photo.jpg", 1, "photo (1).jpg"),
    ("photo.jpg", 12, "photo (12).jpg"),
    ("archive.tar.gz", 2, "archive (2).tar.gz"),
    ("README", 1, "README (1)"),
    (".bashrc", 1, ".bashrc (1)"),
    ("a.b.c", 1, "a.b (1).c"),
  ])
  func clashAlternatives(name: String, n: Int, expected: String) {
    #expect(FileNames.alternative(name, n) == expected)
  }

  @Test func clashAlternativeFitsInAName() {
    let long = String(repeating: "é", count: 125) + ".txt"  // 254 bytes
    let alternative = FileNames.alternative(long, 3)
    #expect(alternative.utf8.count <= 255)
    #expect(alternative.hasSuffix(" (3).txt"))
  }

  @Test func mediaTypes() {
    #expect(FileNames.mediaType("a.PDF") == "application/pdf")
    #expect(FileNames.mediaType("x") == "application/octet-stream")
    // HTML is never served as HTML (no stored XSS through an upload).
    #expect(FileNames.mediaType("evil.html") == "text/plain; charset=utf-8")
    #expect(FileNames.mediaType("evil.svg") == "text/plain; charset=utf-8")
  }
}

@Suite struct MultipartParserTests {
  static let body = Array(
    ("preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntoken\r\n"
      + "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"q\\\".txt\"\r\n"
      + "Content-Type: text/plain\r\n\r\nhello\r\n--XyX-near-miss\r\nworld\r\n"
      + "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"; filename*=UTF-8''dir%2F%C3%A9.bin\r\n\r\n"
      + "\r\n--XyZ--\r\nepilogue").utf8)

  /// Feeds `bytes` in chunks of `size` and merges consecutive body events.
  static func parse(_ bytes: [UInt8], chunk size: Int, boundary: String = "XyZ") throws -> [MultipartParser.Event] {
    var parser = MultipartParser(boundary: boundary)
    var events: [MultipartParser.Event] = []
    var index = 0
    while index < bytes.count {
      let end = min(bytes.count, index + size)
      for event in try parser.feed(bytes[index..<end]) {
        if case .body(let more) = event, case .body(let previous)? = events.last {
          events[events.count - 1] = .body(previous + more)
        } else {
          events.append(event)
        }
      }
      index = end
    }
    try parser.finish()
    return events
  }

  @Test(arguments: [1, 2, 3, 7, 16, 1000])
  func parsesWhateverTheChunking(chunk: Int) throws {
    let events = try Self.parse(Self.body, chunk: chunk)
    #expect(
      events == [
        .begin(.init(name: "csrf", filename: nil, contentType: nil)), .body(Array("token".utf8)), .end,
        .begin(.init(name: "file", filename: "a \"q\".txt", contentType: "text/plain")),
        .body(Array("hello\r\n--XyX-near-miss\r\nworld".utf8)), .end,
        .begin(.init(name: "file", filename: "dir/é.bin", contentType: nil)), .end,
      ])
  }

  @Test func boundaryFromContentType() {
    #expect(MultipartParser.boundary(contentType: "multipart/form-data; boundary=abc") == .success("abc"))
    #expect(MultipartParser.boundary(contentType: "Multipart/Form-Data;boundary=\"a b\"") == .success("a b"))
    #expect(MultipartParser.boundary(contentType: "text/plain") == .failure(.notMultipart))
    #expect(MultipartParser.boundary(contentType: "multipart/form-data") == .failure(.badBoundary))
    #expect(
      MultipartParser.boundary(contentType: "multipart/form-data; boundary=" + String(repeating: "x", count: 71))
        == .failure(.badBoundary))
  }

  @Test func refusesGarbage() {
    #expect(throws: MultipartError.truncated) {
      try Self.parse(Array("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc".utf8), chunk: 4)
    }
    #expect(throws: MultipartError.malformed("no CRLF after a boundary")) {
      try Self.parse(Array("--XyZxx\r\n".utf8), chunk: 100)
    }
    #expect(throws: MultipartError.malformed("a part has no Content-Disposition")) {
      try Self.parse(Array("--XyZ\r\nContent-Type: a\r\n\r\nx\r\n--XyZ--".utf8), chunk: 100)
    }
    #expect(throws: MultipartError.malformed("an unterminated quoted parameter")) {
      try Self.parse(Array("--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--XyZ--".utf8), chunk: 100)
    }
    #expect(throws: MultipartError.malformed("part headers longer than 8 KiB")) {
      try Self.parse(Array(("--XyZ\r\nX: " + String(repeating: "a", count: 9000)).utf8), chunk: 512)
    }
    #expect(throws: MultipartError.malformed("filename* is not UTF-8''...")) {
      try Self.parse(
        Array("--XyZ\r\nContent-Disposition: form-data; name=a; filename*=latin1''x\r\n\r\nx\r\n--XyZ--".utf8),
        chunk: 100)
    }
  }

  @Test func bodyIsStreamedNotHeld() throws {
    var parser = MultipartParser(boundary: "B")
    _ = try parser.feed(Array("--B\r\nContent-Disposition: form-data; name=f; filename=big\r\n\r\n".utf8))
    var total = 0
    let chunk = [UInt8](repeating: 0x41, count: 65536)
    for _ in 0..<64 {
      for event in try parser.feed(chunk) {
        if case .body(let bytes) = event { total += bytes.count }
      }
    }
    // All but the few bytes that could start a delimiter came out.
    #expect(total >= 64 * 65536 - 8)
  }
}

@Suite struct ShareLinkTests {
  @Test func tokensAreRandomAndURLSafe() {
    var generator = SystemRandomNumberGenerator()
    let tokens = (0..<200).map { _ in ShareLink.makeToken(using: &generator) }
    #expect(Set(tokens).count == 200)
    #expect(tokens.allSatisfy(ShareLink.isTokenShaped))
    #expect(!ShareLink.isTokenShaped("short"))
    #expect(!ShareLink.isTokenShaped(String(repeating: "A", count: 26)))
    #expect(!ShareLink.isTokenShaped(String(repeating: "a", count: 25) + "/"))
  }

  @Test func states() throws {
    let path = try DropPath.parse(relative: "a.txt").get()
    var link = ShareLink(token: "t", path: path, createdAt: 100, expiresAt: 200, maxDownloads: 2)
    #expect(link.state(now: 150) == .active)
    #expect(link.state(now: 200) == .expired)
    link.downloads = 2
    #expect(link.state(now: 150) == .exhausted)
    link.revoked = true
    #expect(link.state(now: 150) == .revoked)
    let forever = ShareLink(token: "t", path: path, createdAt: 100, expiresAt: nil, maxDownloads: nil, downloads: 99)
    #expect(forever.state(now: 1 << 40) == .active)
    #expect(link.summary(now: 150).hasPrefix("t  /a.txt  revoked  2/2 downloads  expires in "))
  }
}
