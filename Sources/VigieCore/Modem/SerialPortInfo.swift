/// The class triple of a USB interface: `bInterfaceClass`,
/// `bInterfaceSubClass` and `bInterfaceProtocol`, shown as `ff/02/02`.
///
/// Huawei sticks describe the role of each serial interface in this triple
/// (protocol `01` = modem/PPP port, `02` = PCUI, the AT control port); see
/// ``KnownModems``.
public struct USBInterfaceClass: Hashable, Sendable, CustomStringConvertible {
  /// `bInterfaceClass` (`0xff` = vendor specific).
  public var classCode: UInt8
  /// `bInterfaceSubClass`.
  public var subclass: UInt8
  /// `bInterfaceProtocol`.
  public var protocolCode: UInt8

  /// Creates a triple.
  public init(classCode: UInt8, subclass: UInt8, protocolCode: UInt8) {
    self.classCode = classCode
    self.subclass = subclass
    self.protocolCode = protocolCode
  }

  /// Parses the three sysfs attributes (hexadecimal, as sysfs prints them:
  /// `"ff"`, `"02"`). Nil when any of them is missing or malformed.
  public init?(classCode: String?, subclass: String?, protocolCode: String?) {
    guard let classCode = classCode.flatMap({ HexField.uint8($0) }),
      let subclass = subclass.flatMap({ HexField.uint8($0) }),
      let protocolCode = protocolCode.flatMap({ HexField.uint8($0) })
    else { return nil }
    self.init(classCode: classCode, subclass: subclass, protocolCode: protocolCode)
  }

  /// `"ff/02/02"`.
  public var description: String {
    "\(HexField.format(classCode, width: 2))/\(HexField.format(subclass, width: 2))/\(HexField.format(protocolCode, width: 2))"
  }
}

/// What ModemManager's udev rules say about a port, when they are installed.
///
/// ModemManager ships rules that tag ports (`ID_MM_PORT_TYPE_*`, and
/// per-vendor tags that its plugins turn into the same flags). They stay
/// useful to Vigie even though Vigie's own rules set `ID_MM_DEVICE_IGNORE` so
/// that the ModemManager daemon keeps off the modem: the tags are still set.
public struct ModemManagerPortHints: OptionSet, Hashable, Sendable {
  /// The raw bits.
  public var rawValue: UInt8
  /// Creates hints from raw bits.
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// The primary AT (control) port: `ID_MM_PORT_TYPE_AT_PRIMARY`, Huawei's
  /// `ID_MM_HUAWEI_AT_PORT` (the PCUI interface, which ModemManager's Huawei
  /// plugin grabs as primary) or ZTE's `ID_MM_ZTE_PORT_TYPE_MODEM` (which
  /// ModemManager's ZTE plugin flags primary, plugins/zte/mm-plugin-zte.c).
  public static let atPrimary = ModemManagerPortHints(rawValue: 1 << 0)
  /// A secondary AT port: `ID_MM_PORT_TYPE_AT_SECONDARY`, ZTE's
  /// `ID_MM_ZTE_PORT_TYPE_AUX`.
  public static let atSecondary = ModemManagerPortHints(rawValue: 1 << 1)
  /// The data (PPP) port, which also answers AT: `ID_MM_PORT_TYPE_AT_PPP`,
  /// Huawei's `ID_MM_HUAWEI_MODEM_PORT`.
  public static let atPPP = ModemManagerPortHints(rawValue: 1 << 2)
  /// Qualcomm diagnostics (binary, no AT): `ID_MM_PORT_TYPE_QCDM`.
  public static let qcdm = ModemManagerPortHints(rawValue: 1 << 3)
  /// NMEA output of the GPS (no AT): `ID_MM_PORT_TYPE_GPS`,
  /// `ID_MM_HUAWEI_GPS_PORT`.
  public static let gps = ModemManagerPortHints(rawValue: 1 << 4)

  /// The udev properties that set each flag.
  public static let propertyNames: [(name: String, hint: ModemManagerPortHints)] = [
    ("ID_MM_PORT_TYPE_AT_PRIMARY", .atPrimary),
    ("ID_MM_HUAWEI_AT_PORT", .atPrimary),
    ("ID_MM_ZTE_PORT_TYPE_MODEM", .atPrimary),
    ("ID_MM_PORT_TYPE_AT_SECONDARY", .atSecondary),
    ("ID_MM_ZTE_PORT_TYPE_AUX", .atSecondary),
    ("ID_MM_PORT_TYPE_AT_PPP", .atPPP),
    ("ID_MM_HUAWEI_MODEM_PORT", .atPPP),
    ("ID_MM_PORT_TYPE_QCDM", .qcdm),
    ("ID_MM_PORT_TYPE_GPS", .gps),
    ("ID_MM_HUAWEI_GPS_PORT", .gps),
  ]

  /// Reads the flags from a device's udev properties; a flag is set by the
  /// value `"1"` only, as udev rules write it.
  public init(udevProperties properties: [String: String]) {
    self = []
    for (name, hint) in Self.propertyNames where properties[name] == "1" { insert(hint) }
  }

  /// The port carries no AT commands (QCDM or GPS).
  public var isNotAT: Bool { !isDisjoint(with: [.qcdm, .gps]) }
}

/// A serial device (`tty` subsystem) with what udev knows about it: the
/// input of ``ModemPortSelector``.
///
/// Built by VigieModem from libudev (the device's properties, with the USB
/// interface and device attributes filling what the udev database lacks),
/// or by tests.
public struct SerialPortInfo: Hashable, Sendable {
  /// The device node, e.g. `/dev/ttyUSB2`.
  public var devnode: String
  /// The sysfs path, e.g. `/sys/devices/.../1-1:1.2/ttyUSB2/tty/ttyUSB2`.
  public var syspath: String
  /// The udev subsystem, `tty` for serial ports.
  public var subsystem: String
  /// USB vendor ID (`ID_VENDOR_ID`, or the USB device's `idVendor`); nil for
  /// a serial port that is not on USB.
  public var vendorID: UInt16?
  /// USB product ID (`ID_MODEL_ID`, or `idProduct`).
  public var productID: UInt16?
  /// USB interface number (`ID_USB_INTERFACE_NUM`, or `bInterfaceNumber`).
  public var interfaceNumber: UInt8?
  /// The USB interface's class triple, when sysfs shows it.
  public var interfaceClass: USBInterfaceClass?
  /// The kernel driver of the USB interface (`ID_USB_DRIVER`): `option`,
  /// `qcserial`, `cdc_acm`, `huawei_cdc_ncm`...
  public var driver: String?
  /// ModemManager's tags, if its rules are installed.
  public var hints: ModemManagerPortHints
  /// The device's symlinks (`DEVLINKS`): `/dev/serial/by-id/...`,
  /// `/dev/serial/by-path/...`, `/dev/vigie-modem`...
  public var links: [String]
  /// The sysfs path of the USB device (not the interface) the port belongs
  /// to: ports with the same value are the same modem. Writing 0 then 1 to
  /// its `authorized` attribute re-enumerates the modem.
  public var usbDeviceSyspath: String?
  /// `ID_MODEL` (e.g. `HUAWEI_Mobile`), for messages.
  public var model: String?

  /// Creates a value from its fields.
  public init(
    devnode: String, syspath: String, subsystem: String = "tty", vendorID: UInt16? = nil,
    productID: UInt16? = nil, interfaceNumber: UInt8? = nil,
    interfaceClass: USBInterfaceClass? = nil, driver: String? = nil,
    hints: ModemManagerPortHints = [], links: [String] = [], usbDeviceSyspath: String? = nil,
    model: String? = nil
  ) {
    self.devnode = devnode
    self.syspath = syspath
    self.subsystem = subsystem
    self.vendorID = vendorID
    self.productID = productID
    self.interfaceNumber = interfaceNumber
    self.interfaceClass = interfaceClass
    self.driver = driver
    self.hints = hints
    self.links = links
    self.usbDeviceSyspath = usbDeviceSyspath
    self.model = model
  }

  /// Builds a value from a device's udev properties. Nil when there is no
  /// usable device node (`DEVNAME` missing or empty); every other property
  /// may be missing or malformed, and is then left nil.
  ///
  /// `DEVNAME` may be relative (`ttyUSB0`, as in kernel uevents); it is then
  /// taken under `/dev`. Hexadecimal IDs are case-insensitive.
  public init?(
    syspath: String, properties: [String: String], interfaceClass: USBInterfaceClass? = nil,
    usbDeviceSyspath: String? = nil
  ) {
    guard let name = properties["DEVNAME"], !name.isEmpty, !name.contains("\0") else {
      return nil
    }
    let devnode = name.hasPrefix("/") ? name : "/dev/" + name
    let links = (properties["DEVLINKS"] ?? "").split(separator: " ").map(String.init)
    self.init(
      devnode: devnode, syspath: syspath, subsystem: properties["SUBSYSTEM"] ?? "tty",
      vendorID: properties["ID_VENDOR_ID"].flatMap { HexField.uint16($0) },
      productID: properties["ID_MODEL_ID"].flatMap { HexField.uint16($0) },
      interfaceNumber: properties["ID_USB_INTERFACE_NUM"].flatMap { HexField.uint8($0) },
      interfaceClass: interfaceClass,
      driver: properties["ID_USB_DRIVER"].flatMap { $0.isEmpty ? nil : $0 },
      hints: ModemManagerPortHints(udevProperties: properties), links: links,
      usbDeviceSyspath: usbDeviceSyspath,
      model: properties["ID_MODEL"].flatMap { $0.isEmpty ? nil : $0 })
  }

  /// The `/dev/serial/by-id/...` links among ``links``.
  public var byIDLinks: [String] { links.filter { $0.hasPrefix("/dev/serial/by-id/") } }

  /// `"12d1:1001"`, or nil when either ID is unknown.
  public var usbID: String? {
    guard let vendorID, let productID else { return nil }
    return "\(HexField.format(vendorID, width: 4)):\(HexField.format(productID, width: 4))"
  }

  /// The interface number as udev prints it (`"02"`), or `"?"`.
  public var interfaceText: String {
    interfaceNumber.map { HexField.format($0, width: 2) } ?? "?"
  }

  /// Whether the port is on USB (its vendor ID is known).
  public var isUSB: Bool { vendorID != nil }

  /// What groups the ports of one modem: the USB device's sysfs path, else
  /// (udev properties without sysfs) the USB IDs, else the port itself.
  var deviceKey: String {
    usbDeviceSyspath ?? usbID.map { "usb-id:" + $0 } ?? syspath
  }
}

/// Strict hexadecimal fields as udev and sysfs print them.
enum HexField {
  /// 1 to 4 hex digits, nothing else.
  static func uint16(_ text: String) -> UInt16? {
    guard (1...4).contains(text.utf8.count), text.utf8.allSatisfy(isHexDigit) else { return nil }
    return UInt16(text, radix: 16)
  }

  /// 1 or 2 hex digits, nothing else.
  static func uint8(_ text: String) -> UInt8? {
    guard (1...2).contains(text.utf8.count), text.utf8.allSatisfy(isHexDigit) else { return nil }
    return UInt8(text, radix: 16)
  }

  /// Lower-case, zero-padded to `width` digits.
  static func format<T: BinaryInteger>(_ value: T, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
  }

  private static func isHexDigit(_ byte: UInt8) -> Bool {
    (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
  }
}
