import Testing

@testable import VigieCore

@Suite("STATUS: the WAN line and the one-SMS rendering")
struct StatusSMSTests {
  static func modem(
    _ phase: ModemSnapshot.Phase = .ready, operator name: String = "Orange F", registration: String = "home",
    dBm: Int? = -71
  ) -> ModemSnapshot {
    var modem = ModemSnapshot()
    modem.phase = phase
    modem.operatorName = name
    modem.operatorCode = "208 01"
    modem.registration = registration
    modem.signalDBm = dBm
    return modem
  }

  /// Every service of a real configuration, as `vigie run` lists them.
  static func services(_ overrides: [String: ServiceState] = [:]) -> [ServiceStatus] {
    ["modem", "sms", "watchdog", "alerts", "irc", "xmpp", "filedrop", "drive", "lights", "web"].map { name in
      ServiceStatus(name: name, state: overrides[name] ?? .running, restarts: 0, sinceSeconds: 3600)
    }
  }

  static func report(
    site: String = "pi-maison", modem: ModemSnapshot? = modem(), wan: WANState? = .up,
    services: [ServiceStatus] = services(), addresses: [String] = ["eth0 192.168.1.20", "wwan0 10.64.1.7"]
  ) -> StatusReport {
    StatusReport(
      site: site, version: "0.4.0", uptimeSeconds: 3 * 86_400 + 4 * 3600 + 12 * 60, services: services, modem: modem,
      wan: wan, addresses: addresses, disk: DiskSpace(free: 12_400_000_000, total: 29_800_000_000),
      details: ["targets: gateway up 0.4 ms, nas up 1.2 ms, dns up 12.0 ms"], utcOffset: 3600)
  }

  @Test("a healthy box: every fact in one SMS, most important first")
  func healthy() {
    let text = Self.report().sms
    #expect(
      text
        == "pi-maison: GSM Orange F home -71dBm; WAN up; svc ok; up 3d4h; disk 58% 11.5G free; IP eth0 192.168.1.20 wwan0 10.64.1.7"
    )
    #expect(StatusReport.smsLength(text) <= 160)
  }

  @Test(
    "realistic bad days still fit in one SMS",
    arguments: [
      report(wan: .down(since: 1_764_072_300)),
      report(
        modem: modem(.recovering), wan: .down(since: nil),
        services: services([
          "irc": .backingOff(failures: 12, lastError: "connection refused by irc.libera.chat:6697 (TLS)"),
          "xmpp": .backingOff(failures: 3, lastError: "timeout"),
          "drive": .degraded("FUSE mount /srv/drive is stale; run fusermount -u"),
        ])),
      report(
        site: "maison-de-campagne-des-grands-parents",
        modem: modem(operator: "Bouygues Telecom", registration: "roaming"),
        addresses: [
          "eth0 192.168.100.254", "wlan0 192.168.200.254", "wwan0 10.164.211.107", "tun0 10.8.0.2",
          "eth0 2a01:cb00:8c1:2f00:ba27:ebff:fe12:3456",
        ]),
      report(modem: modem(.locked), wan: .unknown("no internet target watched")),
      report(
        services: services([
          "modem": .backingOff(failures: 1, lastError: "x"), "sms": .stopped,
          "watchdog": .backingOff(failures: 2, lastError: "y"),
          "alerts": .stopping, "irc": .degraded("a"), "xmpp": .degraded("b"), "filedrop": .stopped, "drive": .stopped,
          "lights": .stopped, "web": .stopped,
        ])),
      report(services: services(["lights": .notImplemented, "web": .notImplemented, "drive": .notImplemented])),
    ])
  func fits(report: StatusReport) {
    let text = report.sms
    #expect(StatusReport.smsLength(text) <= 160, "\(text.count): \(text)")
    #expect(GSMAlphabet.canEncode(text))
    // The first facts are never the ones dropped.
    if let modem = report.modem { #expect(text.contains(StatusReport.compactModem(modem))) }
    #expect(text.contains("WAN "))
  }

  @Test("problems come right after the WAN, and the lower facts give way")
  func problemsFirst() {
    let text = Self.report(
      wan: .down(since: 1_764_072_300),
      services: Self.services([
        "irc": .backingOff(failures: 12, lastError: "connection refused"), "drive": .degraded("stale mount"),
      ])
    ).sms
    #expect(
      text.hasPrefix(
        "pi-maison: GSM Orange F home -71dBm; WAN DOWN 13:05; svc irc restarting(12), drive degraded; up 3d4h"))
    #expect(text.contains("disk 58% 11.5G free"))
  }

  @Test("the long forms keep every fact, the WAN on its own line")
  func longForms() {
    let report = Self.report(wan: .down(since: 1_764_072_300))
    let table = report.table
    #expect(table.contains("\nmodem Orange F, home, -71 dBm\nWAN down since 13:05\ntargets: gateway up"))
    #expect(table.contains("IP eth0 192.168.1.20, wwan0 10.64.1.7\ndisk 11.5G free of 27.8G (58% used)"))
    #expect(report.compact.contains("; WAN down since 13:05; "))
  }

  @Test(
    "the WAN state from the watchdog's verdicts",
    arguments: [
      (nil, [], WANState.unknown("no internet target watched")),
      (WANState.Verdict(state: .up), [WANState.Verdict(state: .down, outageSince: 5)], .up),
      (WANState.Verdict(state: .down, outageSince: 100), [WANState.Verdict(state: .up)], .down(since: 100)),
      (WANState.Verdict(state: .unreachable), [], .down(since: nil)),
      (WANState.Verdict(state: .unknown), [], .unknown("not probed yet")),
      (nil, [WANState.Verdict(state: .down, outageSince: 50), WANState.Verdict(state: .up)], .up),
      (
        nil, [WANState.Verdict(state: .down, outageSince: 50), WANState.Verdict(state: .unreachable, outageSince: 40)],
        .down(since: 40)
      ),
      (
        nil, [WANState.Verdict(state: .down, outageSince: 50), WANState.Verdict(state: .inconclusive)],
        .unknown("inconclusive")
      ),
      (nil, [WANState.Verdict(state: .unknown), WANState.Verdict(state: .unknown)], .unknown("not probed yet")),
    ] as [(WANState.Verdict?, [WANState.Verdict], WANState)])
  func derive(uplink: WANState.Verdict?, internet: [WANState.Verdict], expected: WANState) {
    #expect(WANState.derive(uplink: uplink, internet: internet) == expected)
  }

  @Test("WAN lines and clock times in the local zone")
  func lines() {
    #expect(WANState.up.line(utcOffset: 0) == "WAN up")
    #expect(WANState.down(since: 1_764_072_300).line(utcOffset: 0) == "WAN down since 12:05")
    #expect(WANState.down(since: 1_764_072_300).line(utcOffset: -5 * 3600) == "WAN down since 07:05")
    #expect(WANState.down(since: 1_764_072_300).line(utcOffset: 13 * 3600) == "WAN down since 01:05")
    #expect(WANState.unknown("no watchdog targets").line(utcOffset: 0) == "WAN unknown (no watchdog targets)")
    #expect(WANState.unknown("x").compact(utcOffset: 0) == "WAN ?")
  }

  @Test("SIGNAL: the fresh reading, or the last one with its age and why")
  func signalReply() {
    var modem = Self.modem()
    modem.lastSeen = 1000
    #expect(modem.signalReply(now: 1003, fresh: true) == "modem Orange F, home, -71 dBm (read now)")
    #expect(modem.signalReply(now: 1012, fresh: false) == "modem busy; last reading 12s ago: Orange F, home, -71 dBm")
    modem.phase = .recovering
    modem.lastError = "reading the signal: no answer within 5 seconds"
    #expect(
      modem.signalReply(now: 1250, fresh: true)
        == "modem not answering (recovering): reading the signal: no answer within 5 seconds; last reading 4m10s ago: Orange F, home, -71 dBm"
    )
    var absent = ModemSnapshot()
    absent.phase = .absent
    #expect(absent.signalReply(now: 5, fresh: false) == "no modem")
  }
}
