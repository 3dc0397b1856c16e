import CGpiod
import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Why an LED cannot be driven, said so a person can fix it.
public struct LEDError: Error, Equatable, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// One physical LED. Only the LED driver's thread touches it: not Sendable.
protocol LEDOutput: AnyObject {
  /// How the LED is named in logs, e.g. `sysfs:ACT`.
  var label: String { get }
  func set(_ lit: Bool) throws(LEDError)
  /// Gives the LED back as it was found (trigger restored, line released).
  func close()
}

/// A kernel LED-class device: `<root>/<name>/{brightness,max_brightness,trigger}`.
///
/// Opening it saves the active trigger (the one in brackets, e.g. `[mmc0]`
/// for the Pi's ACT LED) and sets `none`, so the kernel stops driving it;
/// `close()` writes the saved trigger back.
final class SysfsLED: LEDOutput {
  let label: String
  private let directory: String
  private let savedTrigger: String?
  private let savedBrightness: String?
  private let onValue: String

  init(root: String, name: String) throws(LEDError) {
    label = "sysfs:\(name)"
    directory = root + "/" + name
    guard access(directory + "/brightness", W_OK) == 0 else {
      let reason = String(cString: strerror(errno))
      throw LEDError("\(label): cannot write \(directory)/brightness: \(reason)")
    }
    let maximum = Self.read(directory + "/max_brightness").flatMap { Int($0) } ?? 1
    onValue = String(max(maximum, 1))
    savedBrightness = Self.read(directory + "/brightness")
    savedTrigger = Self.read(directory + "/trigger").flatMap(Self.activeTrigger(in:))
    if savedTrigger != nil, savedTrigger != "none" {
      try Self.write("none", to: directory + "/trigger", label: label)
    }
  }

  func set(_ lit: Bool) throws(LEDError) {
    try Self.write(lit ? onValue : "0", to: directory + "/brightness", label: label)
  }

  func close() {
    if let savedTrigger, savedTrigger != "none" {
      try? Self.write(savedTrigger, to: directory + "/trigger", label: label)
    } else if let savedBrightness {
      try? Self.write(savedBrightness, to: directory + "/brightness", label: label)
    }
  }

  /// The trigger in brackets in the kernel's list, e.g. `mmc0` in
  /// `none rc-feedback [mmc0] timer`; a file holding one bare word (a test
  /// tree, or a trigger written by hand) is that word.
  static func activeTrigger(in text: String) -> String? {
    let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
    if let bracketed = words.first(where: { $0.hasPrefix("[") && $0.hasSuffix("]") && $0.count > 2 }) {
      return String(bracketed.dropFirst().dropLast())
    }
    return words.count == 1 ? String(words[0]) : nil
  }

  static func read(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { _ = Glibc.close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
    guard count >= 0 else { return nil }
    return String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: " \n")
  }

  /// One write of `value` and a newline, as `echo value > path` does. A
  /// regular file (a test tree) is truncated first; sysfs ignores O_TRUNC.
  static func write(_ value: String, to path: String, label: String) throws(LEDError) {
    let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
    guard fd >= 0 else { throw LEDError("\(label): cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { _ = Glibc.close(fd) }
    let bytes = Array((value + "\n").utf8)
    let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else {
      throw LEDError("\(label): writing \(path) failed: \(String(cString: strerror(errno)))")
    }
  }
}

extension String {
  fileprivate func trimmingCharacters(in set: String) -> String {
    var slice = Substring(self)
    while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
    while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
    return String(slice)
  }
}

/// The libgpiod v1 API, and only here: moving to libgpiod v2 touches this
/// type alone.
final class GpioLines {
  private let chip: OpaquePointer
  let chipName: String

  /// Opens `descriptor` with `gpiod_chip_open_lookup` (a name such as
  /// `gpiochip0`, a path, a label or a number).
  init(descriptor: String) throws(LEDError) {
    errno = 0
    guard let chip = gpiod_chip_open_lookup(descriptor) else {
      let reason = errno == 0 ? "no such GPIO chip" : String(cString: strerror(errno))
      throw LEDError(
        "GPIO chip \"\(descriptor)\": \(reason) (is this a Raspberry Pi? check [leds] gpio_chip and `gpiodetect`)")
    }
    self.chip = chip
    chipName = String(cString: gpiod_chip_name(chip))
  }

  deinit { gpiod_chip_close(chip) }

  /// Requests `offset` as an output, off, for consumer "vigie".
  func output(offset: Int, activeLow: Bool) throws(LEDError) -> GpioLED {
    let label = "gpio:\(offset)" + (activeLow ? ":active-low" : "")
    guard offset < Int(gpiod_chip_num_lines(chip)), let line = gpiod_chip_get_line(chip, UInt32(offset)) else {
      throw LEDError("\(label): \(chipName) has \(gpiod_chip_num_lines(chip)) lines, no line \(offset)")
    }
    let flags = activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
    guard gpiod_line_request_output_flags(line, "vigie", flags, 0) == 0 else {
      let reason = String(cString: strerror(errno))
      throw LEDError("\(label): \(chipName) refused the line: \(reason) (used by another program?)")
    }
    return GpioLED(lines: self, line: line, label: label)
  }
}

/// One GPIO line driving an LED (through a resistor: see docs/leds.md).
final class GpioLED: LEDOutput {
  let label: String
  private let lines: GpioLines  // keeps the chip open while the line is held
  private let line: OpaquePointer

  init(lines: GpioLines, line: OpaquePointer, label: String) {
    self.lines = lines
    self.line = line
    self.label = label
  }

  func set(_ lit: Bool) throws(LEDError) {
    guard gpiod_line_set_value(line, lit ? 1 : 0) == 0 else {
      throw LEDError("\(label): setting the line failed: \(String(cString: strerror(errno)))")
    }
  }

  func close() {
    _ = gpiod_line_set_value(line, 0)
    gpiod_line_release(line)
  }
}

/// Opens the LEDs of `[leds]`: the ones that can be driven, and a reason for
/// each that cannot (a missing chip or LED does not stop the others).
func openOutputs(
  _ devices: [(role: LEDRole, device: LEDDevice)], sysfsRoot: String, gpioChip: String
) -> (outputs: [(LEDRole, any LEDOutput)], problems: [String]) {
  var outputs: [(LEDRole, any LEDOutput)] = []
  var problems: [String] = []
  var chip: Result<GpioLines, LEDError>?
  for (role, device) in devices {
    do throws(LEDError) {
      switch device {
      case .sysfs(let name):
        outputs.append((role, try SysfsLED(root: sysfsRoot, name: name)))
      case .gpio(let line, let activeLow):
        if chip == nil {
          do throws(LEDError) { chip = .success(try GpioLines(descriptor: gpioChip)) } catch { chip = .failure(error) }
        }
        outputs.append((role, try chip!.get().output(offset: line, activeLow: activeLow)))
      }
    } catch {
      problems.append("\(role.rawValue) LED: \(error.description)")
    }
  }
  return (outputs, problems)
}
