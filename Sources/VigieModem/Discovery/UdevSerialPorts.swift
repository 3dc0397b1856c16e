import CUdev
import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The libudev and libc calls of discovery that can fail, behind a table so
/// that tests can inject failures a real system never gives on demand (the
/// swift-system approach). ``live`` is the real thing.
struct UdevCalls: Sendable {
  /// `udev_new`.
  var udevNew: @Sendable () -> OpaquePointer?
  /// `udev_enumerate_scan_devices`: 0 or a negative errno.
  var enumerateScanDevices: @Sendable (OpaquePointer) -> Int32
  /// `udev_monitor_new_from_netlink`.
  var monitorNewFromNetlink: @Sendable (OpaquePointer, String) -> OpaquePointer?
  /// `udev_monitor_enable_receiving`: 0 or a negative errno.
  var monitorEnableReceiving: @Sendable (OpaquePointer) -> Int32
  /// `poll`: as poll(2), errno set on -1.
  var poll: @Sendable (UnsafeMutablePointer<pollfd>, nfds_t, Int32) -> Int32
  /// Called by the monitor thread as it exits, after freeing the handles
  /// (tests check that cancellation really stops the thread).
  var monitorThreadExited: @Sendable () -> Void = {}

  /// The real calls.
  static let live = UdevCalls(
    udevNew: { udev_new() },
    enumerateScanDevices: { udev_enumerate_scan_devices($0) },
    monitorNewFromNetlink: { udev_monitor_new_from_netlink($0, $1) },
    monitorEnableReceiving: { udev_monitor_enable_receiving($0) },
    poll: { Glibc.poll($0, $1, $2) })
}

/// Serial ports as libudev sees them.
public enum UdevSerialPorts {
  /// The `tty` devices udev lists now, with their USB properties.
  ///
  /// Properties come from the udev database (`ID_VENDOR_ID`,
  /// `ID_USB_INTERFACE_NUM`, `DEVLINKS`...); where it lacks them (no udevd,
  /// as in a container, or rules not run yet) the USB interface and device
  /// attributes in sysfs fill them in. Devices that vanish during the scan
  /// are skipped. An empty array is a valid answer.
  ///
  /// This reads sysfs and the udev database on the calling thread: call it
  /// from a thread that may block (the CLI), not from the cooperative pool;
  /// services get the listing from ``SerialPortMonitor`` instead.
  public static func list() throws(ModemDiscoveryError) -> [SerialPortInfo] {
    try list(calls: .live)
  }

  static func list(calls: UdevCalls) throws(ModemDiscoveryError) -> [SerialPortInfo] {
    let udev = try newContext(calls: calls)
    defer { udev_unref(udev) }
    return try list(udev: udev, calls: calls)
  }

  /// Lists with an existing context (the monitor thread's own).
  static func list(udev: OpaquePointer, calls: UdevCalls) throws(ModemDiscoveryError)
    -> [SerialPortInfo]
  {
    guard let enumerate = udev_enumerate_new(udev) else {
      throw ModemDiscoveryError(
        code: .enumerationFailed, message: "cannot list the serial ports",
        operation: "udev_enumerate_new", underlyingErrno: errno == 0 ? ENOMEM : errno)
    }
    defer { udev_enumerate_unref(enumerate) }
    let matched = udev_enumerate_add_match_subsystem(enumerate, "tty")
    if matched < 0 {
      throw ModemDiscoveryError(
        code: .enumerationFailed, message: "cannot list the serial ports",
        operation: "udev_enumerate_add_match_subsystem", underlyingErrno: -matched)
    }
    let scanned = calls.enumerateScanDevices(enumerate)
    if scanned < 0 {
      throw ModemDiscoveryError(
        code: .enumerationFailed, message: "cannot list the serial ports in /sys/class/tty",
        operation: "udev_enumerate_scan_devices", underlyingErrno: -scanned)
    }
    var ports: [SerialPortInfo] = []
    var entry = udev_enumerate_get_list_entry(enumerate)
    while let current = entry {
      entry = udev_list_entry_get_next(current)
      guard let syspath = udev_list_entry_get_name(current),
        let device = udev_device_new_from_syspath(udev, syspath)
      else { continue }  // vanished meanwhile
      defer { udev_device_unref(device) }
      if let port = portInfo(device) { ports.append(port) }
    }
    return ports
  }

  /// A new udev context (the caller unrefs it).
  static func newContext(calls: UdevCalls) throws(ModemDiscoveryError) -> OpaquePointer {
    errno = 0
    guard let udev = calls.udevNew() else {
      throw ModemDiscoveryError(
        code: .udevUnavailable, message: "cannot create a udev context",
        operation: "udev_new", underlyingErrno: errno == 0 ? ENOMEM : errno)
    }
    return udev
  }

  /// Reads a `tty` device into a ``SerialPortInfo``; nil without a device node.
  static func portInfo(_ device: OpaquePointer) -> SerialPortInfo? {
    guard let syspathPointer = udev_device_get_syspath(device) else { return nil }
    let syspath = String(cString: syspathPointer)
    var properties = properties(of: device)
    if properties["DEVNAME"] == nil, let node = udev_device_get_devnode(device) {
      properties["DEVNAME"] = String(cString: node)
    }
    if properties["SUBSYSTEM"] == nil, let subsystem = udev_device_get_subsystem(device) {
      properties["SUBSYSTEM"] = String(cString: subsystem)
    }
    // Parents belong to the child: no unref.
    let interface = udev_device_get_parent_with_subsystem_devtype(device, "usb", "usb_interface")
    let usbDevice = udev_device_get_parent_with_subsystem_devtype(device, "usb", "usb_device")
    var interfaceClass: USBInterfaceClass?
    if let interface {
      fill(&properties, "ID_USB_INTERFACE_NUM", attribute(interface, "bInterfaceNumber"))
      fill(
        &properties, "ID_USB_DRIVER", udev_device_get_driver(interface).map { String(cString: $0) })
      interfaceClass = USBInterfaceClass(
        classCode: attribute(interface, "bInterfaceClass"),
        subclass: attribute(interface, "bInterfaceSubClass"),
        protocolCode: attribute(interface, "bInterfaceProtocol"))
    }
    var usbDeviceSyspath: String?
    if let usbDevice {
      fill(&properties, "ID_VENDOR_ID", attribute(usbDevice, "idVendor"))
      fill(&properties, "ID_MODEL_ID", attribute(usbDevice, "idProduct"))
      usbDeviceSyspath = udev_device_get_syspath(usbDevice).map { String(cString: $0) }
    }
    return SerialPortInfo(
      syspath: syspath, properties: properties, interfaceClass: interfaceClass,
      usbDeviceSyspath: usbDeviceSyspath)
  }

  /// All udev properties of a device.
  static func properties(of device: OpaquePointer) -> [String: String] {
    var properties: [String: String] = [:]
    var entry = udev_device_get_properties_list_entry(device)
    while let current = entry {
      if let name = udev_list_entry_get_name(current) {
        let value = udev_list_entry_get_value(current).map { String(cString: $0) } ?? ""
        properties[String(cString: name)] = value
      }
      entry = udev_list_entry_get_next(current)
    }
    return properties
  }

  private static func attribute(_ device: OpaquePointer, _ name: String) -> String? {
    guard let value = udev_device_get_sysattr_value(device, name) else { return nil }
    let text = String(cString: value)
    let trimmed = text.drop { $0 == " " }.reversed().drop { $0 == " " || $0 == "\n" }.reversed()
    return String(trimmed)
  }

  private static func fill(_ properties: inout [String: String], _ key: String, _ value: String?) {
    guard properties[key]?.isEmpty ?? true, let value, !value.isEmpty else { return }
    properties[key] = value
  }
}
