import Foundation
import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What a service probe (DNS, NTP, OpenVPN) says about a service.
public enum ServiceVerdict: Sendable, Hashable, CustomStringConvertible {
  /// The service answered as it should.
  case open(rtt: Duration, detail: String)
  /// Something answered on the port, but not as a working service does
  /// (SERVFAIL, an unsynchronised clock, garbage).
  case badAnswer(rtt: Duration, detail: String)
  /// The port is closed: ICMP port unreachable (UDP) or a reset (TCP).
  case closed(String)
  /// No answer at all: for UDP the port is open or filtered (nmap's
  /// `open|filtered`), for TCP after the handshake the server stayed silent.
  case silent(String)
  /// TCP only: the handshake itself got no answer (filtered, or host down).
  case filtered(String)
  /// The network said the host cannot be reached, or we have no route.
  case unreachable(String)

  public var description: String {
    switch self {
    case .open(let rtt, let detail): "open (\(TCPConnectVerdict.milliseconds(rtt)) ms): \(detail)"
    case .badAnswer(let rtt, let detail): "bad answer (\(TCPConnectVerdict.milliseconds(rtt)) ms): \(detail)"
    case .closed(let why): "closed (\(why))"
    case .silent(let why): "open|filtered (\(why))"
    case .filtered(let why): "filtered (\(why))"
    case .unreachable(let why): "unreachable (\(why))"
    }
  }
}

/// The UDP and TCP service probes: `dns`, `dns:NAME`, `ntp`,
/// `udp-openvpn:PORT` and `tcp-openvpn:PORT`. Each sends one request built
/// by `VigieCore` and judges the answer with its parser; the socket work runs
/// on a thread of its own.
public enum ServiceProbe {
  /// What a received datagram is, for the probe waiting on it.
  enum Judgement: Sendable {
    /// The answer to our request, good.
    case good(String)
    /// The answer to our request, showing a broken service.
    case bad(String)
    /// Not an answer to our request (another id, a stale reply): ignored.
    case notOurs
  }

  // MARK: DNS

  /// Asks `host` for NAME's A records (`name` given) or the root's NS records.
  /// Good: NOERROR (with records, for a name) or, for the root, NXDOMAIN too.
  public static func dns(host: String, port: Int = 53, name: String?, timeout: Duration) async throws
    -> ServiceVerdict
  {
    let id = UInt16.random(in: 0...UInt16.max)
    let queryName = name ?? "."
    let type = name == nil ? DNS.RecordType.ns : DNS.RecordType.a
    let request: [UInt8]
    do {
      request = try DNS.query(id: id, name: queryName, type: type)
    } catch {
      throw PingError(.invalidArgument, host: host, error.message)
    }
    return try await udp(host: host, port: port, request: request, timeout: timeout, silence: "") {
      bytes in
      let response: DNS.Response
      do throws(PacketParseError) {
        response = try DNS.parseResponse(bytes)
      } catch {
        // A garbage datagram on the DNS port: a broken answer unless it
        // clearly is not for us.
        return bytes.count >= 2 && bytes.be16(0) != id ? .notOurs : .bad("not a DNS answer: \(error.message)")
      }
      guard response.id == id, response.questionType == type,
        response.questionName.lowercased() == DNS.displayName(queryName).lowercased()
      else { return .notOurs }
      let code = response.responseCode
      if let name {
        guard code == .noError else { return .bad("\(name): \(code)") }
        let addresses = response.addresses
        guard !addresses.isEmpty else {
          return .bad("\(name): no A record (NOERROR, \(response.answers.count) answers)")
        }
        return .good("\(name) is \(addresses.map(\.description).joined(separator: ", "))")
      }
      guard code == .noError || code == .nameError else { return .bad("the root's NS records: \(code)") }
      return .good("\(code), \(response.answers.count) answers")
    }
  }

  // MARK: NTP

  /// Sends a mode-3 request; good when a synchronised server answers it.
  public static func ntp(host: String, port: Int = 123, timeout: Duration) async throws -> ServiceVerdict {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    // The low bits of the fraction (below a microsecond) are random: the
    // reply must echo them, which a blind forger cannot guess.
    var transmit = NTP.Timestamp(unixSeconds: Int64(now.tv_sec), nanoseconds: Int64(now.tv_nsec))
    transmit.value = transmit.value & ~0xFFF | UInt64.random(in: 0...0xFFF)
    let sent = transmit
    return try await udp(
      host: host, port: port, request: NTP.clientRequest(transmit: transmit), timeout: timeout,
      silence: ""
    ) { bytes in
      let reply: NTP.Reply
      do throws(PacketParseError) {
        reply = try NTP.parseReply(bytes)
      } catch {
        return .bad("not an NTP answer: \(error.message)")
      }
      guard reply.origin == sent else { return .notOurs }
      if let problem = reply.problem(request: sent) { return .bad(problem) }
      return .good(reply.summary)
    }
  }

  // MARK: OpenVPN

  /// What a silent OpenVPN server may mean, after "no answer within 2s".
  public static let openVPNSilence = ": server may use tls-auth"

  /// Sends P_CONTROL_HARD_RESET_CLIENT_V2 with a random session id, over UDP
  /// or TCP; good when P_CONTROL_HARD_RESET_SERVER_V2 answers it.
  public static func openVPN(host: String, port: Int, tcp: Bool, timeout: Duration) async throws -> ServiceVerdict {
    let session = UInt64.random(in: 1...UInt64.max)
    let request = OpenVPN.hardResetClient(sessionID: session, tcp: tcp)
    let judge: @Sendable ([UInt8]) -> Judgement = { bytes in
      let packet: OpenVPN.ControlPacket
      do throws(PacketParseError) {
        packet = try OpenVPN.parseControl(bytes)
      } catch {
        return .bad("not an OpenVPN answer: \(error.message)")
      }
      if packet.answersReset(of: session) {
        return .good("\(packet.opcodeName), server session \(String(packet.sessionID, radix: 16))")
      }
      // Any control packet acknowledging our reset shows a live server (a
      // peer-to-peer server busy with another client only acks it).
      if packet.ackedSessionID == session { return .good("\(packet.opcodeName) acknowledging our reset") }
      if packet.ackedSessionID != nil { return .notOurs }
      return .bad("\(packet.opcodeName) instead of P_CONTROL_HARD_RESET_SERVER_V2")
    }
    if tcp {
      return try await tcpExchange(
        host: host, port: port, request: request, timeout: timeout, silence: openVPNSilence, judge: judge)
    }
    return try await udp(host: host, port: port, request: request, timeout: timeout, silence: openVPNSilence, judge)
  }

  // MARK: Sockets

  static func udp(
    host: String, port: Int, request: [UInt8], timeout: Duration, silence: String,
    _ judge: @escaping @Sendable ([UInt8]) -> Judgement
  ) async throws -> ServiceVerdict {
    guard (1...65535).contains(port) else {
      throw PingError(.invalidArgument, host: host, "port \(port) is not within 1...65535")
    }
    let address = try await HostResolver.resolve(host)
    guard let cancel = CancelSignal() else {
      throw PingError(.socketFailed, host: host, "cannot create a wake-up socket pair: out of descriptors")
    }
    return try await DedicatedThread.run(name: "vigie-udp-probe", cancellation: .signal(cancel)) {
      try udpExchange(
        address: address, port: port, host: host, request: request, timeout: timeout, silence: silence,
        cancel: cancel, judge: judge)
    }
  }

  /// One request on a connected UDP socket, so that the kernel reports an
  /// ICMP port unreachable as `ECONNREFUSED` and drops datagrams from other
  /// addresses; answers that are not ours are skipped until the deadline.
  static func udpExchange(
    address: SocketAddress, port: Int, host: String, request: [UInt8], timeout: Duration, silence: String,
    cancel: CancelSignal, judge: ([UInt8]) -> Judgement
  ) throws -> ServiceVerdict {
    let fd = socket(
      address.family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else {
      throw PingError(.socketFailed, host: host, "cannot create a UDP socket: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    if let early = connectSocket(fd, address: address, port: port) {
      return .unreachable(String(cString: strerror(early)))
    }
    let started = ContinuousClock.now
    let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    if sent < 0 {
      let code = errno
      if code == ECONNREFUSED { return .closed("ICMP port unreachable") }
      if isUnreachable(code) { return .unreachable(String(cString: strerror(code))) }
      throw PingError(.socketFailed, host: host, "cannot send the probe: \(String(cString: strerror(code)))")
    }
    let deadline = started.advanced(by: timeout)
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      guard try waitReadable(fd, cancel: cancel, until: deadline, host: host) else {
        return .silent("no answer within \(timeout.configText)" + silence)
      }
      let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if count < 0 {
        let code = errno
        if code == EINTR || code == EAGAIN || code == EWOULDBLOCK { continue }
        if code == ECONNREFUSED { return .closed("ICMP port unreachable") }
        if isUnreachable(code) { return .unreachable(String(cString: strerror(code))) }
        throw PingError(.receiveFailed, host: host, "cannot receive: \(String(cString: strerror(code)))")
      }
      let rtt = started.duration(to: .now)
      switch judge(Array(buffer[0..<count])) {
      case .good(let detail): return .open(rtt: rtt, detail: detail)
      case .bad(let detail): return .badAnswer(rtt: rtt, detail: detail)
      case .notOurs: continue
      }
    }
  }

  static func tcpExchange(
    host: String, port: Int, request: [UInt8], timeout: Duration, silence: String,
    judge: @escaping @Sendable ([UInt8]) -> Judgement
  ) async throws -> ServiceVerdict {
    guard (1...65535).contains(port) else {
      throw PingError(.invalidArgument, host: host, "port \(port) is not within 1...65535")
    }
    let address = try await HostResolver.resolve(host)
    guard let cancel = CancelSignal() else {
      throw PingError(.socketFailed, host: host, "cannot create a wake-up socket pair: out of descriptors")
    }
    return try await DedicatedThread.run(name: "vigie-tcp-probe", cancellation: .signal(cancel)) {
      try tcpExchangeBlocking(
        address: address, port: port, host: host, request: request, timeout: timeout, silence: silence,
        cancel: cancel, judge: judge)
    }
  }

  /// Connects, sends the length-prefixed request, and reads length-prefixed
  /// packets until one is judged or the deadline passes. The whole exchange,
  /// handshake included, has `timeout`.
  static func tcpExchangeBlocking(
    address: SocketAddress, port: Int, host: String, request: [UInt8], timeout: Duration, silence: String,
    cancel: CancelSignal, judge: ([UInt8]) -> Judgement
  ) throws -> ServiceVerdict {
    let fd = socket(
      address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else {
      throw PingError(.socketFailed, host: host, "cannot create a TCP socket: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    let started = ContinuousClock.now
    let deadline = started.advanced(by: timeout)
    var code = connectSocket(fd, address: address, port: port) ?? 0
    if code == EINPROGRESS {
      guard try waitWritable(fd, cancel: cancel, until: deadline, host: host) else {
        return .filtered("no answer to the TCP handshake within \(timeout.configText)")
      }
      var error: Int32 = 0
      var length = socklen_t(MemoryLayout<Int32>.size)
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
      code = error
    }
    switch code {
    case 0: break
    case ECONNREFUSED: return .closed("TCP reset")
    case ETIMEDOUT: return .filtered("no answer to the TCP handshake")
    default: return .unreachable(String(cString: strerror(code)))
    }
    var offset = 0
    while offset < request.count {
      let sent = request.withUnsafeBytes {
        send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
      }
      if sent < 0 {
        if errno == EINTR || errno == EAGAIN { continue }
        return .silent("no answer, the server closed the connection (\(String(cString: strerror(errno))))" + silence)
      }
      offset += sent
    }
    var stream: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16384)
    while true {
      guard try waitReadable(fd, cancel: cancel, until: deadline, host: host) else {
        return .silent("no answer within \(timeout.configText)" + silence)
      }
      let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if count < 0 {
        if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
        return .silent("no answer, the server closed the connection (\(String(cString: strerror(errno))))" + silence)
      }
      if count == 0 { return .silent("no answer, the server closed the connection" + silence) }
      stream += buffer[0..<count]
      let rtt = started.duration(to: .now)
      let packets: [[UInt8]]
      do {
        let split = try OpenVPN.splitTCPStream(stream)
        packets = split.packets
        stream.removeFirst(split.consumed)
      } catch {
        return .badAnswer(rtt: rtt, detail: error.message)
      }
      for packet in packets {
        switch judge(packet) {
        case .good(let detail): return .open(rtt: rtt, detail: detail)
        case .bad(let detail): return .badAnswer(rtt: rtt, detail: detail)
        case .notOurs: continue
        }
      }
      if stream.count > 65537 { return .badAnswer(rtt: rtt, detail: "a packet longer than the stream allows") }
    }
  }

  /// `connect()` to address:port; nil on success, else errno
  /// (`EINPROGRESS` for a non-blocking TCP socket).
  static func connectSocket(_ fd: Int32, address: SocketAddress, port: Int) -> Int32? {
    // sin_port and sin6_port are both at offset 2, in network byte order.
    var storage = address.storage
    storage[2] = UInt8(port >> 8)
    storage[3] = UInt8(port & 0xFF)
    let result = storage.withUnsafeBytes { raw in
      connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
    }
    return result == 0 ? nil : errno
  }

  static func isUnreachable(_ code: Int32) -> Bool {
    [EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN, EADDRNOTAVAIL].contains(code)
  }

  /// Polls `fd` for `events` (and the cancel signal) until `deadline`:
  /// true when ready, false at the deadline; throws `CancellationError`.
  static func wait(
    _ fd: Int32, events: Int32, cancel: CancelSignal, until deadline: ContinuousClock.Instant, host: String
  )
    throws -> Bool
  {
    var fds = [
      pollfd(fd: fd, events: Int16(events), revents: 0),
      pollfd(fd: cancel.descriptor, events: Int16(POLLIN), revents: 0),
    ]
    while true {
      let remaining = ContinuousClock.now.duration(to: deadline)
      if remaining <= .zero { return false }
      let ms = Int32(
        min(
          Int64(Int32.max),
          remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1))
      let ready = poll(&fds, 2, ms)
      if ready < 0 {
        if errno == EINTR { continue }
        throw PingError(.receiveFailed, host: host, "poll failed: \(String(cString: strerror(errno)))")
      }
      if fds[1].revents != 0 { throw CancellationError() }
      if fds[0].revents != 0 { return true }
    }
  }

  static func waitReadable(_ fd: Int32, cancel: CancelSignal, until deadline: ContinuousClock.Instant, host: String)
    throws -> Bool
  {
    try wait(fd, events: Int32(POLLIN), cancel: cancel, until: deadline, host: host)
  }

  static func waitWritable(_ fd: Int32, cancel: CancelSignal, until deadline: ContinuousClock.Instant, host: String)
    throws -> Bool
  {
    try wait(fd, events: Int32(POLLOUT), cancel: cancel, until: deadline, host: host)
  }
}

extension [UInt8] {
  fileprivate func be16(_ offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }
}
