import Foundation
import Testing
import VigieCore
import VigieWatchdog

#if canImport(Glibc)
  import Glibc
#endif

/// `http:URL` with libcurl against a real nginx in a namespace of our own,
/// over HTTP and HTTPS with a self-signed certificate made by the test (valid
/// 5 days, so that a 14-day minimum fails).
@Suite("HTTP probe (libcurl, nginx)", .serialized)
struct HTTPProbeTests {
  static let needs: Comment =
    "set VIGIE_NETNS_SERVER_TESTS=1 (run alone: they hang when run alongside other process-spawning suites, see the report); needs root, `ip netns`, and the Debian packages nginx-light and openssl (scripts/test installs them)"
  static let available =
    NamespacedServer.optedIn && Netns.isAvailable && NamespacedServer.installed("nginx")
    && NamespacedServer.installed("openssl")

  final class Site {
    let directory: URL
    let server: NamespacedServer

    init(net: Netns.Fixture) throws {
      directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigie-nginx-\(UUID().uuidString)")
      let dir = directory.path
      try FileManager.default.createDirectory(
        at: directory.appendingPathComponent("www"), withIntermediateDirectories: true)
      try "<p>all healthy</p>\n".write(
        to: directory.appendingPathComponent("www/health"), atomically: true, encoding: .utf8)
      try Data(repeating: 0x61, count: 8 << 20).write(to: directory.appendingPathComponent("www/big"))
      try Netns.run([
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "\(dir)/key.pem", "-out", "\(dir)/cert.pem", "-days", "5", "-subj", "/CN=\(net.peer)",
      ])
      let config = """
        daemon off;
        master_process off;
        pid \(dir)/nginx.pid;
        error_log \(dir)/error.log;
        events { worker_connections 64; }
        http {
          access_log off;
          client_body_temp_path \(dir)/body;
          proxy_temp_path \(dir)/proxy;
          fastcgi_temp_path \(dir)/fastcgi;
          uwsgi_temp_path \(dir)/uwsgi;
          scgi_temp_path \(dir)/scgi;
          server {
            listen \(net.peer):80;
            listen \(net.peer):443 ssl;
            ssl_certificate \(dir)/cert.pem;
            ssl_certificate_key \(dir)/key.pem;
            root \(dir)/www;
            location = /slow { return 200 "never"; }
          }
        }
        """
      try config.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
      server = try NamespacedServer(
        "nginx", namespace: net.server, ["nginx", "-e", "\(dir)/error.log", "-c", "\(dir)/nginx.conf"])
    }

    deinit {
      server.stop()
      try? FileManager.default.removeItem(at: directory)
    }
  }

  /// Waits until nginx accepts connections (the bound only catches a hang).
  static func waitForListener(_ host: String, port: Int) async throws {
    for _ in 0..<300 {
      if case .open = try await TCPConnectProbe.probe(host: host, port: port, timeout: .seconds(1)) { return }
      try await Task.sleep(for: .milliseconds(100))
    }
    throw Netns.Failure(description: "nginx never listened on \(host):\(port)")
  }

  @Test(.enabled(if: available, needs))
  func verdicts() async throws {
    let net = try Netns.Fixture(hostSide: true)
    defer { net.tearDown() }
    let site = try Site(net: net)
    try await Self.waitForListener(net.peer, port: 80)
    try await Self.waitForListener(net.peer, port: 443)

    let plain = try await HTTPProbe.probe(
      url: "http://\(net.peer)/health", check: HTTPCheck(bodyContains: "healthy"), verifyTLS: true,
      timeout: .seconds(5))
    guard case .ok(_, 200, nil) = plain else { return #expect(Bool(false), "\(plain)") }

    let missingText = try await HTTPProbe.probe(
      url: "http://\(net.peer)/health", check: HTTPCheck(bodyContains: "sick"), verifyTLS: true,
      timeout: .seconds(5))
    #expect(missingText == .bad("the body does not contain \"sick\""))

    let notFound = try await HTTPProbe.probe(
      url: "http://\(net.peer)/nothing-here", check: HTTPCheck(), verifyTLS: true, timeout: .seconds(5))
    #expect(notFound == .bad("HTTP status 404, expected 200-399"))
    let expected404 = try await HTTPProbe.probe(
      url: "http://\(net.peer)/nothing-here", check: HTTPCheck(statuses: [404...404]), verifyTLS: true,
      timeout: .seconds(5))
    guard case .ok(_, 404, _) = expected404 else { return #expect(Bool(false), "\(expected404)") }

    // An 8 MiB file: the probe stops reading at once (no text to look for).
    let big = try await HTTPProbe.probe(
      url: "http://\(net.peer)/big", check: HTTPCheck(), verifyTLS: true, timeout: .seconds(5))
    guard case .ok(_, 200, _) = big else { return #expect(Bool(false), "\(big)") }

    // HTTPS: the self-signed certificate fails verification...
    let unverified = try await HTTPProbe.probe(
      url: "https://\(net.peer)/health", check: HTTPCheck(), verifyTLS: true, timeout: .seconds(5))
    guard case .bad(let why) = unverified else { return #expect(Bool(false), "\(unverified)") }
    #expect(why.contains("certificate"), "\(why)")
    // ...is accepted without verification, and its 5 days are read.
    let https = try await HTTPProbe.probe(
      url: "https://\(net.peer)/health", check: HTTPCheck(bodyContains: "healthy"), verifyTLS: false,
      timeout: .seconds(5))
    guard case .ok(_, 200, let days?) = https else { return #expect(Bool(false), "\(https)") }
    // 5 days less the time since it was made: 4 whole days, or 5 within the
    // second the certificate was made.
    #expect((4...5).contains(days), "\(days)")
    let expiring = try await HTTPProbe.probe(
      url: "https://\(net.peer)/health", check: HTTPCheck(minimumCertificateDays: 14), verifyTLS: false,
      timeout: .seconds(5))
    #expect(
      expiring == .bad("the TLS certificate expires in 4 days (less than 14)")
        || expiring == .bad("the TLS certificate expires in 5 days (less than 14)"), "\(expiring)")

    // Nothing on port 81: refused. The silent address: timeout.
    let refused = try await HTTPProbe.probe(
      url: "http://\(net.peer):81/", check: HTTPCheck(), verifyTLS: true, timeout: .seconds(5))
    guard case .refused = refused else { return #expect(Bool(false), "\(refused)") }
    let silent = try await HTTPProbe.probe(
      url: "http://\(net.silent)/", check: HTTPCheck(), verifyTLS: true, timeout: .milliseconds(800))
    guard case .timeout = silent else { return #expect(Bool(false), "\(silent)") }
    withExtendedLifetime(site) {}
  }

  @Test(.enabled(if: Netns.isAvailable, Netns.skipReason))
  func cancellation() async throws {
    let net = try Netns.Fixture(hostSide: true)
    defer { net.tearDown() }
    let task = Task {
      try await HTTPProbe.probe(
        url: "http://\(net.silent)/", check: HTTPCheck(), verifyTLS: true, timeout: .seconds(60))
    }
    try await Task.sleep(for: .milliseconds(300))
    task.cancel()
    // Left alone it would end after 60 s with a timeout verdict.
    await #expect(throws: CancellationError.self) { try await task.value }
  }
}
