import Testing
import VigieCore

// MARK: - Fixtures

/// One serial port of a fake USB device.
private func port(
  _ node: String, iface: UInt8?, vid: UInt16? = 0x12d1, pid: UInt16? = 0x1001,
  driver: String? = "option", usb: String? = "/sys/devices/usb1/1-1",
  hints: ModemManagerPortHints = [], triple: USBInterfaceClass? = nil
) -> SerialPortInfo {
  let interface = iface.map { "1-1:1.\($0)" } ?? "x"
  return SerialPortInfo(
    devnode: "/dev/\(node)",
    syspath: "\(usb ?? "/sys/devices/platform")/\(interface)/\(node)/tty/\(node)",
    vendorID: vid, productID: pid, interfaceNumber: iface, interfaceClass: triple, driver: driver,
    hints: hints, links: iface.map { ["/dev/serial/by-id/usb-X-if0\($0)-port0"] } ?? [],
    usbDeviceSyspath: usb, model: vid == nil ? nil : "Fake_Modem")
}

/// A Huawei E1750 (12d1:1001): interfaces 00, 01, 02 on ttyUSB<first>...
private func e1750(first: Int = 0, usb: String = "/sys/devices/usb1/1-1", pid: UInt16 = 0x1001)
  -> [SerialPortInfo]
{
  (0..<3).map { port("ttyUSB\(first + $0)", iface: UInt8($0), pid: pid, usb: usb) }
}

private let uart = SerialPortInfo(
  devnode: "/dev/ttyS0", syspath: "/sys/devices/platform/serial8250/tty/ttyS0")
private let console = SerialPortInfo(devnode: "/dev/tty1", syspath: "/sys/devices/virtual/tty/tty1")

/// A selection case: ports, setting, and what must come out.
struct SelectionCase: CustomTestStringConvertible, Sendable {
  var name: String
  var ports: [SerialPortInfo]
  var setting: ModemDeviceSetting = .auto
  /// Expected device, or nil for "unavailable".
  var device: String?
  var rule: ModemPortChoice.Rule?
  /// Words the reason must contain.
  var reasonContains: [String] = []
  var testDescription: String { name }
}

private let pcui = USBInterfaceClass(classCode: 0xff, subclass: 0x02, protocolCode: 0x02)
private let huaweiModemPort = USBInterfaceClass(classCode: 0xff, subclass: 0x02, protocolCode: 0x01)
private let huaweiDiag = USBInterfaceClass(classCode: 0xff, subclass: 0x02, protocolCode: 0x12)

private let selectionCases: [SelectionCase] = [
  SelectionCase(
    name: "E1750: the PCUI, interface 02", ports: e1750() + [uart, console],
    device: "/dev/ttyUSB2", rule: .knownModem, reasonContains: ["interface 02", "PCUI"]),
  SelectionCase(
    name: "E1750 renumbered after a replug", ports: e1750(first: 3), device: "/dev/ttyUSB5",
    rule: .knownModem),
  SelectionCase(
    name: "ports listed in any order", ports: e1750().reversed(), device: "/dev/ttyUSB2",
    rule: .knownModem),
  SelectionCase(
    name: "no port at all", ports: [], device: nil, reasonContains: ["no serial port"]),
  SelectionCase(
    name: "only a UART and a console", ports: [uart, console], device: nil,
    reasonContains: ["no USB serial port", "usb_modeswitch"]),
  SelectionCase(
    name: "a single-port FTDI adapter is not a modem",
    ports: [port("ttyUSB0", iface: 0, vid: 0x0403, pid: 0x6001, driver: "ftdi_sio")],
    device: nil, reasonContains: ["single-port", "[modem] device"]),
  SelectionCase(
    name: "two modems: the first in sysfs order, and the reason says so",
    ports: [
      port("ttyUSB3", iface: 1, vid: 0x19d2, pid: 0x0031, usb: "/sys/devices/usb1/1-2"),
      port("ttyUSB4", iface: 3, vid: 0x19d2, pid: 0x0031, usb: "/sys/devices/usb1/1-2"),
    ] + e1750(),
    device: "/dev/ttyUSB2", rule: .knownModem, reasonContains: ["2 modems"]),
  SelectionCase(
    name: "ModemManager's primary tag beats the table",
    ports: [port("ttyUSB0", iface: 0, hints: .atPrimary)] + Array(e1750().dropFirst()),
    device: "/dev/ttyUSB0", rule: .udevHint, reasonContains: ["primary AT port"]),
  SelectionCase(
    name: "a port tagged both primary and QCDM is never chosen",
    ports: [port("ttyUSB0", iface: 0, hints: [.atPrimary, .qcdm])] + Array(e1750().dropFirst()),
    device: "/dev/ttyUSB2", rule: .knownModem),
  SelectionCase(
    name: "unknown modem: lowest interface, skipping QCDM and GPS",
    ports: [
      port("ttyUSB0", iface: 0, vid: 0x1234, pid: 0x5678, hints: .qcdm),
      port("ttyUSB1", iface: 1, vid: 0x1234, pid: 0x5678, hints: .gps),
      port("ttyUSB2", iface: 2, vid: 0x1234, pid: 0x5678),
      port("ttyUSB3", iface: 3, vid: 0x1234, pid: 0x5678),
    ],
    device: "/dev/ttyUSB2", rule: .fallback, reasonContains: ["lowest interface (02)"]),
  SelectionCase(
    name: "unknown modem: a secondary AT tag beats the lowest interface",
    ports: [
      port("ttyUSB0", iface: 0, vid: 0x1234, pid: 0x5678),
      port("ttyUSB1", iface: 1, vid: 0x1234, pid: 0x5678, hints: .atSecondary),
    ],
    device: "/dev/ttyUSB1", rule: .fallback, reasonContains: ["tags it"]),
  SelectionCase(
    name: "E3372 in serial mode: the PCUI by descriptor, whatever its number",
    ports: [
      port("ttyUSB0", iface: 0, pid: 0x1506, triple: huaweiModemPort),
      port("ttyUSB1", iface: 1, pid: 0x1506, triple: huaweiDiag),
      port("ttyUSB2", iface: 3, pid: 0x1506, triple: pcui),
    ],
    device: "/dev/ttyUSB2", rule: .knownModem, reasonContains: ["ff/01|02/02"]),
  SelectionCase(
    name: "E3372 without descriptors (missing sysfs attributes): lowest interface",
    ports: [
      port("ttyUSB0", iface: 0, pid: 0x1506), port("ttyUSB1", iface: 1, pid: 0x1506),
    ],
    device: "/dev/ttyUSB0", rule: .fallback, reasonContains: ["which is absent"]),
  SelectionCase(
    name: "12d1:1436 with its PCUI (04) missing: fallback, and the reason says why",
    ports: e1750(pid: 0x1436), device: "/dev/ttyUSB0", rule: .fallback,
    reasonContains: ["expected USB interface 04"]),
  SelectionCase(
    name: "a known modem with one port so far: wait for the others",
    ports: [port("ttyUSB0", iface: 0)], device: nil, reasonContains: ["not there (yet?)"]),
  SelectionCase(
    name: "ZTE 19d2:0117: the modem interface 02",
    ports: (0..<4).map { port("ttyUSB\($0)", iface: UInt8($0), vid: 0x19d2, pid: 0x0117) },
    device: "/dev/ttyUSB2", rule: .knownModem),
  SelectionCase(
    name: "ZTE 19d2:2003: the modem interface 03",
    ports: [0, 1, 3].enumerated().map {
      port("ttyUSB\($0.offset)", iface: UInt8($0.element), vid: 0x19d2, pid: 0x2003)
    },
    device: "/dev/ttyUSB2", rule: .knownModem),
  SelectionCase(
    name: "missing interface numbers: natural device order (ttyUSB9 before ttyUSB10)",
    ports: [
      port("ttyUSB10", iface: nil, vid: 0x1234, pid: 0x1),
      port("ttyUSB9", iface: nil, vid: 0x1234, pid: 0x1),
    ],
    device: "/dev/ttyUSB9", rule: .fallback),
  SelectionCase(
    name: "missing USB device path: grouped by USB ID",
    ports: e1750().map {
      var p = $0
      p.usbDeviceSyspath = nil
      return p
    }, device: "/dev/ttyUSB2", rule: .knownModem),
  SelectionCase(
    name: "missing vendor and product: not a USB modem",
    ports: e1750().map {
      var p = $0
      p.vendorID = nil
      p.productID = nil
      return p
    }, device: nil),
  SelectionCase(
    name: "cdc_acm modem: lowest ttyACM",
    ports: [
      port("ttyACM1", iface: 2, vid: 0x1519, pid: 0x0020, driver: "cdc_acm"),
      port("ttyACM0", iface: 0, vid: 0x1519, pid: 0x0020, driver: "cdc_acm"),
    ], device: "/dev/ttyACM0", rule: .fallback),
  SelectionCase(
    name: "qcserial ports without tags are not guessed (interface 0 is often QCDM)",
    ports: (0..<3).map {
      port("ttyUSB\($0)", iface: UInt8($0), vid: 0x1199, pid: 0x68a2, driver: "qcserial")
    },
    device: nil),
  SelectionCase(
    name: "the same device node twice (racy input)", ports: e1750() + e1750(),
    device: "/dev/ttyUSB2", rule: .knownModem),
  SelectionCase(
    name: "configured device node wins over the table", ports: e1750(),
    setting: .path("/dev/ttyUSB0", resolved: "/dev/ttyUSB0"), device: "/dev/ttyUSB0",
    rule: .configured, reasonContains: ["[modem] device = /dev/ttyUSB0"]),
  SelectionCase(
    name: "configured by-id link, resolved after a replug", ports: e1750(first: 3),
    setting: .path("/dev/serial/by-id/usb-X-if02-port0", resolved: "/dev/ttyUSB5"),
    device: "/dev/ttyUSB5", rule: .configured, reasonContains: ["→ /dev/ttyUSB5"]),
  SelectionCase(
    name: "configured link that does not resolve (unplugged)", ports: [uart],
    setting: .path("/dev/serial/by-id/usb-X-if02-port0", resolved: nil), device: nil,
    reasonContains: ["does not exist"]),
  SelectionCase(
    name: "configured device udev does not list (a pty)", ports: e1750(),
    setting: .path("/dev/pts/7", resolved: "/dev/pts/7"), device: "/dev/pts/7", rule: .configured,
    reasonContains: ["cannot be followed"]),
  SelectionCase(
    name: "configured QCDM port is refused",
    ports: [port("ttyUSB0", iface: 0, vid: 0x1234, pid: 0x5678, hints: .qcdm)],
    setting: .path("/dev/ttyUSB0", resolved: "/dev/ttyUSB0"), device: nil,
    reasonContains: ["QCDM", "never answers AT"]),
  SelectionCase(
    name: "configured link found through DEVLINKS when realpath lands elsewhere",
    ports: e1750(),
    setting: .path("/dev/serial/by-id/usb-X-if00-port0", resolved: "/dev/weird"),
    device: "/dev/ttyUSB0", rule: .configured),
]

// MARK: - Tests

@Suite("modem port selection")
struct ModemPortSelectionTests {
  @Test("chooses the AT port, or says why not", arguments: selectionCases)
  func selection(_ c: SelectionCase) {
    let selection = ModemPortSelector.choose(ports: c.ports, configured: c.setting)
    #expect(selection.choice?.devicePath == c.device, "\(selection.reason)")
    if let rule = c.rule { #expect(selection.choice?.rule == rule, "\(selection.reason)") }
    for word in c.reasonContains {
      #expect(selection.reason.contains(word), "reason: \(selection.reason)")
    }
    #expect(!selection.reason.isEmpty)
    if let choice = selection.choice, let port = choice.port {
      #expect(!port.hints.isNotAT, "a QCDM/GPS port was chosen")
    }
  }

  @Test("shuffled input gives the same choice")
  func shuffled() {
    var generator = SplitMix64(seed: 42)
    let ports =
      e1750(first: 3) + [uart, console]
      + [port("ttyUSB9", iface: 0, vid: 0x0403, pid: 0x6001, driver: "ftdi_sio", usb: "/sys/x")]
    for _ in 0..<50 {
      let selection = ModemPortSelector.choose(
        ports: ports.shuffled(using: &generator), configured: .auto)
      #expect(selection.choice?.devicePath == "/dev/ttyUSB5")
    }
  }

  @Test("the setting: auto, empty, or a path resolved now")
  func setting() {
    #expect(ModemDeviceSetting.parse("auto") { _ in "/x" } == .auto)
    #expect(ModemDeviceSetting.parse("") { _ in "/x" } == .auto)
    #expect(
      ModemDeviceSetting.parse("/dev/vigie-modem") {
        $0 == "/dev/vigie-modem" ? "/dev/ttyUSB4" : nil
      }
        == .path("/dev/vigie-modem", resolved: "/dev/ttyUSB4"))
    #expect(ModemDeviceSetting.parse("/dev/gone") { _ in nil } == .path("/dev/gone", resolved: nil))
  }
}

@Suite("serial port info from udev properties")
struct SerialPortInfoTests {
  @Test("a complete tty of an E1750")
  func complete() throws {
    let info = try #require(
      SerialPortInfo(
        syspath: "/sys/devices/usb1/1-1/1-1:1.2/ttyUSB2/tty/ttyUSB2",
        properties: [
          "DEVNAME": "/dev/ttyUSB2", "SUBSYSTEM": "tty", "ID_VENDOR_ID": "12D1",
          "ID_MODEL_ID": "1001", "ID_USB_INTERFACE_NUM": "02", "ID_USB_DRIVER": "option",
          "ID_MODEL": "HUAWEI_Mobile", "ID_MM_PORT_TYPE_AT_PRIMARY": "1",
          "DEVLINKS":
            "/dev/serial/by-path/platform-x-usb-0:1:1.2-port0 /dev/serial/by-id/usb-HUAWEI-if02-port0 /dev/vigie-modem",
        ], interfaceClass: pcui, usbDeviceSyspath: "/sys/devices/usb1/1-1"))
    #expect(info.devnode == "/dev/ttyUSB2")
    #expect(info.usbID == "12d1:1001")
    #expect(info.interfaceNumber == 2)
    #expect(info.driver == "option")
    #expect(info.hints == .atPrimary)
    #expect(info.byIDLinks == ["/dev/serial/by-id/usb-HUAWEI-if02-port0"])
    #expect(info.links.count == 3)
    #expect(info.interfaceClass?.description == "ff/02/02")
  }

  @Test(
    "hostile or missing properties never crash and never invent values",
    arguments: [
      ["DEVNAME": ""],
      ["ID_VENDOR_ID": "12d1"],
      ["DEVNAME": "ttyUSB0", "ID_VENDOR_ID": "zz12", "ID_MODEL_ID": "0x1001"],
      ["DEVNAME": "/dev/ttyUSB0", "ID_VENDOR_ID": "12d10", "ID_USB_INTERFACE_NUM": "002"],
      ["DEVNAME": "/dev/ttyUSB0", "ID_VENDOR_ID": " 12d1", "ID_USB_INTERFACE_NUM": "-1"],
      ["DEVNAME": "/dev/ttyUSB0", "ID_VENDOR_ID": "１２d1", "ID_USB_DRIVER": ""],
      ["DEVNAME": "/dev/tty\u{0}USB0"],
      ["DEVNAME": "/dev/ttyUSB0", "ID_MM_PORT_TYPE_QCDM": "yes", "DEVLINKS": "   "],
    ])
  func hostile(_ properties: [String: String]) {
    let info = SerialPortInfo(syspath: "/sys/x", properties: properties)
    guard let info else {
      #expect(properties["DEVNAME"].map { $0.isEmpty || $0.contains("\0") } ?? true)
      return
    }
    #expect(info.devnode.hasPrefix("/dev/"))
    #expect(info.vendorID == nil)
    #expect(info.productID == nil)
    #expect(info.interfaceNumber == nil)
    #expect(info.driver == nil)
    #expect(info.hints.isEmpty)
    #expect(info.links.isEmpty)
  }

  @Test("a relative DEVNAME (kernel uevent) is taken under /dev")
  func relative() {
    #expect(
      SerialPortInfo(syspath: "/s", properties: ["DEVNAME": "ttyACM0"])?.devnode == "/dev/ttyACM0")
  }

  @Test("interface class from sysfs attributes")
  func interfaceClass() {
    #expect(
      USBInterfaceClass(classCode: "ff", subclass: "01", protocolCode: "02")?.description
        == "ff/01/02")
    #expect(USBInterfaceClass(classCode: "ff", subclass: nil, protocolCode: "02") == nil)
    #expect(USBInterfaceClass(classCode: "fff", subclass: "01", protocolCode: "02") == nil)
  }

  @Test("vendor tags of ModemManager map onto the generic flags")
  func vendorTags() {
    #expect(ModemManagerPortHints(udevProperties: ["ID_MM_HUAWEI_AT_PORT": "1"]) == .atPrimary)
    #expect(ModemManagerPortHints(udevProperties: ["ID_MM_ZTE_PORT_TYPE_MODEM": "1"]) == .atPrimary)
    #expect(ModemManagerPortHints(udevProperties: ["ID_MM_ZTE_PORT_TYPE_AUX": "1"]) == .atSecondary)
    #expect(ModemManagerPortHints(udevProperties: ["ID_MM_HUAWEI_GPS_PORT": "1"]).isNotAT)
    #expect(ModemManagerPortHints(udevProperties: ["ID_MM_PORT_TYPE_QCDM": "0"]).isEmpty)
  }
}

@Suite("known modems")
struct KnownModemsTests {
  /// Storage (CD-ROM) mode IDs that usb_modeswitch switches: never a modem.
  static let storageIDs: [(UInt16, UInt16)] = [
    (0x12d1, 0x1446), (0x12d1, 0x1f01), (0x12d1, 0x14fe), (0x12d1, 0x1c0b), (0x19d2, 0x2000),
  ]

  @Test("each USB ID appears once, and no storage-mode ID is listed")
  func unique() {
    var seen: Set<UInt32> = []
    for modem in KnownModems.all {
      for product in modem.productIDs {
        #expect(seen.insert(UInt32(modem.vendorID) << 16 | UInt32(product)).inserted)
      }
    }
    for (vendor, product) in Self.storageIDs {
      #expect(KnownModems.lookup(vendorID: vendor, productID: product) == nil)
    }
  }

  @Test(
    "the brief's modems are known",
    arguments: [
      (UInt16(0x12d1), UInt16(0x1001)), (0x12d1, 0x1436), (0x12d1, 0x1c05), (0x12d1, 0x14a5),
      (0x12d1, 0x1506), (0x12d1, 0x1442), (0x19d2, 0x0031), (0x19d2, 0x0117), (0x19d2, 0x2003),
    ])
  func known(vendor: UInt16, product: UInt16) {
    #expect(KnownModems.lookup(vendorID: vendor, productID: product) != nil)
  }
}

@Suite("modem presence")
struct ModemPresenceTests {
  private func update(
    _ tracker: inout ModemPresenceTracker, _ ports: [SerialPortInfo],
    _ setting: ModemDeviceSetting = .auto
  ) -> [String] {
    let selection = ModemPortSelector.choose(ports: ports, configured: setting)
    return tracker.update(ports: ports, selection: selection).map { change in
      switch change {
      case .appeared(let choice): "appeared \(choice.devicePath)"
      case .gone(let choice, _): "gone \(choice.devicePath)"
      case .absent: "absent"
      }
    }
  }

  @Test("absent, appeared, gone, appeared under a new name")
  func replug() {
    var tracker = ModemPresenceTracker()
    #expect(update(&tracker, [uart]) == ["absent"])
    #expect(update(&tracker, [uart]) == [])
    #expect(update(&tracker, e1750()) == ["appeared /dev/ttyUSB2"])
    #expect(update(&tracker, e1750()) == [])
    #expect(update(&tracker, [uart]) == ["gone /dev/ttyUSB2"])
    #expect(tracker.current == nil)
    #expect(update(&tracker, e1750(first: 3)) == ["appeared /dev/ttyUSB5"])
  }

  @Test("a second modem does not steal the session")
  func sticky() {
    var tracker = ModemPresenceTracker()
    let zte = [1, 3].map {
      port(
        "ttyUSB\($0 + 10)", iface: UInt8($0), vid: 0x19d2, pid: 0x0031, usb: "/sys/devices/usb1/1-0"
      )
    }
    #expect(update(&tracker, e1750()) == ["appeared /dev/ttyUSB2"])
    // The ZTE sorts first in sysfs order, but the E1750 is in use.
    #expect(update(&tracker, zte + e1750()) == [])
    #expect(update(&tracker, zte) == ["gone /dev/ttyUSB2", "appeared /dev/ttyUSB13"])
  }

  @Test("a better port of the same modem takes over")
  func betterPort() {
    var tracker = ModemPresenceTracker()
    let early = Array(e1750(pid: 0x1436).prefix(2))
    #expect(update(&tracker, early) == ["appeared /dev/ttyUSB0"])
    let all = early + [port("ttyUSB4", iface: 4, pid: 0x1436)]
    #expect(update(&tracker, all) == ["gone /dev/ttyUSB0", "appeared /dev/ttyUSB4"])
  }

  @Test("a configured pty stays while it resolves")
  func configuredPty() {
    var tracker = ModemPresenceTracker()
    #expect(
      update(&tracker, [], .path("/dev/pts/3", resolved: "/dev/pts/3")) == ["appeared /dev/pts/3"])
    #expect(update(&tracker, [], .path("/dev/pts/3", resolved: "/dev/pts/3")) == [])
    #expect(update(&tracker, [], .path("/dev/pts/3", resolved: nil)) == ["gone /dev/pts/3"])
  }
}
