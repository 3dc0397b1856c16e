import Foundation
import Testing

/// The real `vigie` binary, driven as a user and systemd would drive it.
@Suite("daemon", .serialized)
struct DaemonTests {
  @Test("vigie status shows every service and its state")
  func status() throws {
    let daemon = try TestDaemon(sections: "[sms]\nenabled = false\n[drive]\nenabled = false")
    try daemon.waitUntilReady()
    let output = try daemon.cli("status")
    #expect(output.status == 0)
    #expect(output.stdout.hasPrefix("test-site: vigie "))
    for (service, state) in [
      ("store", "running"), ("control", "running"), ("modem", "disabled"), ("sms", "disabled"), ("drive", "disabled"),
      ("watchdog", "running"), ("filedrop", "disabled"),
    ] {
      #expect(
        output.stdout.range(of: "\n\(service) +\(state) ", options: .regularExpression) != nil,
        "\(service) should be \(state) in:\n\(output.stdout)")
    }
    let json = try daemon.cli("status", "--json")
    let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let services = decoded?["services"] as? [[String: Any]]
    #expect(services?.count == 12)
    #expect(decoded?["site"] as? String == "test-site")
  }

  @Test("vigie cmd runs commands through the registry")
  func commands() throws {
    let daemon = try TestDaemon()
    try daemon.waitUntilReady()
    let help = try daemon.cli("cmd", "HELP")
    #expect(help.status == 0)
    #expect(help.stdout.contains("STATUS"))
    let status = try daemon.cli("cmd", "status")
    #expect(status.stdout.hasPrefix("test-site up "))
    let unknown = try daemon.cli("cmd", "STATSU")
    #expect(unknown.status == 1)
    #expect(unknown.stdout.contains("Did you mean STATUS?"))
    let usage = try daemon.cli("cmd", "RESTART")
    #expect(usage.stdout == "Missing service. Usage: RESTART service\n")
    let ping = try daemon.cli("cmd", "PING", "127.0.0.1")
    #expect(ping.status == 0, "\(ping)")
    #expect(ping.stdout.hasPrefix("PING 127.0.0.1 (127.0.0.1): 3/3 replies"))
    let restart = try daemon.cli("cmd", "RESTART", "modme")
    #expect(restart.stdout.contains("Did you mean modem?"))
    #expect(daemon.log.contains("command refused"))
  }

  @Test("REBOOT runs only after CONFIRM with the code, once")
  func rebootConfirmation() throws {
    let marker = NSTemporaryDirectory() + "vigie-rebooted-\(getpid())"
    defer { unlink(marker) }
    let daemon = try TestDaemon(daemonExtra: "reboot_command = \"echo rebooted >> \(marker)\"")
    try daemon.waitUntilReady()
    let ask = try daemon.cli("cmd", "REBOOT")
    #expect(ask.status == 0)
    let code = try #require(ask.stdout.split(separator: " ").dropFirst(2).first.map(String.init), "\(ask.stdout)")
    #expect(ask.stdout == "Send CONFIRM \(code) within 2 minutes to run REBOOT.\n")
    #expect(!FileManager.default.fileExists(atPath: marker))
    let wrong = try daemon.cli("cmd", "CONFIRM", code == "1000" ? "1001" : "1000")
    #expect(wrong.status == 1)
    #expect(!FileManager.default.fileExists(atPath: marker))
    let confirm = try daemon.cli("cmd", "CONFIRM", code)
    #expect(confirm.stdout == "Rebooting.\n")
    let again = try daemon.cli("cmd", "CONFIRM", code)
    #expect(again.status == 1)
    usleep(300_000)
    #expect((try? String(contentsOfFile: marker, encoding: .utf8)) == "rebooted\n")
    #expect(daemon.log.contains("REBOOT requested"))
  }

  @Test("IP and SIGNAL answer without a modem")
  func ipAndSignal() throws {
    let daemon = try TestDaemon()
    try daemon.waitUntilReady()
    let ip = try daemon.cli("cmd", "IP")
    #expect(ip.status == 0)
    #expect(!ip.stdout.isEmpty)
    let signal = try daemon.cli("cmd", "SIGNAL")
    #expect(signal.stdout == "modem disabled\n")
    let status = try daemon.cli("status")
    #expect(status.stdout.contains("\ndisk "))
  }

  @Test("the control socket is mode 0660 and removed on exit")
  func socketMode() throws {
    let daemon = try TestDaemon()
    try daemon.waitUntilReady()
    let attributes = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)
    #expect((attributes[.posixPermissions] as? Int) == 0o660)
    daemon.signal(SIGTERM)
    #expect(daemon.waitForExit(timeout: .seconds(10)) == 0)
    #expect(!FileManager.default.fileExists(atPath: daemon.socketPath))
  }

  @Test("SIGTERM stops the daemon gracefully within 5 s")
  func gracefulShutdown() throws {
    let daemon = try TestDaemon()
    try daemon.waitUntilReady()
    let start = ContinuousClock.now
    daemon.signal(SIGTERM)
    let status = daemon.waitForExit(timeout: .seconds(10))
    #expect(status == 0, "log:\n\(daemon.log)")
    #expect(ContinuousClock.now - start < .seconds(5))
    #expect(daemon.log.contains("vigie stopped"))
  }

  @Test("SIGHUP reloads: only changed sections restart; an invalid file keeps the running config")
  func reload() throws {
    let daemon = try TestDaemon(sections: "[sms]\nenabled = true\n[watchdog]\ninterval = \"60s\"")
    try daemon.waitUntilReady()
    #expect(try daemon.cli("status").stdout.range(of: "\nsms +running", options: .regularExpression) != nil)

    try daemon.rewrite(sections: "[sms]\nenabled = false\n[watchdog]\ninterval = \"60s\"")
    daemon.signal(SIGHUP)
    // The alert router uses [sms] too (budget, country code): it restarts with it.
    #expect(daemon.waitForLog("configuration reloaded restarted=alerts,sms"), "log:\n\(daemon.log)")
    #expect(try daemon.cli("status").stdout.range(of: "\nsms +disabled", options: .regularExpression) != nil)

    try daemon.rewrite(sections: "[sms]\nenabled = false\n[watchdog]\ninterval = \"soon\"\nintervall = 3")
    daemon.signal(SIGHUP)
    #expect(daemon.waitForLog("reload refused"), "log:\n\(daemon.log)")
    #expect(daemon.log.contains("watchdog.interval"))
    #expect(daemon.log.contains("did you mean 'interval'"))
    #expect(try daemon.cli("status").status == 0)

    try daemon.rewrite(
      sections: "[sms]\nenabled = false\n[watchdog]\ninterval = \"30s\"", daemonExtra: "log_level = \"debug\"")
    daemon.signal(SIGHUP)
    #expect(daemon.waitForLog("restarted=watchdog"), "log:\n\(daemon.log)")
    #expect(daemon.log.contains("these settings apply at the next start of vigie keys=daemon.log_level"))
  }

  @Test("without a daemon, status and cmd say so and exit 3")
  func notRunning() throws {
    let output = try vigie("status", "--socket", "/tmp/vigie-no-such-dir/control.sock")
    #expect(output.status == 3)
    #expect(output.stderr.contains("vigie is not running"))
    let command = try vigie("cmd", "--socket", "/tmp/vigie-no-such-dir/control.sock", "STATUS")
    #expect(command.status == 3)
  }

  @Test("a second daemon on the same socket refuses to start")
  func singleInstance() throws {
    let first = try TestDaemon()
    try first.waitUntilReady()
    let second = try runProcess(Products.path("vigie"), ["run", "--config", first.configPath], timeout: .seconds(20))
    #expect(second.status != 0)
    #expect(second.stderr.contains("another vigie is already running"))
    #expect(try first.cli("status").status == 0)
  }

  @Test("sd_notify: READY=1, STATUS=, WATCHDOG=1 pings and STOPPING=1 reach a real notify socket")
  func systemdNotify() throws {
    let socketPath = NSTemporaryDirectory() + "vigie-notify-\(getpid()).sock"
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    defer {
      close(fd)
      unlink(socketPath)
    }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socketPath.utf8)) }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    try #require(bound == 0)
    var tv = timeval(tv_sec: 15, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    func receive() -> String? {
      var buffer = [UInt8](repeating: 0, count: 4096)
      let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      return n >= 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }

    let daemon = try TestDaemon(environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "400000"])
    var messages: [String] = []
    while let message = receive() {
      messages.append(message)
      if messages.filter({ $0 == "WATCHDOG=1" }).count >= 3, messages.contains(where: { $0.hasPrefix("READY=1") }) {
        break
      }
    }
    let ready = messages.first { $0.hasPrefix("READY=1") }
    #expect(ready?.contains("STATUS=") == true, "\(messages)")
    #expect(messages.filter { $0 == "WATCHDOG=1" }.count >= 3, "\(messages)")
    daemon.signal(SIGTERM)
    var stopping = false
    while let message = receive() {
      if message.hasPrefix("STOPPING=1") {
        stopping = true
        break
      }
    }
    #expect(stopping)
    #expect(daemon.waitForExit(timeout: .seconds(10)) == 0)
  }

  @Test("vigie config check lists every problem with its line and exits 78")
  func configCheck() throws {
    let file = NSTemporaryDirectory() + "vigie-check-\(getpid()).toml"
    defer { unlink(file) }
    try """
    [modem]
    devcie = "auto"

    [watchdog]
    interval = true

    [[watchdog.target]]
    name = "gw"
    host = "192.0.2.1"
    probe = "tcp:99999"
    """.write(toFile: file, atomically: true, encoding: .utf8)
    let output = try vigie("config", "check", file)
    #expect(output.status == 78)
    #expect(output.stderr.contains("3 problems"))
    #expect(output.stderr.contains("line 2: modem.devcie: unknown key 'devcie'; did you mean 'device'?"))
    #expect(output.stderr.contains("line 5: watchdog.interval: expected a duration"))
    #expect(output.stderr.contains("line 10: watchdog.target[1].probe:"))
    try "".write(toFile: file, atomically: true, encoding: .utf8)
    let empty = try vigie("config", "check", file)
    #expect(empty.status == 0)
    #expect(empty.stdout.contains("OK"))
  }

  @Test("vigie config show prints the effective configuration with secrets masked")
  func configShow() throws {
    let file = NSTemporaryDirectory() + "vigie-show-\(getpid()).toml"
    defer { unlink(file) }
    try "[modem]\npin = \"4321\"\n".write(toFile: file, atomically: true, encoding: .utf8)
    chmod(file, 0o600)
    let output = try vigie("config", "show", file)
    #expect(output.status == 0)
    #expect(output.stdout.contains("pin = \"********\""))
    #expect(!output.stdout.contains("4321"))
    #expect(output.stdout.contains("[watchdog]\nenabled = true"))
  }

  @Test("vigie --help names the subcommands")
  func help() throws {
    let output = try vigie("--help")
    for word in ["run", "status", "cmd", "config", "version"] { #expect(output.stdout.contains(word)) }
    let version = try vigie("version")
    #expect(version.stdout.hasPrefix("vigie "))
  }

  @Test("vigie probe pings and checks TCP ports without a daemon")
  func probe() throws {
    let ping = try vigie("probe", "127.0.0.1", "--count", "2")
    #expect(ping.status == 0)
    #expect(ping.stdout.hasPrefix("PING 127.0.0.1 (127.0.0.1): 2/2 replies"))
    let closed = try vigie("probe", "127.0.0.1", "--tcp", "1")
    #expect(closed.status == 1)
    #expect(closed.stdout == "TCP 127.0.0.1:1: closed\n")
    let bad = try vigie("probe", "127.0.0.1", "--tcp", "70000")
    #expect(bad.status != 0)
    #expect(bad.stderr.contains("--tcp must be a port"))
    // Any watchdog probe, as many times as asked: port 1 is closed over UDP too.
    let openVPN = try vigie("probe", "127.0.0.1", "--udp-openvpn", "1", "--count", "2")
    #expect(openVPN.status == 1)
    #expect(
      openVPN.stdout
        == "udp-openvpn:1 127.0.0.1: failed: refused: ICMP port unreachable\n"
        + "udp-openvpn:1 127.0.0.1: failed: refused: ICMP port unreachable\n0/2 answered\n")
    let dns = try vigie("probe", "127.0.0.1", "--probe", "dns:example.org")
    #expect(dns.status == 1)
    #expect(dns.stdout == "dns:example.org 127.0.0.1: failed: refused: ICMP port unreachable\n")
    // A sweep of 127.0.0.0/30: both hosts of the loopback network answer.
    let sweep = try vigie("probe", "-", "--sweep", "127.0.0.0/30", "--rate", "50")
    #expect(sweep.status == 0)
    let lines = sweep.stdout.split(separator: "\n")
    #expect(lines.count == 3, "\(sweep.stdout)")
    #expect(
      lines.first?.hasPrefix("127.0.0.1 is alive (") == true
        && lines.dropFirst().first?.hasPrefix("127.0.0.2 is alive (") == true)
    #expect(lines.last?.hasPrefix("127.0.0.0/30: 2/2 alive in ") == true)
    let wide = try vigie("probe", "-", "--sweep", "10.0.0.0/8")
    #expect(wide.status != 0 && wide.stderr.contains("sweep a /16 to a /32"))
    let wrong = try vigie("probe", "127.0.0.1", "--probe", "udp:53")
    #expect(wrong.status != 0)
    #expect(wrong.stderr.contains("(did you mean 'udp-openvpn'?)"))
  }
}
