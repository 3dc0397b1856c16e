import Foundation
import Testing

/// The status page, `/api/status` and `/metrics` of a real daemon, checked
/// with curl, Python's XML and prometheus_client parsers, and Chromium.
@Suite("status page", .serialized)
struct StatusPageTests {
  static let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Emulators/web/check_status.py").path
  static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }
  /// Where screenshots are kept for people to look at (CI keeps `artifacts/`).
  static let artifacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("artifacts").path

  static func curl(_ arguments: String...) throws -> CommandOutput {
    try runProcess("/usr/bin/curl", ["-sS", "--max-time", "20", "-w", "\n%{http_code}"] + arguments)
  }

  static func startDaemon() throws -> (TestDaemon, String) {
    let port = try freePort()
    let closed = try freePort()
    let daemon = try TestDaemon(
      sections: """
        [leds]
        enabled = false

        [status]
        listen = "127.0.0.1:\(port)"
        admin_password_file = "{{status-password}}"

        [watchdog]
        interval = "1s"
        timeout = "500ms"
        failures = 2
        window = 3

        [[watchdog.target]]
        name = "loopback"
        host = "127.0.0.1"
        probe = "icmp"

        [[watchdog.target]]
        name = "closed \\"port\\" <b>"
        host = "127.0.0.1"
        probe = "tcp-connect:\(closed)"
        """, secrets: ["status-password": "hunter2"])
    return (daemon, "http://127.0.0.1:\(port)/")
  }

  @Test("page, JSON and metrics agree with the daemon; graphs are valid SVG; metrics parse as Prometheus text")
  func pageAPIAndMetrics() throws {
    let (daemon, base) = try Self.startDaemon()
    try daemon.waitUntilReady()
    try daemon.waitFor("the closed port to be DOWN", timeout: .seconds(30)) {
      try daemon.cli("status").stdout.contains("DOWN")
    }
    let output = try runProcess("/usr/bin/env", ["python3", Self.checker, base])
    #expect(output.status == 0, "\(output.stderr)")
    let result = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])

    let page = try #require(result["page"] as? [String: Any])
    #expect(page["status"] as? Int == 200)
    #expect((page["content_type"] as? String)?.hasPrefix("text/html") == true)
    let svg = try #require(result["svg"] as? [String: Any])
    #expect(svg["count"] as? Int == 2, "one latency graph per target (the modem is disabled)")
    #expect((svg["problems"] as? [String])?.isEmpty == true, "\(svg)")
    // The loopback target's answers are drawn: its graph has a line.
    let polylines = svg["polylines"] as? [String] ?? []
    #expect(!polylines.isEmpty && polylines[0].split(separator: " ").count >= 2, "\(svg)")

    let metrics = try #require(result["metrics"] as? [String: Any])
    let families = try #require(metrics["families"] as? [String: [String: Any]])
    #expect(families["vigie_build_info"]?["type"] as? String == "gauge")
    #expect(families["vigie_service_restarts"]?["type"] as? String == "counter")
    let states = try #require(families["vigie_target_state"]?["samples"] as? [[Any]])
    func state(_ target: String, _ name: String) -> Double? {
      states.first { ($0[1] as? [String: String]) == ["target": target, "state": name] }?[2] as? Double
    }
    #expect(state("loopback", "UP") == 1)
    #expect(state("closed \"port\" <b>", "DOWN") == 1, "label values with quotes survive the text format")
    #expect(state("closed \"port\" <b>", "UP") == 0)

    let api = try #require(result["api"] as? [String: Any])
    #expect(api["content_type"] as? String == "application/json")
    let body = try #require(api["body"] as? [String: Any])
    #expect(body["site"] as? String == "test-site")
    #expect((body["wan"] as? String)?.hasPrefix("unknown") == true, "no internet target is watched")
    let targets = try #require(body["targets"] as? [[String: Any]])
    #expect(targets.map { $0["name"] as? String } == ["loopback", "closed \"port\" <b>"])

    // The page itself, as curl sees it: the hostile target name is escaped.
    let html = try Self.curl(base)
    #expect(html.stdout.contains("closed &quot;port&quot; &lt;b&gt;"))
    #expect(!html.stdout.contains("<b>\""))
  }

  @Test("admin actions need the password, the page's CSRF token and a same-origin request")
  func adminActions() throws {
    let (daemon, base) = try Self.startDaemon()
    try daemon.waitUntilReady()
    let action = base + "action"
    let anonymous = try Self.curl(base)
    #expect(!anonymous.stdout.contains("<form"), "readers see no buttons")
    let page = try Self.curl("-u", "admin:hunter2", base)
    let token = try #require(
      page.stdout.firstMatch(of: /name="csrf" value="([0-9a-f]+)"/).map { String($0.output.1) })

    #expect(try Self.curl("-X", "POST", "-d", "csrf=\(token)&command=RESTART+watchdog", action).stdout.hasSuffix("401"))
    #expect(
      try Self.curl("-u", "admin:wrong", "-X", "POST", "-d", "csrf=\(token)&command=RESTART+watchdog", action).stdout
        .hasSuffix("401"))
    let forged = try Self.curl(
      "-u", "admin:hunter2", "-H", "Origin: http://evil.example", "-X", "POST", "-d",
      "csrf=\(token)&command=RESTART+watchdog", action)
    #expect(forged.stdout.hasSuffix("403"))
    #expect(forged.stdout.contains("cross-origin request refused"))
    let stale = try Self.curl("-u", "admin:hunter2", "-X", "POST", "-d", "csrf=0000&command=RESTART+watchdog", action)
    #expect(stale.stdout.hasSuffix("403"))
    let other = try Self.curl("-u", "admin:hunter2", "-X", "POST", "-d", "csrf=\(token)&command=REBOOT", action)
    #expect(other.stdout.hasSuffix("400"), "the page runs its own actions only")
    let garbage = try Self.curl("-u", "admin:hunter2", "-X", "POST", "-d", "csrf=\(token)&command=%zz", action)
    #expect(garbage.stdout.contains("a '%' is not followed by two hexadecimal digits"))
    #expect(!daemon.log.contains("Restarting watchdog"))

    let restart = try Self.curl(
      "-u", "admin:hunter2", "-H", "Origin: \(base.dropLast())", "-X", "POST", "-d",
      "csrf=\(token)&command=RESTART+watchdog", action)
    #expect(restart.stdout.hasSuffix("200"))
    #expect(restart.stdout.contains("RESTART watchdog: Restarting watchdog."))
    #expect(daemon.waitForLog("status page action command=\"RESTART watchdog\""), "the action is logged")
  }

  @Test("with [status] listen empty, the file drop's server serves the page under /~status/")
  func onTheFileDrop() throws {
    let drop = try DropFixture(extra: "[status]\nenabled = true")
    let page = try drop.request(drop.base + "/~status/")
    #expect(page.status == 200)
    #expect(page.body.contains("<h1>test-site</h1>"))
    #expect(try drop.request(drop.base + "/~status").status == 301)
    let metrics = try drop.request(drop.base + "/~status/metrics")
    #expect(metrics.status == 200 && metrics.body.contains("vigie_build_info"))
    #expect(try drop.request(drop.base + "/~status/api/status").body.contains("\"site\":\"test-site\""))
    let status = try drop.daemon.cli("status").stdout
    #expect(
      status.contains("status    running")
        || status.range(of: #"status\s+running"#, options: .regularExpression) != nil, "\(status)")
  }

  @Test(
    "Chromium renders the page at phone and desktop widths",
    .enabled(if: chromium != nil, "Debian's chromium is not installed (scripts/test installs it)"))
  func screenshots() throws {
    let (daemon, base) = try Self.startDaemon()
    try daemon.waitUntilReady()
    try FileManager.default.createDirectory(atPath: Self.artifacts, withIntermediateDirectories: true)
    for (name, size) in [("phone", "390,844"), ("desktop", "1280,900")] {
      let path = "\(Self.artifacts)/status-page-\(name).png"
      try? FileManager.default.removeItem(atPath: path)
      let profile = daemon.directory + "/chromium-\(name)"
      let output = try runProcess(
        Self.chromium!,
        [
          "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(profile)",
          "--window-size=\(size)", "--screenshot=\(path)", base,
        ], timeout: .seconds(120))
      #expect(output.status == 0, "\(output.stderr)")
      let png = try #require(FileManager.default.contents(atPath: path))
      #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")
      let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }
      #expect(width == Int(size.split(separator: ",")[0]))
    }
  }
}
