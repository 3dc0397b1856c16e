import CGpiod

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A libgpiod call that failed.
public struct GpiodError: Error, Equatable, CustomStringConvertible {
  /// The libgpiod function that failed, e.g. `"gpiod_chip_open"`.
  public var operation: String
  /// The chip path or name the call was given.
  public var target: String
  /// The `errno` value the call left, e.g. `ENOENT`.
  public var code: Int32

  /// Creates an error for `operation` on `target` failing with `errno` value `code`.
  public init(operation: String, target: String, code: Int32) {
    self.operation = operation
    self.target = target
    self.code = code
  }

  /// `"<operation>(<target>): <strerror(code)>"`.
  public var description: String {
    "\(operation)(\(target)): \(String(cString: strerror(code)))"
  }
}

/// An open GPIO chip (`struct gpiod_chip *`), closed when released.
///
/// Not `Sendable`: libgpiod handles are not safe to share between threads.
public final class GpioChip {
  /// The underlying libgpiod handle, valid for the lifetime of this object.
  public let handle: OpaquePointer

  init(handle: OpaquePointer) { self.handle = handle }

  deinit { gpiod_chip_close(handle) }

  /// The kernel name of the chip, e.g. `"gpiochip0"`.
  public var name: String { String(cString: gpiod_chip_name(handle)) }

  /// The chip's label, e.g. `"pinctrl-bcm2711"`.
  public var label: String { String(cString: gpiod_chip_label(handle)) }

  /// The number of GPIO lines the chip exposes.
  public var lineCount: Int { Int(gpiod_chip_num_lines(handle)) }
}

/// libgpiod (v1 API), with which VigieLights drives its LEDs.
public enum GpiodLibrary {
  /// The version of the loaded library, e.g. `"1.6.3"` (`gpiod_version_string()`).
  public static var version: String { String(cString: gpiod_version_string()) }

  /// Opens the GPIO chip character device at `path` (e.g. `/dev/gpiochip0`)
  /// with `gpiod_chip_open`.
  ///
  /// - Throws: ``GpiodError`` carrying `errno`, e.g. `ENOENT` when `path`
  ///   does not exist.
  public static func openChip(path: String) throws(GpiodError) -> GpioChip {
    errno = 0
    guard let handle = gpiod_chip_open(path) else {
      throw GpiodError(operation: "gpiod_chip_open", target: path, code: errno)
    }
    return GpioChip(handle: handle)
  }
}
