import CGammu
import Foundation
import Logging
import Synchronization
import VigieCore

/// How to reach the modem.
public struct GammuConfiguration: Sendable, Hashable {
  /// The device path (`/dev/ttyUSB2`), or for `proxyat` the command line to fork.
  public var device: String
  /// libgammu connection: `at` for a serial port; `proxyat` forks `device`
  /// and speaks AT over its stdin/stdout (used by the tests' emulator).
  public var connection: String
  /// libgammu model; empty lets it detect.
  public var model: String
  /// libgammu's own debug log (`textalldate`), nil for none.
  public var logFile: String?

  public init(device: String, connection: String = "at", model: String = "", logFile: String? = nil) {
    self.device = device
    self.connection = connection
    self.model = model
    self.logFile = logFile
  }
}

/// The only door to libgammu: every call runs on the session's own thread, in
/// order, with a deadline. When a call overruns, `GSM_AbortOperation` wakes it
/// up; since libgammu's abort flag is sticky, that state machine is freed and
/// a new one is allocated (and connected) for the next call.
public actor GammuSession {
  public let configuration: GammuConfiguration
  private let worker: GammuWorker
  private let machine: GammuMachine
  private let logger: Logger

  public init(configuration: GammuConfiguration, logger: Logger) {
    self.configuration = configuration
    self.logger = logger
    self.worker = GammuWorker(name: "vigie-gammu")
    self.machine = GammuMachine(configuration: configuration)
  }

  /// Runs `body` on the gammu thread with a deadline.
  public func perform<T: Sendable>(
    _ operation: String, timeout: Duration, _ body: @escaping @Sendable (GammuMachine) throws -> T
  ) async throws -> T {
    let machine = self.machine
    let once = ResumeOnce<T>()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
      once.set(continuation)
      let accepted = worker.submit {
        let result = Result { try body(machine) }
        machine.recoverFromAbortIfNeeded()
        once.resume(with: result)
      }
      guard accepted else {
        once.resume(with: .failure(ModemError(.closed, "\(operation): the modem session is closed")))
        return
      }
      let (seconds, attoseconds) = timeout.components
      let nanoseconds = max(1, Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
      DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
        if once.resume(with: .failure(ModemError(.timeout, "\(operation): no answer within \(timeout)"))) {
          machine.abort()
        }
      }
    }
  }

  /// Disconnects and ends the thread once queued calls are done.
  public func close() {
    let machine = self.machine
    worker.submit { machine.disconnect() }
    worker.stop()
  }
}

/// Resumes a continuation once, whoever comes first (the result or the deadline).
final class ResumeOnce<T: Sendable>: Sendable {
  private let state = Mutex<CheckedContinuation<T, any Error>?>(nil)

  func set(_ continuation: CheckedContinuation<T, any Error>) { state.withLock { $0 = continuation } }

  @discardableResult
  func resume(with result: Result<T, any Error>) -> Bool {
    guard
      let continuation = state.withLock({ value -> CheckedContinuation<T, any Error>? in
        defer { value = nil }
        return value
      })
    else { return false }
    continuation.resume(with: result)
    return true
  }
}

/// The libgammu state machine and what hangs off it.
///
/// `@unchecked Sendable` is sound because: every method except `abort()` is
/// called only from jobs of the one `GammuWorker` thread, which runs them one
/// after another, so the mutable state below is never touched concurrently;
/// `abort()` only reads the state-machine pointer through `abortHandle`
/// (a Mutex) and calls `GSM_AbortOperation`, which libgammu documents as the
/// one thread-safe call. The pointer is published to `abortHandle` before a
/// call and withdrawn (under the same lock) before it is freed.
public final class GammuMachine: @unchecked Sendable {
  let configuration: GammuConfiguration
  private var stateMachine: OpaquePointer?
  private var connected = false
  /// The state machine's address (0 when none), for `abort()` from other threads.
  private let abortHandle = Mutex<UInt>(0)
  private let abortRequested = Atomic<Bool>(false)
  /// Set by the incoming-SMS callback; read by `takeIncomingFlag()`.
  private var incoming = false
  /// Status of the last SMS sent: nil while pending.
  fileprivate var sendStatus: (status: Int, reference: Int)?

  init(configuration: GammuConfiguration) {
    self.configuration = configuration
  }

  deinit {
    if let stateMachine { GSM_FreeStateMachine(stateMachine) }
  }

  // MARK: Connection

  /// Allocates, configures and connects the state machine if needed.
  public func connect() throws {
    if connected, stateMachine != nil { return }
    if stateMachine == nil {
      guard let sm = GSM_AllocStateMachine() else { throw ModemError(.gammu, "cannot allocate a gammu state machine") }
      vigie_gammu_configure(
        sm, configuration.device, configuration.connection, configuration.model, configuration.logFile ?? "",
        configuration.logFile == nil ? "" : "textalldate")
      stateMachine = sm
      abortHandle.withLock { $0 = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(sm))) }
    }
    let sm = stateMachine!
    if let error = ModemError.check(GSM_InitConnection(sm, 1), "connecting to \(describeDevice)") { throw error }
    connected = true
    let me = Unmanaged.passUnretained(self).toOpaque()
    GSM_SetSendSMSStatusCallback(
      sm,
      { _, status, reference, userData in
        guard let userData else { return }
        let machine = Unmanaged<GammuMachine>.fromOpaque(userData).takeUnretainedValue()
        machine.sendStatus = (Int(status), Int(reference))
      }, me)
    GSM_SetIncomingSMSCallback(
      sm,
      { _, _, userData in
        guard let userData else { return }
        Unmanaged<GammuMachine>.fromOpaque(userData).takeUnretainedValue().incoming = true
      }, me)
  }

  var describeDevice: String {
    configuration.connection == "proxyat" ? "the modem command" : configuration.device
  }

  /// Closes the port; the state machine is kept for reuse.
  public func disconnect() {
    guard let sm = stateMachine else { return }
    if connected { _ = GSM_TerminateConnection(sm) }
    connected = false
  }

  /// Frees the state machine: the next call allocates a new one.
  public func reset() {
    disconnect()
    abortHandle.withLock { $0 = 0 }
    if let sm = stateMachine { GSM_FreeStateMachine(sm) }
    stateMachine = nil
  }

  /// From any thread: wakes up the call in progress.
  func abort() {
    abortRequested.store(true, ordering: .sequentiallyConsistent)
    abortHandle.withLock { address in
      if let sm = OpaquePointer(bitPattern: address) { _ = GSM_AbortOperation(sm) }
    }
  }

  /// After an abort, the state machine's abort flag stays set: replace it.
  func recoverFromAbortIfNeeded() {
    if abortRequested.exchange(false, ordering: .sequentiallyConsistent) { reset() }
  }

  private func machine() throws -> OpaquePointer {
    try connect()
    return stateMachine!
  }

  // MARK: Operations

  public func securityStatus() throws -> SecurityStatus {
    let sm = try machine()
    var type = GSM_SecurityCodeType(rawValue: 0)
    let error = GSM_GetSecurityStatus(sm, &type)
    if error == ERR_NOTSUPPORTED || error == ERR_NOTIMPLEMENTED { return .ready }
    if let error = ModemError.check(error, "reading the SIM security status") { throw error }
    switch type {
    case SEC_None: return .ready
    case SEC_Pin: return .pin
    case SEC_Puk: return .puk
    case SEC_Pin2: return .pin2
    case SEC_Puk2: return .puk2
    case SEC_Phone, SEC_Network, SEC_SecurityCode: return .phoneCode
    default: return .other
    }
  }

  /// Enters the SIM PIN. Throws `.securityError` when the SIM refuses it.
  public func enterPIN(_ pin: String) throws {
    let sm = try machine()
    var code = GSM_SecurityCode()
    vigie_gammu_set_code(&code, SEC_Pin, pin)
    if let error = ModemError.check(GSM_EnterSecurityCode(sm, &code), "entering the SIM PIN") { throw error }
  }

  public func imsi() throws -> String {
    let sm = try machine()
    var buffer = [CChar](repeating: 0, count: 256)
    if let error = ModemError.check(GSM_GetSIMIMSI(sm, &buffer), "reading the IMSI") { throw error }
    return Self.string(buffer)
  }

  public func identity() throws -> ModemIdentity {
    let sm = try machine()
    var manufacturer = [CChar](repeating: 0, count: Int(GSM_MAX_MANUFACTURER_LENGTH) + 1)
    var model = [CChar](repeating: 0, count: Int(GSM_MAX_MODEL_LENGTH) + 1)
    var firmware = [CChar](repeating: 0, count: Int(GSM_MAX_VERSION_LENGTH) + 1)
    var date = [CChar](repeating: 0, count: Int(GSM_MAX_VERSION_DATE_LENGTH) + 1)
    var imei = [CChar](repeating: 0, count: Int(GSM_MAX_IMEI_LENGTH) + 1)
    var version = 0.0
    _ = GSM_GetManufacturer(sm, &manufacturer)
    _ = GSM_GetModel(sm, &model)
    _ = GSM_GetFirmware(sm, &firmware, &date, &version)
    _ = GSM_GetIMEI(sm, &imei)
    return ModemIdentity(
      manufacturer: Self.string(manufacturer), model: Self.string(model), firmware: Self.string(firmware),
      imei: Self.string(imei))
  }

  public func signalQuality() throws -> SignalQuality {
    let sm = try machine()
    var quality = GSM_SignalQuality()
    if let error = ModemError.check(GSM_GetSignalQuality(sm, &quality), "reading the signal quality") { throw error }
    return SignalQuality(
      dBm: quality.SignalStrength == -1 ? nil : Int(quality.SignalStrength),
      percent: quality.SignalPercent == -1 ? nil : Int(quality.SignalPercent),
      bitErrorRate: quality.BitErrorRate == -1 ? nil : Int(quality.BitErrorRate))
  }

  public func networkStatus() throws -> NetworkStatus {
    let sm = try machine()
    var info = GSM_NetworkInfo()
    if let error = ModemError.check(GSM_GetNetworkInfo(sm, &info), "reading the network registration") { throw error }
    let registration: Registration
    switch info.State {
    case GSM_HomeNetwork: registration = .home
    case GSM_RoamingNetwork: registration = .roaming
    case GSM_RequestingNetwork: registration = .searching
    case GSM_RegistrationDenied: registration = .denied
    case GSM_NoNetwork: registration = .notRegistered
    default: registration = .unknown
    }
    return NetworkStatus(
      registration: registration,
      operatorCode: withUnsafeBytes(of: &info.NetworkCode) { Self.cString($0) },
      operatorName: withUnsafeBytes(of: &info.NetworkName) { GammuText.decode($0) },
      locationAreaCode: withUnsafeBytes(of: &info.LAC) { Self.cString($0) },
      cellID: withUnsafeBytes(of: &info.CID) { Self.cString($0) })
  }

  /// Every message in every folder of the modem, as separate parts.
  public func readAllSMS() throws -> [StoredSMS] {
    let sm = try machine()
    let multi = UnsafeMutablePointer<GSM_MultiSMSMessage>.allocate(capacity: 1)
    defer { multi.deallocate() }
    memset(multi, 0, MemoryLayout<GSM_MultiSMSMessage>.size)
    var result: [StoredSMS] = []
    var start = gboolean(1)
    for _ in 0..<1000 {  // a modem holds far fewer; bounds a misbehaving one
      let error = GSM_GetNextSMS(sm, multi, start)
      start = 0
      if error == ERR_EMPTY { break }
      if let error = ModemError.check(error, "reading stored SMS") { throw error }
      for index in 0..<Int(multi.pointee.Number) {
        if let part = vigie_gammu_multisms_part(multi, Int32(index)) { result.append(Self.convert(part)) }
      }
    }
    return result
  }

  /// Deletes one stored part.
  public func delete(_ sms: StoredSMS) throws {
    let sm = try machine()
    var message = GSM_SMSMessage()
    message.Location = Int32(sms.location)
    message.Folder = Int32(sms.folder)
    if let error = ModemError.check(GSM_DeleteSMS(sm, &message), "deleting SMS \(sms.location)") { throw error }
  }

  /// Sends `text` to `number` in as many parts as needed (GSM-7 unless
  /// `unicode`), waiting for each part's network confirmation up to
  /// `confirmation`. Returns the message references.
  public func send(text: String, to number: String, unicode: Bool, multipart: Bool, confirmation: Duration) throws
    -> [Int]
  {
    let sm = try machine()
    let multi = UnsafeMutablePointer<GSM_MultiSMSMessage>.allocate(capacity: 1)
    defer { multi.deallocate() }
    var textBuffer = GammuText.encode(text)
    let encodeError = textBuffer.withUnsafeMutableBufferPointer { buffer in
      vigie_gammu_encode_text(GSM_GetDebug(sm), buffer.baseAddress, unicode ? 1 : 0, multipart ? 1 : 0, multi)
    }
    if let error = ModemError.check(encodeError, "encoding the SMS") { throw error }
    let numberBuffer = GammuText.encode(number)
    var references: [Int] = []
    for index in 0..<Int(multi.pointee.Number) {
      guard let part = vigie_gammu_multisms_part(multi, Int32(index)) else { continue }
      numberBuffer.withUnsafeBufferPointer { vigie_gammu_prepare_submit(part, $0.baseAddress) }
      sendStatus = nil
      if let error = ModemError.check(GSM_SendSMS(sm, part), "sending SMS part \(index + 1) to \(number)") {
        throw error
      }
      let deadline = ContinuousClock.now.advanced(by: confirmation)
      while sendStatus == nil, ContinuousClock.now < deadline, !abortRequested.load(ordering: .relaxed) {
        _ = GSM_ReadDevice(sm, 1)
      }
      guard let status = sendStatus else {
        throw ModemError(
          .timeout, "SMS part \(index + 1) to \(number): the network did not confirm within \(confirmation)")
      }
      guard status.status == 0 else {
        throw ModemError(.gammu, "SMS part \(index + 1) to \(number) refused by the network (status \(status.status))")
      }
      references.append(status.reference)
    }
    return references
  }

  /// Asks the modem to announce new messages (`+CMTI`), where supported.
  public func enableIncomingNotifications() throws {
    let sm = try machine()
    let error = GSM_SetIncomingSMS(sm, 1)
    if error == ERR_NOTSUPPORTED || error == ERR_NOTIMPLEMENTED { return }
    if let error = ModemError.check(error, "enabling new-message notifications") { throw error }
  }

  /// Reads whatever the modem sent on its own (notifications). Returns true
  /// when a new message was announced since the last call.
  public func pollNotifications() throws -> Bool {
    let sm = try machine()
    _ = GSM_ReadDevice(sm, 0)
    defer { incoming = false }
    return incoming
  }

  // MARK: Conversions

  static func string(_ chars: [CChar]) -> String {
    chars.withUnsafeBytes { cString($0) }
  }

  static func cString(_ bytes: UnsafeRawBufferPointer) -> String {
    let end = bytes.firstIndex(of: 0) ?? bytes.count
    return String(decoding: bytes[0..<end], as: UTF8.self)
  }

  static func convert(_ part: UnsafeMutablePointer<GSM_SMSMessage>) -> StoredSMS {
    let sms = part.pointee
    var copy = sms
    let kind: StoredSMS.Kind
    switch sms.PDU {
    case SMS_Deliver: kind = .deliver
    case SMS_Status_Report: kind = .statusReport
    case SMS_Submit: kind = .submit
    default: kind = .other
    }
    let sender = withUnsafeBytes(of: &copy.Number) { GammuText.decode($0) }
    var text = ""
    var binary: [UInt8]?
    if sms.Coding == SMS_Coding_8bit {
      let length = max(0, min(Int(sms.Length), MemoryLayout.size(ofValue: copy.Text)))
      binary = withUnsafeBytes(of: &copy.Text) { Array($0[0..<length]) }
    } else {
      text = withUnsafeBytes(of: &copy.Text) { GammuText.decode($0) }
    }
    var concatenation: StoredSMS.Concatenation?
    if sms.UDH.Type == UDH_ConcatenatedMessages || sms.UDH.Type == UDH_ConcatenatedMessages16bit {
      let reference = sms.UDH.Type == UDH_ConcatenatedMessages16bit ? sms.UDH.ID16bit : sms.UDH.ID8bit
      if sms.UDH.AllParts > 1 {
        concatenation = .init(reference: Int(reference), part: Int(sms.UDH.PartNumber), total: Int(sms.UDH.AllParts))
      }
    }
    let date = kind == .statusReport ? sms.SMSCTime : sms.DateTime
    // Zero or impossible dates (some modems) are kept as "no timestamp".
    let timestamp = try? SMSCTimestamp(
      year: Int(date.Year), month: Int(date.Month), day: Int(date.Day), hour: Int(date.Hour),
      minute: Int(date.Minute), second: Int(date.Second), zoneQuarterHours: Int(date.Timezone) / 900)
    return StoredSMS(
      location: Int(sms.Location), folder: Int(sms.Folder),
      memory: String(cString: vigie_GSM_MemoryTypeToString(sms.Memory)), kind: kind, sender: sender, text: text,
      binary: binary, timestamp: timestamp, concatenation: concatenation, messageReference: Int(sms.MessageReference),
      deliveryStatus: Int(sms.DeliveryStatus))
  }
}

/// libgammu's "Unicode": UCS-2/UTF-16 big endian, terminated by two NULs.
/// Converted here rather than with DecodeUnicodeString, which returns a
/// static buffer.
enum GammuText {
  static func decode(_ bytes: UnsafeRawBufferPointer) -> String {
    var units: [UInt16] = []
    var index = 0
    while index + 1 < bytes.count {
      let unit = UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
      if unit == 0 { break }
      units.append(unit)
      index += 2
    }
    return String(decoding: units, as: UTF16.self)
  }

  static func encode(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    for unit in text.utf16 {
      bytes.append(UInt8(unit >> 8))
      bytes.append(UInt8(unit & 0xFF))
    }
    return bytes + [0, 0]
  }
}
