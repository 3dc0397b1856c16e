import CGammu
import CUdev

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// libGammu, through which VigieModem talks to the GSM modem.
public enum GammuLibrary {
  /// The version of the loaded library, e.g. `"1.42.0"` (`GetGammuVersion()`).
  public static var version: String { String(cString: GetGammuVersion()) }

  /// The version of the headers Vigie was compiled against (`GAMMU_VERSION`).
  public static var headerVersion: String { GAMMU_VERSION }
}

/// A libudev call that failed.
public struct UdevError: Error, Equatable, CustomStringConvertible {
  /// The libudev function that failed, e.g. `"udev_enumerate_scan_devices"`.
  public var operation: String
  /// The `errno` value the call reported.
  public var code: Int32

  /// Creates an error for `operation` failing with `errno` value `code`.
  public init(operation: String, code: Int32) {
    self.operation = operation
    self.code = code
  }

  /// `"<operation>: <strerror(code)>"`.
  public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// libudev, through which VigieModem finds the modem's serial devices.
///
/// libudev has no version function; what it offers is a context and device
/// enumeration, which is what this type exposes.
public enum UdevLibrary {
  /// The sysfs paths (`/sys/devices/...`) of the devices in `subsystem`
  /// (e.g. `"tty"`), as enumerated by a fresh udev context. An empty array
  /// is a valid answer.
  public static func devicePaths(subsystem: String) throws(UdevError) -> [String] {
    guard let udev = udev_new() else {
      throw UdevError(operation: "udev_new", code: errno == 0 ? ENOMEM : errno)
    }
    defer { udev_unref(udev) }
    guard let enumerate = udev_enumerate_new(udev) else {
      throw UdevError(operation: "udev_enumerate_new", code: errno == 0 ? ENOMEM : errno)
    }
    defer { udev_enumerate_unref(enumerate) }
    let matched = udev_enumerate_add_match_subsystem(enumerate, subsystem)
    if matched < 0 {
      throw UdevError(operation: "udev_enumerate_add_match_subsystem", code: -matched)
    }
    let scanned = udev_enumerate_scan_devices(enumerate)
    if scanned < 0 { throw UdevError(operation: "udev_enumerate_scan_devices", code: -scanned) }
    var paths: [String] = []
    var entry = udev_enumerate_get_list_entry(enumerate)
    while let current = entry {
      if let name = udev_list_entry_get_name(current) { paths.append(String(cString: name)) }
      entry = udev_list_entry_get_next(current)
    }
    return paths
  }

  /// Whether libudev works here: a context can be created and the `tty`
  /// subsystem enumerated (with zero or more devices).
  public static func probe() -> Bool {
    (try? devicePaths(subsystem: "tty")) != nil
  }
}
