import Foundation

/// A few raw AT questions asked before libgammu opens the port: libgammu has
/// no API for the remaining PIN attempts nor for the ICCID, which identifies
/// the SIM before its PIN is entered.
///
/// Blocking I/O: run it on the gammu thread (`GammuSession.perform`).
public struct ATProbe {
  public struct Answers: Sendable, Hashable {
    /// SIM serial number (ICCID), when the modem tells it.
    public var iccid: String?
    /// PIN attempts left, when the modem tells it (`AT^CPIN?`, `AT+CPINR`).
    public var pinAttemptsLeft: Int?
    /// PUK attempts left, when known.
    public var pukAttemptsLeft: Int?
    /// `AT+CPIN?` answer, e.g. `READY`, `SIM PIN`.
    public var cpin: String?
  }

  let configuration: GammuConfiguration
  let timeout: Duration

  public init(configuration: GammuConfiguration, timeout: Duration = .seconds(2)) {
    self.configuration = configuration
    self.timeout = timeout
  }

  /// Asks what it can; every question is optional (a modem may not know it).
  public func run() -> Answers {
    guard let port = open() else { return Answers() }
    defer { port.close() }
    var answers = Answers()
    _ = port.ask("ATE0")
    if let lines = port.ask("AT+CPIN?"), let line = lines.first(where: { $0.hasPrefix("+CPIN:") }) {
      answers.cpin = line.dropFirst(6).trimmingCharacters(in: .whitespaces)
    }
    for command in ["AT^ICCID?", "AT+CCID", "AT+ICCID"] {
      guard let lines = port.ask(command) else { continue }
      if let iccid = Self.parseICCID(lines) {
        answers.iccid = iccid
        break
      }
    }
    if let lines = port.ask("AT^CPIN?"), let counts = Self.parseHuaweiCPIN(lines) {
      answers.pinAttemptsLeft = counts.pin
      answers.pukAttemptsLeft = counts.puk
    } else if let lines = port.ask("AT+CPINR=\"SIM PIN\""), let pin = Self.parseCPINR(lines) {
      answers.pinAttemptsLeft = pin
    }
    return answers
  }

  /// Soft reset: `AT+CFUN=1,1` over raw AT (libgammu 1.42 refuses
  /// `GSM_Reset` on AT modems: ERR_NOTSUPPORTED before sending anything).
  /// The modem reboots itself; it may drop off the USB bus meanwhile.
  /// Returns whether the modem acknowledged it.
  public func softReset() -> Bool {
    guard let port = open() else { return false }
    defer { port.close() }
    _ = port.ask("AT")  // wakes the line up; a hung modem answers nothing
    return port.ask("AT+CFUN=1,1", timeout: timeout * 3) != nil
  }

  // MARK: Parsers (pure, tested)

  /// `^ICCID: 8933...`, `+CCID: "8933..."` or a bare number line. Huawei
  /// reports the ICCID nibble-swapped on some firmware; the digits are kept
  /// as given, which is stable for identifying the SIM.
  static func parseICCID(_ lines: [String]) -> String? {
    for line in lines {
      var value = line
      if let colon = line.firstIndex(of: ":") { value = String(line[line.index(after: colon)...]) }
      let digits = value.filter { $0.isASCII && ($0.isNumber || $0 == "F" || $0 == "f") }
      if (18...22).contains(digits.count) { return digits.uppercased() }
    }
    return nil
  }

  /// Huawei `^CPIN: <code>,[<times>],<puk_times>,<pin_times>,<puk2_times>,<pin2_times>`.
  static func parseHuaweiCPIN(_ lines: [String]) -> (pin: Int, puk: Int)? {
    guard let line = lines.first(where: { $0.hasPrefix("^CPIN:") }) else { return nil }
    let fields = line.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    guard fields.count >= 4, let puk = Int(fields[2]), let pin = Int(fields[3]) else { return nil }
    return (pin, puk)
  }

  /// `+CPINR: SIM PIN,<retries>[,<default>]`.
  static func parseCPINR(_ lines: [String]) -> Int? {
    guard let line = lines.first(where: { $0.hasPrefix("+CPINR:") }) else { return nil }
    let fields = line.dropFirst(7).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    guard fields.count >= 2 else { return nil }
    return Int(fields[1])
  }

  // MARK: Transport

  private func open() -> (any ATPort)? {
    if configuration.connection == "proxyat" {
      return CommandATPort(command: configuration.device, timeout: timeout)
    }
    return SerialATPort(path: configuration.device, timeout: timeout)
  }
}

/// A line-oriented AT conversation.
protocol ATPort {
  func write(_ bytes: [UInt8]) -> Bool
  func read(deadline: ContinuousClock.Instant) -> [UInt8]?
  func close()
}

extension ATPort {
  /// Sends `command` and returns the lines up to the final result code;
  /// nil on ERROR, timeout or a broken port.
  func ask(_ command: String, timeout: Duration = .seconds(2)) -> [String]? {
    guard write(Array((command + "\r").utf8)) else { return nil }
    let deadline = ContinuousClock.now.advanced(by: timeout)
    var buffer: [UInt8] = []
    while ContinuousClock.now < deadline {
      guard let chunk = read(deadline: deadline) else { return nil }
      buffer += chunk
      guard buffer.count < 8192 else { return nil }
      let lines = String(decoding: buffer, as: UTF8.self)
        .split(whereSeparator: \.isNewline).map(String.init)
        .filter { !$0.isEmpty && $0 != command }
      if lines.contains("OK") { return lines.filter { $0 != "OK" } }
      if lines.contains(where: { $0 == "ERROR" || $0.hasPrefix("+CME ERROR") || $0.hasPrefix("+CMS ERROR") }) {
        return nil
      }
    }
    return nil
  }
}

/// A serial device in raw mode.
final class SerialATPort: ATPort {
  private let fd: Int32

  init?(path: String, timeout: Duration) {
    fd = Glibc.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    var options = termios()
    if tcgetattr(fd, &options) == 0 {
      cfmakeraw(&options)
      cfsetispeed(&options, speed_t(B115200))
      cfsetospeed(&options, speed_t(B115200))
      options.c_cflag |= tcflag_t(CLOCAL | CREAD)
      tcsetattr(fd, TCSANOW, &options)
      tcflush(fd, TCIOFLUSH)
    }
  }

  func write(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
  }

  func read(deadline: ContinuousClock.Instant) -> [UInt8]? {
    pollRead(fd: fd, deadline: deadline)
  }

  func close() { _ = Glibc.close(fd) }
}

/// The command libgammu's `proxyat` would fork, spoken to over pipes.
final class CommandATPort: ATPort {
  private let process = Process()
  private let input = Pipe()
  private let output = Pipe()

  init?(command: String, timeout: Duration) {
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
  }

  func write(_ bytes: [UInt8]) -> Bool {
    let fd = input.fileHandleForWriting.fileDescriptor
    return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
  }

  func read(deadline: ContinuousClock.Instant) -> [UInt8]? {
    pollRead(fd: output.fileHandleForReading.fileDescriptor, deadline: deadline)
  }

  func close() {
    try? input.fileHandleForWriting.close()
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
  }
}

/// Waits for bytes on `fd` until `deadline`; empty on timeout, nil on EOF/error.
private func pollRead(fd: Int32, deadline: ContinuousClock.Instant) -> [UInt8]? {
  let remaining = ContinuousClock.now.duration(to: deadline)
  let milliseconds = max(
    0, Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000))
  var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
  let ready = poll(&descriptor, 1, milliseconds)
  if ready == 0 { return [] }
  if ready < 0 { return errno == EINTR ? [] : nil }
  var buffer = [UInt8](repeating: 0, count: 1024)
  let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
  if count < 0 { return errno == EAGAIN || errno == EINTR ? [] : nil }
  if count == 0 { return nil }
  return Array(buffer[0..<count])
}
