/// A USB modem whose AT port Vigie knows without asking it.
///
/// Only modem-mode USB IDs belong here: many sticks first enumerate as a
/// virtual CD-ROM (e.g. Huawei `12d1:1446`, `12d1:1f01`, ZTE `19d2:2000`)
/// and are switched to a modem ID by `usb_modeswitch`; those storage IDs are
/// never a modem and are not listed.
public struct KnownModem: Hashable, Sendable {
  /// How to recognise the AT port among the modem's interfaces.
  public enum ATPort: Hashable, Sendable {
    /// The interface with this `bInterfaceNumber`.
    case interfaceNumber(UInt8)
    /// The interface with this class, one of these subclasses, and this
    /// protocol (for firmware whose interface numbers move with the USB
    /// configuration, but whose interface descriptors name the port role).
    case interfaceClass(classCode: UInt8, subclasses: [UInt8], protocolCode: UInt8)

    /// Whether `port` is this AT port.
    public func matches(_ port: SerialPortInfo) -> Bool {
      switch self {
      case .interfaceNumber(let number):
        return port.interfaceNumber == number
      case .interfaceClass(let classCode, let subclasses, let protocolCode):
        guard let triple = port.interfaceClass else { return false }
        return triple.classCode == classCode && subclasses.contains(triple.subclass)
          && triple.protocolCode == protocolCode
      }
    }

    /// `"USB interface 02"`, `"the interface of class ff/01|02/02"`.
    public var description: String {
      switch self {
      case .interfaceNumber(let number):
        return "USB interface \(HexField.format(number, width: 2))"
      case .interfaceClass(let classCode, let subclasses, let protocolCode):
        let subs = subclasses.map { HexField.format($0, width: 2) }.joined(separator: "|")
        return
          "the interface of class \(HexField.format(classCode, width: 2))/\(subs)/\(HexField.format(protocolCode, width: 2))"
      }
    }
  }

  /// Marketing names of the models seen with these IDs.
  public var name: String
  /// USB vendor ID.
  public var vendorID: UInt16
  /// USB product IDs in modem mode.
  public var productIDs: [UInt16]
  /// Which interface is the AT port Vigie uses.
  public var atPort: ATPort
  /// What the port is called by the vendor, for messages ("PCUI", "modem").
  public var portRole: String

  /// Creates an entry.
  public init(
    name: String, vendorID: UInt16, productIDs: [UInt16], atPort: ATPort, portRole: String
  ) {
    self.name = name
    self.vendorID = vendorID
    self.productIDs = productIDs
    self.atPort = atPort
    self.portRole = portRole
  }

  /// Whether the entry describes this USB ID.
  public func matches(vendorID: UInt16?, productID: UInt16?) -> Bool {
    guard let vendorID, let productID else { return false }
    return vendorID == self.vendorID && productIDs.contains(productID)
  }
}

/// The modems whose AT port is known, and how to find it.
///
/// The port chosen is the one ModemManager uses as its *primary* AT port,
/// the port that never carries PPP data:
///
/// - Huawei: ModemManager's Huawei plugin makes the PCUI interface primary
///   and the modem (interface 0) the PPP port (plugins/huawei/mm-plugin-huawei.c,
///   `propagate_port_mode_results`: PCUI → `MM_AT_PORT_FLAG_PRIMARY`, MDM →
///   `MM_AT_PORT_FLAG_PPP`). Where the PCUI is per product, the numbers come
///   from the port-type rules of ModemManager's predecessor projects (Wader /
///   Vodafone Mobile Connect, resources/udev/77-wader-huawei.rules: "Generic
///   0x1001: 00 modem, 02 aux"; "Generic 0x1436 (so far seen E173, E1750):
///   00 modem, 04 aux"; "E173 0x14a5: 00 modem, 03 aux"). Newer firmware
///   (E173s, E3131, E3372 in serial "stick" mode) names the role in the
///   interface descriptor instead: class `ff`, subclass `01` or `02`, protocol
///   `02` is the AT port, protocol `01` the modem (ModemManager's
///   plugins/huawei/77-mm-huawei-net-port-types.rules, `ID_MM_HUAWEI_AT_PORT`).
///   The modem port (interface 0) answers AT too, and is what many gammu
///   guides use: set `[modem] device` to it if the PCUI misbehaves.
/// - ZTE: ModemManager's plugins/zte/77-mm-zte-port-types.rules tag a MODEM
///   and an AUX interface per product, and plugins/zte/mm-plugin-zte.c flags
///   the MODEM one primary and AUX secondary: 19d2:0031 modem 03 / aux 01,
///   19d2:0117 modem 02 / aux 01, 19d2:2003 modem 03 / aux 01.
///
/// The udev rules in `udev-rules/90-vigie-modem.rules` must agree with this
/// table (a test checks it).
public enum KnownModems {
  /// Huawei's PCUI (AT control) interface by descriptor: ff/01|02/02.
  public static let huaweiPCUI = KnownModem.ATPort.interfaceClass(
    classCode: 0xff, subclasses: [0x01, 0x02], protocolCode: 0x02)

  /// Every known modem.
  public static let all: [KnownModem] = [
    KnownModem(
      name: "Huawei E1750/E169/E620", vendorID: 0x12d1,
      productIDs: [0x1001], atPort: .interfaceNumber(0x02), portRole: "PCUI"),
    KnownModem(
      name: "Huawei E1750/E173", vendorID: 0x12d1,
      productIDs: [0x1436], atPort: .interfaceNumber(0x04), portRole: "PCUI"),
    KnownModem(
      name: "Huawei E173", vendorID: 0x12d1, productIDs: [0x14a5],
      atPort: .interfaceNumber(0x03), portRole: "PCUI"),
    KnownModem(
      name: "Huawei E173s/E3131/E3372 (serial mode)", vendorID: 0x12d1,
      productIDs: [0x1c05, 0x1506, 0x1442], atPort: huaweiPCUI, portRole: "PCUI"),
    KnownModem(
      name: "ZTE MF626/MF636/MF190 class", vendorID: 0x19d2, productIDs: [0x0031],
      atPort: .interfaceNumber(0x03), portRole: "modem"),
    KnownModem(
      name: "ZTE MF190 class", vendorID: 0x19d2, productIDs: [0x0117],
      atPort: .interfaceNumber(0x02), portRole: "modem"),
    KnownModem(
      name: "ZTE MF190/MF626 class", vendorID: 0x19d2, productIDs: [0x2003],
      atPort: .interfaceNumber(0x03), portRole: "modem"),
  ]

  /// The entry for a USB ID, if any.
  public static func lookup(vendorID: UInt16?, productID: UInt16?) -> KnownModem? {
    all.first { $0.matches(vendorID: vendorID, productID: productID) }
  }
}
