import Foundation
import Testing

/// The real `vigie run` with the file drop on a free port and a fresh root.
final class DropFixture {
  let daemon: TestDaemon
  let root: String
  let port: Int
  var base: String { "http://127.0.0.1:\(port)" }

  init(extra: String = "", root: String? = nil, environment: [String: String] = [:]) throws {
    port = try freePort()
    let directory = NSTemporaryDirectory() + "vigie-drop-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    self.root = root ?? directory + "/drop"
    try FileManager.default.createDirectory(atPath: self.root, withIntermediateDirectories: true)
    daemon = try TestDaemon(
      sections: """
        [watchdog]
        enabled = false
        [filedrop]
        listen = "127.0.0.1:\(port)"
        root = "\(self.root)"
        \(extra)
        """, environment: environment, directory: directory)
    try daemon.waitUntilReady()
    guard daemon.waitForLog("file drop listening") else {
      throw DaemonFailed(message: "the file drop did not start:\n\(daemon.log)")
    }
  }

  /// Runs curl with `arguments`; `-s` and a bounded time are added.
  func curl(_ arguments: [String]) throws -> CommandOutput {
    try runProcess("/usr/bin/curl", ["-sS", "--max-time", "60"] + arguments)
  }

  /// Status code and body of a request.
  func request(_ arguments: String...) throws -> (status: Int, body: String) {
    let output = try curl(["-o", "-", "-w", "\n%{http_code}"] + arguments)
    var lines = output.stdout.components(separatedBy: "\n")
    let status = Int(lines.removeLast()) ?? -1
    return (status, lines.joined(separator: "\n"))
  }

  /// Response headers (lowercased names) of a request, and the status.
  func headers(_ arguments: String...) throws -> (status: Int, headers: [String: String]) {
    try headers(arguments)
  }

  func headers(_ arguments: [String]) throws -> (status: Int, headers: [String: String]) {
    let output = try curl(["-o", "/dev/null", "-D", "-"] + arguments)
    var headers: [String: String] = [:]
    var status = -1
    for line in output.stdout.components(separatedBy: "\r\n") {
      if line.hasPrefix("HTTP/") {
        status = Int(line.split(separator: " ")[1]) ?? -1
      } else if let colon = line.firstIndex(of: ":") {
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      }
    }
    return (status, headers)
  }

  func write(_ relative: String, _ data: Data) throws {
    let url = URL(fileURLWithPath: root + "/" + relative)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try data.write(to: url)
  }

  /// Names in the root's folder `relative`, temp files included.
  func names(_ relative: String = "") -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + relative)) ?? []).sorted()
  }
}

func sha256Hex(_ path: String) throws -> String {
  let output = try runProcess("/usr/bin/sha256sum", [path])
  return String(output.stdout.prefix(64))
}

func randomData(_ count: Int) -> Data {
  let handle = FileHandle(forReadingAtPath: "/dev/urandom")!
  defer { try? handle.close() }
  return handle.readData(ofLength: count)
}

@Suite("file drop", .serialized)
struct FileDropTests {
  @Test(
    "path containment: traversal, encoded slashes, NUL and symlinks out of the root are refused",
    arguments: [false, true])
  func containment(fallback: Bool) throws {
    let outside = NSTemporaryDirectory() + "vigie-outside-\(getpid())-\(fallback)"
    try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: outside) }
    try Data("secret".utf8).write(to: URL(fileURLWithPath: outside + "/secret.txt"))
    let drop = try DropFixture(environment: fallback ? ["VIGIE_FILEDROP_NO_OPENAT2": "1"] : [:])
    #expect(drop.daemon.log.contains(fallback ? "containment=realpath" : "containment=openat2"))
    try drop.write("docs/inside.txt", Data("inside".utf8))
    let fm = FileManager.default
    try fm.createSymbolicLink(atPath: drop.root + "/out", withDestinationPath: outside)
    try fm.createSymbolicLink(atPath: drop.root + "/out-file", withDestinationPath: outside + "/secret.txt")
    try fm.createSymbolicLink(atPath: drop.root + "/docs/up", withDestinationPath: "../..")
    try fm.createSymbolicLink(atPath: drop.root + "/etc", withDestinationPath: "/etc")
    try fm.createSymbolicLink(atPath: drop.root + "/alias.txt", withDestinationPath: "docs/inside.txt")

    for path in [
      "/../etc/passwd", "/docs/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
      "/docs%2f..%2f..%2fsecret", "/docs/inside.txt%00.jpg", "/a%5c..%5cb", "/%c0%ae%c0%ae/etc/passwd",
    ] {
      let response = try drop.request("--path-as-is", drop.base + path)
      #expect(response.status == 400, "\(path) gave \(response.status): \(response.body)")
      #expect(!response.body.contains("secret") && !response.body.contains("root:"))
    }
    for path in ["/out/secret.txt", "/out-file", "/docs/up/etc/passwd", "/etc/passwd", "/out/", "/etc/"] {
      let response = try drop.request(drop.base + path)
      #expect(response.status == 404, "\(path) gave \(response.status): \(response.body)")
      #expect(!response.body.contains("secret") && !response.body.contains("root:"))
    }
    // Links that stay inside work.
    #expect(try drop.request(drop.base + "/alias.txt") == (200, "inside"))
    // Listings leave out links that leave the root.
    let listing = try drop.request(drop.base + "/?format=json").body
    #expect(listing.contains("\"alias.txt\"") && listing.contains("\"docs\""))
    #expect(!listing.contains("\"out\"") && !listing.contains("\"etc\"") && !listing.contains("out-file"))
    // Uploads cannot write through a link that leaves.
    let put = try drop.request("-T", "-", drop.base + "/out/new.txt")
    #expect(put.status == 404, "\(put)")
    #expect(!fm.fileExists(atPath: outside + "/new.txt"))
    #expect(drop.daemon.log.contains("refused a path leaving the root"))
  }

  @Test("downloads: ranges, validators, HEAD, types and RFC 5987 names")
  func downloads() throws {
    let drop = try DropFixture()
    let data = randomData(300_000)
    try drop.write("été \"q\".bin", data)
    let url = drop.base + "/" + "été \"q\".bin".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
    let target = drop.daemon.directory + "/got.bin"
    let whole = try drop.curl(["-o", target, "-w", "%{http_code}", url])
    #expect(whole.stdout == "200")
    #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == data)

    let head = try drop.headers("-I", url)
    #expect(head.status == 200)
    #expect(head.headers["content-length"] == "300000")
    #expect(head.headers["accept-ranges"] == "bytes")
    #expect(head.headers["content-type"] == "application/octet-stream")
    #expect(
      head.headers["content-disposition"]
        == "attachment; filename=\"_t_ _q_.bin\"; filename*=UTF-8''%C3%A9t%C3%A9%20%22q%22.bin")
    #expect(head.headers["x-content-type-options"] == "nosniff")
    let etag = try #require(head.headers["etag"])
    let lastModified = try #require(head.headers["last-modified"])

    // curl -C - resumes with a Range.
    try data.prefix(100_000).write(to: URL(fileURLWithPath: target))
    let resumed = try drop.curl(["-C", "-", "-o", target, "-w", "%{http_code}", url])
    #expect(resumed.stdout == "206")
    #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == data)

    let partial = try drop.headers("-r", "10-19", url)
    #expect(partial.status == 206)
    #expect(partial.headers["content-range"] == "bytes 10-19/300000")
    #expect(partial.headers["content-length"] == "10")
    let suffix = try drop.curl(["-r", "-5", "-o", target, url])
    #expect(suffix.status == 0)
    #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == data.suffix(5))
    let unsatisfiable = try drop.headers("-r", "300000-", url)
    #expect(unsatisfiable.status == 416)
    #expect(unsatisfiable.headers["content-range"] == "bytes */300000")

    #expect(try drop.headers("-H", "If-None-Match: \(etag)", url).status == 304)
    #expect(try drop.headers("-H", "If-Modified-Since: \(lastModified)", url).status == 304)
    #expect(try drop.headers("-H", "If-None-Match: \"other\"", url).status == 200)
    #expect(try drop.headers("-r", "0-9", "-H", "If-Range: \(etag)", url).status == 206)
    let stale = try drop.headers("-r", "0-9", "-H", "If-Range: \"stale\"", url)
    #expect(stale.status == 200)
    #expect(stale.headers["content-length"] == "300000")

    #expect(try drop.request(drop.base + "/missing.txt").status == 404)
    // A folder without its slash is redirected.
    try drop.write("sub/x.txt", Data("x".utf8))
    let redirect = try drop.headers(drop.base + "/sub")
    #expect(redirect.status == 301)
    #expect(redirect.headers["location"] == "/sub/")
  }

  @Test("listings as JSON and HTML escape hostile names")
  func listings() throws {
    let drop = try DropFixture()
    let hostile = "<img src=x onerror=alert(1)>\"'&.txt"
    try drop.write(hostile, Data("x".utf8))
    try drop.write("folder/a.txt", Data("abc".utf8))
    let json = try drop.request("-H", "Accept: application/json", drop.base + "/")
    #expect(json.status == 200)
    let decoded = try JSONSerialization.jsonObject(with: Data(json.body.utf8)) as? [String: Any]
    let entries = try #require(decoded?["entries"] as? [[String: Any]])
    #expect(entries.map { $0["name"] as? String } == ["folder", hostile])
    #expect(entries[0]["type"] as? String == "dir")
    #expect(entries[1]["size"] as? Int == 1)
    #expect(!json.body.contains("<img"))

    let html = try drop.request(drop.base + "/")
    #expect(html.status == 200)
    #expect(!html.body.contains("<img src=x"))
    #expect(html.body.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;.txt"))
    #expect(html.body.contains("href=\"%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%22%27%26.txt\""))
    let headers = try drop.headers(drop.base + "/")
    #expect(headers.headers["content-security-policy"]?.contains("script-src 'self'") == true)
    #expect(try drop.request(drop.base + "/?asset=drop.js").body.contains("XMLHttpRequest"))
  }

  @Test("uploads: PUT and multipart, SHA-256, clash policy, caps, CSRF")
  func uploads() throws {
    let drop = try DropFixture(extra: "max_upload_size = \"2M\"")
    let data = randomData(1_500_000)
    let source = drop.daemon.directory + "/source.bin"
    try data.write(to: URL(fileURLWithPath: source))
    let digest = try sha256Hex(source)

    let first = try drop.request("-T", source, drop.base + "/in/new%20file.bin")
    #expect(first.status == 201, "\(first)")
    #expect(first.body == "{\"path\":\"/in/new file.bin\",\"size\":1500000,\"sha256\":\"\(digest)\"}\n")
    #expect(try Data(contentsOf: URL(fileURLWithPath: drop.root + "/in/new file.bin")) == data)
    // Clash: renamed, never overwritten.
    let second = try drop.request("-T", source, drop.base + "/in/new%20file.bin")
    #expect(second.status == 201)
    #expect(second.body.contains("\"path\":\"/in/new file (1).bin\""))
    #expect(drop.names("in") == ["new file (1).bin", "new file.bin"])

    // Chunked (no Content-Length) through stdin.
    let chunked = try runProcess(
      "/bin/sh", ["-c", "curl -sS -T - \(drop.base)/in/piped.bin < \(source)"])
    #expect(chunked.stdout.contains("\"sha256\":\"\(digest)\""), "\(chunked)")

    // Multipart, two files, one in a subfolder (folder upload).
    try Data("hello".utf8).write(to: URL(fileURLWithPath: drop.daemon.directory + "/hello.txt"))
    let multipart = try drop.request(
      "-F", "a=@\(source);filename=form.bin", "-F", "b=@\(drop.daemon.directory)/hello.txt;filename=sub/dir/hello.txt",
      drop.base + "/in/")
    #expect(multipart.status == 201, "\(multipart)")
    #expect(multipart.body.contains("{\"path\":\"/in/form.bin\",\"size\":1500000,\"sha256\":\"\(digest)\"}"))
    #expect(multipart.body.contains("\"path\":\"/in/sub/dir/hello.txt\",\"size\":5"))
    #expect(try String(contentsOfFile: drop.root + "/in/sub/dir/hello.txt", encoding: .utf8) == "hello")

    // Over the cap: 413 from Content-Length, before the body.
    let big = drop.daemon.directory + "/big.bin"
    try randomData(3_000_000).write(to: URL(fileURLWithPath: big))
    let tooLarge = try drop.request("-T", big, drop.base + "/in/big.bin")
    #expect(tooLarge.status == 413, "\(tooLarge)")
    // Over the cap while streaming (no Content-Length).
    let tooLargeChunked = try runProcess(
      "/bin/sh", ["-c", "curl -sS -o /dev/null -w '%{http_code}' -T - \(drop.base)/in/big2.bin < \(big)"])
    #expect(tooLargeChunked.stdout == "413", "\(tooLargeChunked)")
    #expect(!drop.names("in").contains { $0.hasPrefix("big") || $0.hasPrefix(".vigie-upload-") }, "\(drop.names("in"))")

    // Hostile names in multipart are refused.
    let evil = try drop.request(
      "-F", "a=@\(drop.daemon.directory)/hello.txt;filename=../../evil.txt", drop.base + "/in/")
    #expect(evil.status == 400, "\(evil)")
    // CSRF: a cross-site browser upload is refused.
    let crossSite = try drop.request(
      "-H", "Origin: http://evil.example", "-F", "a=@\(drop.daemon.directory)/hello.txt", drop.base + "/in/")
    #expect(crossSite.status == 403)
    let sameSite = try drop.request(
      "-H", "Origin: \(drop.base)", "-F", "a=@\(drop.daemon.directory)/hello.txt;filename=same.txt", drop.base + "/in/")
    #expect(sameSite.status == 201)
    // The temp prefix is not addressable.
    #expect(try drop.request("-T", source, drop.base + "/in/.vigie-upload-x").status == 404)

    let log = drop.daemon.log
    #expect(log.contains("access {\"event\":\"upload\""))
    #expect(log.contains("\"sha256\":\"\(digest)\""))
  }

  @Test("folders stream as .zip, .tar and .tar.gz that unzip, tar and Python read back")
  func archives() throws {
    let drop = try DropFixture()
    try drop.write("tree/a.txt", Data("alpha".utf8))
    try drop.write("tree/sub/été.bin", randomData(700_000))
    try drop.write("tree/sub/deeper/z.txt", Data())
    try FileManager.default.createDirectory(atPath: drop.root + "/tree/empty", withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: drop.root + "/tree/etc", withDestinationPath: "/etc")
    let directory = drop.daemon.directory
    let script = """
      import hashlib, io, sys, tarfile, zipfile
      root, kind, path = sys.argv[1], sys.argv[2], sys.argv[3]
      expected = {}
      import os
      for folder, dirs, files in os.walk(root + "/tree"):
          for name in files:
              full = os.path.join(folder, name)
              if os.path.islink(full): continue
              expected["tree/" + os.path.relpath(full, root + "/tree")] = hashlib.sha256(open(full, "rb").read()).hexdigest()
      got = {}
      if kind == "zip":
          with zipfile.ZipFile(path) as z:
              assert z.testzip() is None
              for info in z.infolist():
                  assert info.compress_type == zipfile.ZIP_STORED, info
                  if not info.is_dir():
                      got[info.filename] = hashlib.sha256(z.read(info)).hexdigest()
      else:
          with tarfile.open(path) as t:
              for member in t.getmembers():
                  if member.isfile():
                      got[member.name] = hashlib.sha256(t.extractfile(member).read()).hexdigest()
      assert got == expected, (sorted(got), sorted(expected))
      print("ok", len(got))
      """
    try script.write(toFile: directory + "/check.py", atomically: true, encoding: .utf8)
    for format in ["zip", "tar", "tar.gz"] {
      let target = directory + "/tree." + format
      let headers = try drop.curl(["-D", "-", "-o", target, drop.base + "/tree." + format])
      #expect(headers.stdout.hasPrefix("HTTP/1.1 200"), "\(headers)")
      #expect(headers.stdout.lowercased().contains("content-disposition: attachment; filename=\"tree.\(format)\""))
      let check = try runProcess("/usr/bin/env", ["python3", directory + "/check.py", drop.root, format, target])
      #expect(check.stdout == "ok 3\n", "\(format): \(check)")
      let listing: CommandOutput
      switch format {
      case "zip": listing = try runProcess("/usr/bin/unzip", ["-t", target])
      case "tar": listing = try runProcess("/bin/tar", ["-tvf", target])
      default: listing = try runProcess("/bin/tar", ["-tzvf", target])
      }
      #expect(listing.status == 0, "\(format): \(listing)")
      #expect(listing.stdout.contains("tree/sub/été.bin"))
      #expect(listing.stdout.contains("tree/empty/"))
      #expect(!listing.stdout.contains("tree/etc"))
    }
    // A file of that name wins over the folder's archive.
    try drop.write("tree.zip", Data("real".utf8))
    #expect(try drop.request(drop.base + "/tree.zip") == (200, "real"))
    #expect(try drop.request(drop.base + "/nothing.zip").status == 404)
    #expect(drop.daemon.log.contains("access {\"event\":\"archive\""))
  }

  @Test("an upload cut off mid-way leaves nothing behind; a big archive streams in constant memory")
  func interruptedUploadAndMemory() throws {
    let drop = try DropFixture()
    let source = drop.daemon.directory + "/source.bin"
    try randomData(8_000_000).write(to: URL(fileURLWithPath: source))
    // curl gives up after a second at 1 MB/s: the server sees the body end early.
    let cut = try drop.curl(["--limit-rate", "1M", "--max-time", "1", "-T", source, drop.base + "/cut.bin"])
    #expect(cut.status != 0)
    let deadline = ContinuousClock.now.advanced(by: .seconds(20))
    while !drop.names().isEmpty && ContinuousClock.now < deadline { usleep(100_000) }
    #expect(drop.names() == [], "left behind: \(drop.names())")

    // 48 files of 8 MB: 384 MB through a tar; the daemon's RSS must stay flat.
    for index in 0..<48 {
      let target = drop.root + "/big/part\(index).bin"
      try FileManager.default.createDirectory(atPath: drop.root + "/big", withIntermediateDirectories: true)
      try FileManager.default.copyItem(atPath: source, toPath: target)
    }
    let pid = drop.daemon.process.processIdentifier
    func rss() -> Int {
      let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
      let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
      return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    // Warm up the code paths, then measure.
    _ = try drop.curl(["-o", "/dev/null", drop.base + "/big.tar"])
    let before = rss()
    let download = Process()
    download.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    download.arguments = ["-sS", "-o", "/dev/null", "-w", "%{size_download}", drop.base + "/big.tar"]
    let pipe = Pipe()
    download.standardOutput = pipe
    try download.run()
    var peak = before
    while download.isRunning {
      peak = max(peak, rss())
      usleep(20_000)
    }
    download.waitUntilExit()
    let size = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(Int(size) ?? 0 > 48 * 8_000_000, "\(size)")
    print("file drop RSS while streaming 384 MB as tar: \(before) KiB before, \(peak) KiB peak")
    // KiB: growth under 40 MB while 384 MB went through.
    #expect(peak - before < 40_000, "RSS went from \(before) KiB to \(peak) KiB")
  }

  @Test("resumable uploads (tus 1.0 core + creation): cut, HEAD, resume, complete with SHA-256")
  func resumableUpload() throws {
    let drop = try DropFixture()
    let source = drop.daemon.directory + "/source.bin"
    let data = randomData(3_000_000)
    try data.write(to: URL(fileURLWithPath: source))
    let tus = ["-H", "Tus-Resumable: 1.0.0"]
    let name = Data("in/resumed é.bin".utf8).base64EncodedString()
    let created = try drop.curl(
      [
        "-D", "-", "-o", "/dev/null", "-X", "POST", "-H", "Upload-Length: 3000000", "-H",
        "Upload-Metadata: filename \(name)",
      ] + tus + [drop.base + "/~u/"])
    #expect(created.stdout.hasPrefix("HTTP/1.1 201"), "\(created)")
    let location = try #require(
      created.stdout.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("location: ") }?.dropFirst(10))
    let url = drop.base + location
    // Without Tus-Resumable: 412.
    #expect(try drop.headers("-I", url).status == 412)
    // First part: 1 MB, sent as a complete PATCH.
    let first = drop.daemon.directory + "/first.bin"
    try data.prefix(1_000_000).write(to: URL(fileURLWithPath: first))
    let patch = ["-X", "PATCH", "-H", "Content-Type: application/offset+octet-stream"] + tus
    let one = try drop.curl(
      ["-D", "-", "-o", "/dev/null", "--data-binary", "@" + first, "-H", "Upload-Offset: 0"] + patch + [url])
    #expect(one.stdout.hasPrefix("HTTP/1.1 204"), "\(one)")
    #expect(one.stdout.contains("Upload-Offset: 1000000"))
    // A wrong offset is refused.
    #expect(try drop.headers(["--data-binary", "@" + first, "-H", "Upload-Offset: 5"] + patch + [url]).status == 409)
    // Second PATCH cut off by the client mid-way (rate-limited, time-limited).
    let rest = drop.daemon.directory + "/rest.bin"
    try data.suffix(from: 1_000_000).write(to: URL(fileURLWithPath: rest))
    _ = try drop.curl(
      [
        "-H", "Expect:", "--limit-rate", "500K", "--max-time", "1", "--data-binary", "@" + rest, "-H",
        "Upload-Offset: 1000000",
      ] + patch
        + [url])
    usleep(500_000)
    let head = try drop.headers(["-I"] + tus + [url])
    #expect(head.status == 200)
    #expect(head.headers["upload-length"] == "3000000")
    let offset = try #require(head.headers["upload-offset"].flatMap { Int($0) })
    #expect(offset > 1_000_000 && offset < 3_000_000, "offset \(offset)")
    #expect(!FileManager.default.fileExists(atPath: drop.root + "/in/resumed é.bin"))
    // Resume from the server's offset.
    let remaining = drop.daemon.directory + "/remaining.bin"
    try data.suffix(from: offset).write(to: URL(fileURLWithPath: remaining))
    let done = try drop.curl(
      ["-D", "-", "-o", "/dev/null", "--data-binary", "@" + remaining, "-H", "Upload-Offset: \(offset)"] + patch + [url]
    )
    #expect(done.stdout.hasPrefix("HTTP/1.1 204"), "\(done)")
    #expect(done.stdout.contains("Vigie-Path: /in/resumed%20%C3%A9.bin"))
    #expect(done.stdout.contains("Vigie-Sha256: \(try sha256Hex(source))"))
    #expect(try Data(contentsOf: URL(fileURLWithPath: drop.root + "/in/resumed é.bin")) == data)
    #expect(drop.names().filter { !$0.hasPrefix(".") } == ["in"])
    #expect(try drop.headers(["-I"] + tus + [url]).status == 404)
    // Creation checks the cap and the name.
    let bad = Data("../x".utf8).base64EncodedString()
    #expect(
      try drop.headers(
        ["-X", "POST", "-H", "Upload-Length: 10", "-H", "Upload-Metadata: filename \(bad)"] + tus + [drop.base + "/~u/"]
      ).status == 400)
  }

  @Test("a full disk: 507, cleanup, and no partial file under its final name")
  func diskFull() throws {
    guard getuid() == 0 else {
      print("skipped: mounting a tmpfs needs root (CI runs as root)")
      return
    }
    let mountPoint = NSTemporaryDirectory() + "vigie-tmpfs-\(getpid())"
    try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
    let mount = try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mountPoint])
    try #require(mount.status == 0, "mount failed: \(mount.stderr)")
    defer {
      _ = try? runProcess("/bin/umount", [mountPoint])
      try? FileManager.default.removeItem(atPath: mountPoint)
    }
    let drop = try DropFixture(extra: "free_space_reserve = \"1M\"\nmax_upload_size = \"100M\"", root: mountPoint)
    let source = drop.daemon.directory + "/source.bin"
    try randomData(12_000_000).write(to: URL(fileURLWithPath: source))
    // Early 507 from Content-Length.
    let early = try drop.request("-T", source, drop.base + "/big.bin")
    #expect(early.status == 507, "\(early)")
    // Mid-upload: no Content-Length, the disk fills (or the reserve is hit) while writing.
    let streamed = try runProcess(
      "/bin/sh", ["-c", "curl -sS -o - -w '\\n%{http_code}' -T - \(drop.base)/big.bin < \(source)"])
    #expect(streamed.stdout.hasSuffix("\n507"), "\(streamed)")
    #expect(drop.names() == [], "left behind: \(drop.names())")
    // The disk still takes a small file afterwards.
    try Data("ok".utf8).write(to: URL(fileURLWithPath: drop.daemon.directory + "/small.txt"))
    let small = try drop.request("-T", drop.daemon.directory + "/small.txt", drop.base + "/small.txt")
    #expect(small.status == 201)
    #expect(drop.names() == ["small.txt"])
  }
}

@Suite("file drop share links", .serialized)
struct FileDropShareTests {
  @Test("vigie share: URL and QR code, completed downloads counted, expiry, revoke, kept across restarts")
  func shareLinks() throws {
    var drop: DropFixture? = try DropFixture()
    let directory = drop!.daemon.directory
    let root = drop!.root
    let port = drop!.port
    try drop!.write("docs/report été.pdf", randomData(200_000))
    let created = try drop!.daemon.cli("share", "docs/report été.pdf", "--count", "1")
    #expect(created.status == 0, "\(created)")
    let lines = created.stdout.components(separatedBy: "\n")
    let url = lines[0]
    #expect(url.hasPrefix("http://127.0.0.1:\(port)/~s/"))
    #expect(url.hasSuffix("/report%20%C3%A9t%C3%A9.pdf"))
    // The QR code follows, drawn with block characters.
    #expect(lines.count > 10 && lines[1].contains("█"))
    let token = url.components(separatedBy: "/")[4]

    // The bare token redirects to the name (woof's trick for browsers).
    let bare = try drop!.headers("http://127.0.0.1:\(port)/~s/\(token)")
    #expect(bare.status == 302)
    #expect(bare.headers["location"] == "/~s/\(token)/report%20%C3%A9t%C3%A9.pdf")
    // A partial download does not use the link up.
    #expect(try drop!.headers("-r", "0-99", url).status == 206)
    #expect(try drop!.headers("-I", url).status == 200)
    let download = try drop!.curl(["-L", "-o", directory + "/got.pdf", "-w", "%{http_code}", url])
    #expect(download.stdout == "200")
    #expect(
      try Data(contentsOf: URL(fileURLWithPath: directory + "/got.pdf"))
        == Data(contentsOf: URL(fileURLWithPath: root + "/docs/report été.pdf")))
    let again = try drop!.request(url)
    #expect(again.status == 410)
    #expect(again.body.contains("exhausted"))
    #expect(try drop!.request("http://127.0.0.1:\(port)/~s/aaaaaaaaaaaaaaaaaaaaaaaaaa").status == 404)

    // SHARE through the command registry; the reply is the link.
    let command = try drop!.daemon.cli("cmd", "SHARE \"docs/report été.pdf\" 3")
    #expect(command.status == 0, "\(command)")
    #expect(command.stdout.hasPrefix("http://127.0.0.1:\(port)/~s/"))
    let second = String(command.stdout.components(separatedBy: "/")[4])
    #expect(try drop!.daemon.cli("cmd", "SHARE nothing.txt").stdout.contains("No file /nothing.txt"))
    #expect(try drop!.daemon.cli("cmd", "SHARE ../etc/passwd").stdout.contains("'..' is not allowed"))

    let expiring = try drop!.daemon.cli("share", "docs/report été.pdf", "--expires", "1s", "--no-qr")
    #expect(expiring.status == 0)
    let expiringURL = expiring.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    sleep(2)
    #expect(try drop!.request(expiringURL).status == 410)

    // Links survive a restart.
    drop!.daemon.removeDirectory = false
    drop!.daemon.signal(SIGTERM)
    #expect(drop!.daemon.waitForExit(timeout: .seconds(20)) != nil)
    drop = nil
    let restarted = try TestDaemon(
      sections: """
        [watchdog]
        enabled = false
        [filedrop]
        listen = "127.0.0.1:\(port)"
        root = "\(root)"
        """, directory: directory)
    try restarted.waitUntilReady()
    #expect(restarted.waitForLog("file drop listening"))
    let list = try restarted.cli("share", "--list")
    #expect(list.stdout.contains("\(token)  /docs/report été.pdf  exhausted  1/1 downloads"), "\(list.stdout)")
    #expect(list.stdout.contains("\(second)  /docs/report été.pdf  active  0/3 downloads"))
    #expect(list.stdout.contains("expired"))
    let secondURL = "http://127.0.0.1:\(port)/~s/\(second)/report%20%C3%A9t%C3%A9.pdf"
    #expect(
      try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", secondURL]).stdout == "200")
    #expect(try restarted.cli("share", "--revoke", second).status == 0)
    #expect(
      try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", secondURL]).stdout == "410")
    #expect(try restarted.cli("share", "--revoke", "nonexistent").status != 0)
  }
}

@Suite("file drop access control", .serialized)
struct FileDropAccessTests {
  static func hash(_ password: String) throws -> String {
    let output = try runProcess(
      "/bin/sh", ["-c", "printf '%s\\n' '\(password)' | '\(Products.path("vigie"))' drop-password --iterations 2000"])
    #expect(output.status == 0, "\(output)")
    return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  @Test("roles read, drop and admin with hashed passwords; a drop box hides the listing")
  func roles() throws {
    let reader = try Self.hash("r-secret")
    #expect(reader.hasPrefix("pbkdf2-sha256$2000$"))
    let dropper = try Self.hash("d-secret")
    let admin = try Self.hash("a-secret")
    let drop = try DropFixture(
      extra: """
        public_read = false
        public_drop = false
        [[filedrop.user]]
        name = "reader"
        password_hash = "\(reader)"
        role = "read"
        [[filedrop.user]]
        name = "dropper"
        password_hash = "\(dropper)"
        role = "drop"
        [[filedrop.user]]
        name = "boss"
        password_hash = "\(admin)"
        role = "admin"
        """)
    try drop.write("secret.txt", Data("classified".utf8))
    let file = drop.base + "/secret.txt"
    let anonymous = try drop.headers(file)
    #expect(anonymous.status == 401)
    #expect(anonymous.headers["www-authenticate"]?.hasPrefix("Basic realm=") == true)
    #expect(try drop.request("-u", "reader:wrong", file).status == 401)
    #expect(try drop.request("-u", "nobody:r-secret", file).status == 401)
    #expect(try drop.request("-u", "reader:r-secret", file) == (200, "classified"))
    #expect(try drop.request("-u", "boss:a-secret", file) == (200, "classified"))
    // The drop role uploads but cannot read or list.
    #expect(try drop.request("-u", "dropper:d-secret", file).status == 403)
    let page = try drop.request("-u", "dropper:d-secret", drop.base + "/")
    #expect(page.status == 200)
    #expect(page.body.contains("drop box") && !page.body.contains("secret.txt"))
    #expect(try drop.request("-u", "dropper:d-secret", drop.base + "/?format=json").status == 403)
    try Data("x".utf8).write(to: URL(fileURLWithPath: drop.daemon.directory + "/x.txt"))
    let upload = drop.daemon.directory + "/x.txt"
    #expect(try drop.request("-u", "dropper:d-secret", "-T", upload, drop.base + "/in/x.txt").status == 201)
    #expect(try drop.request("-u", "reader:r-secret", "-T", upload, drop.base + "/in/y.txt").status == 403)
    #expect(try drop.request("-T", upload, drop.base + "/in/z.txt").status == 401)
    #expect(try drop.request("-u", "boss:a-secret", "-T", upload, drop.base + "/in/w.txt").status == 201)
    #expect(drop.names("in") == ["w.txt", "x.txt"])
    // Share links work without an account.
    let share = try drop.daemon.cli("share", "secret.txt", "--no-qr")
    let url = share.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(try drop.request("-L", url) == (200, "classified"))
  }

  @Test("a bad password hash is a configuration error")
  func badHash() throws {
    let output = try vigie(
      "config", "check",
      try {
        let path = NSTemporaryDirectory() + "vigie-badhash-\(getpid()).toml"
        try "[filedrop]\n[[filedrop.user]]\nname = \"a\"\npassword_hash = \"plain\"\n".write(
          toFile: path, atomically: true, encoding: .utf8)
        return path
      }())
    #expect(output.status != 0)
    #expect(
      (output.stdout + output.stderr).contains(
        "filedrop.user[1].password_hash: expected pbkdf2-sha256$ITERATIONS$SALT$HASH"))
  }
}

@Suite("file drop web page", .serialized)
struct FileDropPageTests {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  @Test("headless Chromium uploads a file through the page; it arrives intact; a screenshot is saved")
  func pageUpload() throws {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
      FileManager.default.isExecutableFile(atPath: $0)
    }
    guard chromium != nil, try runProcess("/usr/bin/env", ["python3", "-c", "import websocket"]).status == 0 else {
      print("skipped: needs Debian's chromium and PyPI's websocket-client (scripts/test installs both)")
      return
    }
    let drop = try DropFixture()
    try drop.write("existing.txt", Data("already here".utf8))
    let source = drop.daemon.directory + "/from the browser é.bin"
    try randomData(2_000_000).write(to: URL(fileURLWithPath: source))
    let artifacts = ProcessInfo.processInfo.environment["VIGIE_ARTIFACTS"] ?? Self.repository.path + "/artifacts"
    try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
    let screenshot = artifacts + "/filedrop-page.png"
    let output = try runProcess(
      "/usr/bin/env", ["python3", Self.repository.path + "/Tests/Browser/drop_page.py", drop.base, source, screenshot],
      timeout: .seconds(180))
    #expect(output.status == 0, "\(output)")
    #expect(output.stdout == "uploaded from the browser é.bin\n")
    #expect(try sha256Hex(drop.root + "/from the browser é.bin") == sha256Hex(source))
    let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
    #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
    print("screenshot: \(screenshot)")
  }
}
