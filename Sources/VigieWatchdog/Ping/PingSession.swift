import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Linux ABI constants that the C module does not export.
private enum LinuxICMP {
  /// `ICMP_FILTER` (linux/icmp.h), at level `SOL_RAW`: a 32-bit mask of the
  /// ICMPv4 types (below 32) a raw socket drops.
  static let icmpFilter: Int32 = 1
  /// `ICMP6_FILTER` (netinet/icmp6.h), at level `IPPROTO_ICMPV6`: 256 bits,
  /// a set bit drops that ICMPv6 type.
  static let icmp6Filter: Int32 = 1
  /// `SO_EE_ORIGIN_LOCAL`, `_ICMP`, `_ICMP6` (linux/errqueue.h).
  static let originLocal: UInt8 = 1
  static let originICMP: UInt8 = 2
  static let originICMP6: UInt8 = 3
  /// `sizeof(struct sock_extended_err)`: u32 errno, u8 origin, type, code,
  /// pad, u32 info, u32 data; the offender's sockaddr follows.
  static let extendedErrorSize = 16
}

/// One ping run on its own thread: owns the socket from open to close.
/// Not Sendable: it never leaves the thread that created it.
final class PingSession {
  private struct Probe {
    /// CLOCK_REALTIME and CLOCK_MONOTONIC at send, in nanoseconds.
    var sentReal: Int64
    var sentMonotonic: Int64
    /// The timestamp in the payload (identifies the reply as ours).
    var payloadTimestamp: UInt64
    var replied = false
    /// Replied, or known never to be (send refused, ICMP error).
    var finished = false
  }

  /// A datagram read from the socket or its error queue.
  private struct Received {
    var bytes: [UInt8]
    var source: SocketAddress?
    /// The kernel's CLOCK_REALTIME receive time (`SO_TIMESTAMPNS`).
    var kernelReal: Int64?
    /// CLOCK_MONOTONIC right after `recvmsg`.
    var monotonic: Int64
    /// The `sock_extended_err` of an error-queue entry.
    var extendedError:
      (
        origin: UInt8, type: UInt8, code: UInt8, errno: UInt32, info: UInt32,
        offender: SocketAddress?
      )?
  }

  private let plan: PingPlan
  private let cancel: CancelSignal
  private let isIPv6: Bool
  private let identifier = UInt16.random(in: 0...UInt16.max)
  private var descriptor: Int32 = -1
  private var kind = PingSocketKind.datagram
  private var probes: [Probe?]
  private var received = 0
  private var rtts: [Duration] = []
  private var errors: [String] = []

  /// Receive buffers, allocated once.
  private let data = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
  private let control = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 16)

  init(plan: PingPlan, cancel: CancelSignal) {
    self.plan = plan
    self.cancel = cancel
    isIPv6 = plan.target.family == AF_INET6
    probes = Array(repeating: nil, count: plan.count)
  }

  deinit {
    if descriptor >= 0 { close(descriptor) }
    data.deallocate()
    control.deallocate()
  }

  /// Opens the socket, sends and receives until every request is answered
  /// or timed out, and closes the socket.
  func run() throws -> PingResult {
    try plan.options.threadSetup?()
    try openSocket()
    defer {
      close(descriptor)
      descriptor = -1
    }
    let start = Self.now(CLOCK_MONOTONIC)
    var nextSequence = 0
    var lastSend = start
    while true {
      if cancel.isFired { throw CancellationError() }
      var now = Self.now(CLOCK_MONOTONIC)
      while nextSequence < plan.count, now >= start + Int64(nextSequence) * plan.interval {
        send(sequence: nextSequence)
        lastSend = now
        nextSequence += 1
        now = Self.now(CLOCK_MONOTONIC)
      }
      let allSent = nextSequence == plan.count
      if allSent, probes.allSatisfy({ $0?.finished == true }) || now >= lastSend + plan.timeout {
        break
      }
      let wake = allSent ? lastSend + plan.timeout : start + Int64(nextSequence) * plan.interval
      try wait(until: wake, now: now)
    }
    return PingResult(
      host: plan.host, address: plan.target.address, socketKind: kind, sent: nextSequence,
      received: received,
      rtts: rtts, errors: errors)
  }

  // MARK: Socket

  private func openSocket() throws(PingError) {
    let family = plan.target.family
    let proto = isIPv6 ? Int32(IPPROTO_ICMPV6) : Int32(IPPROTO_ICMP)
    var failures: [(kind: PingSocketKind, error: SystemCallError)] = []
    for kind in plan.options.socketKinds {
      let type =
        Int32((kind == .datagram ? SOCK_DGRAM : SOCK_RAW).rawValue) | Int32(SOCK_CLOEXEC.rawValue)
      let (descriptor, error) = plan.options.openSocket(family, type, proto)
      if descriptor >= 0 {
        self.descriptor = descriptor
        self.kind = kind
        configure()
        return
      }
      failures.append((kind, SystemCallError("socket", errno: error)))
    }
    let isPermission = { (error: SystemCallError) in error.code == EACCES || error.code == EPERM }
    if !failures.isEmpty, failures.allSatisfy({ isPermission($0.error) }) {
      throw PingError(
        .permissionDenied, host: plan.host,
        "cannot open an ICMP socket to ping \(plan.host): \(Self.pingGroupExplanation()) and raw sockets need "
          + "CAP_NET_RAW; give vigie CAP_NET_RAW (systemd: AmbientCapabilities=CAP_NET_RAW) or add its group "
          + "to net.ipv4.ping_group_range (sysctl net.ipv4.ping_group_range='0 2147483647')",
        underlyingError: failures.last?.error)
    }
    let failure = failures.first { !isPermission($0.error) } ?? failures.first
    let family6 = isIPv6 ? "ICMPv6" : "ICMP"
    throw PingError(
      .socketFailed, host: plan.host,
      "cannot open a \(failure.map { "\($0.kind) " } ?? "")\(family6) socket to ping \(plan.host) "
        + "(\(plan.target.address)): \(failure?.error.text ?? "no socket kind to try"); "
        + (isIPv6 ? "is IPv6 enabled in the kernel?" : "check the kernel's ICMP support"),
      underlyingError: failure?.error)
  }

  /// Why ping sockets are refused, from `net.ipv4.ping_group_range`.
  private static func pingGroupExplanation() -> String {
    let path = "/proc/sys/net/ipv4/ping_group_range"
    guard let file = fopen(path, "r") else { return "ping sockets are not allowed for this group" }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 64)
    guard fgets(&line, Int32(line.count), file) != nil else {
      return "ping sockets are not allowed for this group"
    }
    let range = String(
      decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self
    )
    .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
    return
      "ping sockets are not allowed for group \(getegid()) (net.ipv4.ping_group_range is '\(range)')"
  }

  /// Receive timestamps, error reporting and type filters. Each is an
  /// optimisation: failures are ignored (the clock and user-space filtering
  /// take over).
  private func configure() {
    var one: Int32 = 1
    let intSize = socklen_t(MemoryLayout<Int32>.size)
    _ = setsockopt(descriptor, SOL_SOCKET, SO_TIMESTAMPNS, &one, intSize)
    switch (kind, isIPv6) {
    case (.datagram, false):
      // ICMP errors about our requests go to the error queue.
      _ = setsockopt(descriptor, Int32(IPPROTO_IP), IP_RECVERR, &one, intSize)
    case (.datagram, true):
      _ = setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_RECVERR, &one, intSize)
    case (.raw, false):
      // Drop every type below 32 except echo reply, unreachable, time
      // exceeded and parameter problem.
      var mask = ~UInt32(1 << 0 | 1 << 3 | 1 << 11 | 1 << 12)
      _ = setsockopt(
        descriptor, SOL_RAW, LinuxICMP.icmpFilter, &mask, socklen_t(MemoryLayout<UInt32>.size))
    case (.raw, true):
      var filter = [UInt32](repeating: .max, count: 8)
      for type in [1, 2, 3, 4, 129] { filter[type >> 5] &= ~(UInt32(1) << (type & 31)) }
      _ = filter.withUnsafeMutableBytes { bytes in
        setsockopt(
          descriptor, Int32(IPPROTO_ICMPV6), LinuxICMP.icmp6Filter, bytes.baseAddress,
          socklen_t(bytes.count))
      }
    }
  }

  // MARK: Sending

  private func send(sequence: Int) {
    let sentReal = Self.now(CLOCK_REALTIME)
    let timestamp = UInt64(bitPattern: sentReal)
    let echo = ICMPEcho(
      identifier: identifier, sequence: UInt16(truncatingIfNeeded: sequence), timestamp: timestamp)
    // On a ping socket the kernel sets the identifier (and the ICMPv4
    // checksum); on ICMPv6 sockets it computes the checksum.
    let packet = isIPv6 ? ICMPv6.echoRequest(echo) : ICMPv4.echoRequest(echo)
    var probe = Probe(
      sentReal: sentReal, sentMonotonic: Self.now(CLOCK_MONOTONIC), payloadTimestamp: timestamp)
    var result: Int
    repeat {
      result = packet.withUnsafeBytes { bytes in
        plan.target.withSockaddr { address, length in
          sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), address, length)
        }
      }
    } while result < 0 && errno == EINTR
    if result < 0 {
      let error = SystemCallError("sendto", errno: errno)
      note("cannot send to \(plan.target.address): \(error.text)")
      probe.finished = true
    }
    probes[sequence] = probe
  }

  // MARK: Receiving

  /// Waits in `poll()` for replies, errors or cancellation until `deadline`
  /// (CLOCK_MONOTONIC nanoseconds), handling whatever arrives.
  private func wait(until deadline: Int64, now: Int64) throws {
    let remaining = max(0, deadline - now)
    let milliseconds = Int32(clamping: (remaining + 999_999) / 1_000_000)
    var entries = [
      pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
      pollfd(fd: cancel.descriptor, events: Int16(POLLIN), revents: 0),
    ]
    let ready = poll(&entries, nfds_t(entries.count), milliseconds)
    if ready < 0 {
      let error = SystemCallError("poll", errno: errno)
      if error.code == EINTR { return }
      throw PingError(
        .receiveFailed, host: plan.host, "cannot wait for replies from \(plan.host): \(error.text)",
        underlyingError: error)
    }
    if entries[1].revents != 0 { throw CancellationError() }
    let events = entries[0].revents
    if events & Int16(POLLERR) != 0 {
      if kind == .datagram {
        try drain(flags: Int32(MSG_ERRQUEUE), handle: handleQueuedError)
      }
      // Clear the pending socket error (a raw socket without IP_RECVERR
      // only flags it), so that poll() does not report it again.
      var error: Int32 = 0
      var length = socklen_t(MemoryLayout<Int32>.size)
      _ = getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
    }
    if events & Int16(POLLIN) != 0 {
      try drain(flags: 0, handle: handleMessage)
    }
  }

  /// Reads datagrams (without blocking) until none is left.
  private func drain(flags: Int32, handle: (Received) -> Void) throws(PingError) {
    while true {
      var name = sockaddr_storage()
      var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
      var message = msghdr()
      let count = withUnsafeMutablePointer(to: &name) { namePointer in
        withUnsafeMutablePointer(to: &vector) { vectorPointer in
          message.msg_name = UnsafeMutableRawPointer(namePointer)
          message.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
          message.msg_iov = vectorPointer
          message.msg_iovlen = 1
          message.msg_control = control.baseAddress
          message.msg_controllen = control.count
          return recvmsg(descriptor, &message, flags | Int32(MSG_DONTWAIT))
        }
      }
      let monotonic = Self.now(CLOCK_MONOTONIC)
      if count < 0 {
        let error = SystemCallError("recvmsg", errno: errno)
        if error.code == EAGAIN || error.code == EWOULDBLOCK { return }
        if error.code == EINTR { continue }
        // A pending asynchronous error (e.g. EHOSTUNREACH) is reported once
        // by recvmsg; the error queue or the ICMP message itself tells it.
        // Stop draining; poll() says when there is more.
        if error.code != EBADF, error.code != EFAULT, error.code != EINVAL, error.code != ENOTSOCK {
          return
        }
        throw PingError(
          .receiveFailed, host: plan.host, "cannot read replies from \(plan.host): \(error.text)",
          underlyingError: error)
      }
      // A datagram bigger than the buffer is not one of our ICMP messages.
      if message.msg_flags & Int32(MSG_TRUNC) != 0 { continue }
      var packet = Received(
        bytes: Array(UnsafeRawBufferPointer(rebasing: data[..<count])),
        source: withUnsafeBytes(of: &name) {
          SocketAddress(UnsafeRawBufferPointer(rebasing: $0.prefix(Int(message.msg_namelen))))
        },
        kernelReal: nil, monotonic: monotonic, extendedError: nil)
      parseControl(
        UnsafeRawBufferPointer(rebasing: control.prefix(Int(message.msg_controllen))), into: &packet
      )
      handle(packet)
    }
  }

  /// Reads the receive timestamp and the extended error from the control
  /// messages (`CMSG_FIRSTHDR`/`CMSG_NXTHDR` are macros, so by hand).
  private func parseControl(_ bytes: UnsafeRawBufferPointer, into received: inout Received) {
    let headerSize = MemoryLayout<cmsghdr>.size
    let alignment = MemoryLayout<Int>.size
    func aligned(_ value: Int) -> Int { (value + alignment - 1) & ~(alignment - 1) }
    var offset = 0
    while offset + headerSize <= bytes.count {
      let header = bytes.loadUnaligned(fromByteOffset: offset, as: cmsghdr.self)
      let length = Int(header.cmsg_len)
      let dataStart = offset + aligned(headerSize)
      guard length >= headerSize, offset + length <= bytes.count, dataStart <= offset + length
      else { return }
      let payload = UnsafeRawBufferPointer(rebasing: bytes[dataStart..<(offset + length)])
      switch (header.cmsg_level, header.cmsg_type) {
      case (SOL_SOCKET, SCM_TIMESTAMPNS) where payload.count >= MemoryLayout<timespec>.size:
        let time = payload.loadUnaligned(as: timespec.self)
        received.kernelReal = Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
      case (Int32(IPPROTO_IP), IP_RECVERR), (Int32(IPPROTO_IPV6), IPV6_RECVERR):
        guard payload.count >= LinuxICMP.extendedErrorSize else { break }
        received.extendedError = (
          origin: payload[4], type: payload[5], code: payload[6],
          errno: payload.loadUnaligned(fromByteOffset: 0, as: UInt32.self),
          info: payload.loadUnaligned(fromByteOffset: 8, as: UInt32.self),
          offender: SocketAddress(
            UnsafeRawBufferPointer(rebasing: payload[LinuxICMP.extendedErrorSize...]))
        )
      default:
        break
      }
      offset += aligned(length)
    }
  }

  /// A datagram from the socket: an echo reply, an ICMP error (raw sockets
  /// only) or someone else's traffic.
  private func handleMessage(_ packet: Received) {
    let message: ICMPMessage
    var sender = packet.source?.address
    do {
      if isIPv6 {
        message = try ICMPv6.parse(packet.bytes)
      } else if kind == .raw {
        let datagram = try ICMPv4.parseDatagram(packet.bytes)
        message = datagram.message
        sender = .v4(datagram.header.source)
      } else {
        message = try ICMPv4.parse(packet.bytes)
      }
    } catch {
      return  // not a well-formed ICMP message: not ours
    }
    switch message {
    case .echoReply(let echo):
      handleReply(echo, from: sender, packet: packet)
    case .error(let report):
      guard let quoted = report.original.echo, report.original.destination == plan.target.address,
        kind == .datagram || quoted.identifier == identifier
      else { return }
      finishWithError(
        sequence: Int(quoted.sequence),
        "\(report) from \(sender.map { "\($0)" } ?? "an unknown sender")")
    case .echoRequest, .other:
      return
    }
  }

  private func handleReply(_ echo: ICMPEcho, from sender: IPAddress?, packet: Received) {
    // A ping socket matches replies by identifier only (the kernel's); a
    // raw socket sees every reply to the host.
    guard sender == plan.target.address, kind == .datagram || echo.identifier == identifier else {
      return
    }
    let sequence = Int(echo.sequence)
    guard sequence < probes.count, let probe = probes[sequence], !probe.replied,
      echo.timestamp == probe.payloadTimestamp
    else { return }
    let monotonicRTT = packet.monotonic - probe.sentMonotonic
    var rtt = monotonicRTT
    // The kernel's timestamp is more precise, but it is CLOCK_REALTIME: use
    // it only when it agrees with the monotonic clock (no clock step between).
    if let kernelReal = packet.kernelReal {
      let kernelRTT = kernelReal - probe.sentReal
      if kernelRTT > 0, kernelRTT <= monotonicRTT + 1_000_000 { rtt = kernelRTT }
    }
    guard rtt <= plan.timeout else { return }  // late: counted as lost
    probes[sequence]?.replied = true
    probes[sequence]?.finished = true
    received += 1
    rtts.append(.nanoseconds(rtt))
  }

  /// An entry of the error queue of a ping socket (`IP_RECVERR`): the data
  /// is the echo request the error is about.
  private func handleQueuedError(_ packet: Received) {
    guard let error = packet.extendedError else { return }
    let requestType = isIPv6 ? ICMPv6.MessageType.echoRequest : ICMPv4.MessageType.echoRequest
    let sequence =
      packet.bytes.count >= 8 && packet.bytes[0] == requestType
      ? Int(UInt16(packet.bytes[6]) << 8 | UInt16(packet.bytes[7])) : nil
    let text: String
    switch error.origin {
    case LinuxICMP.originICMP, LinuxICMP.originICMP6:
      let description =
        ICMPErrorReport.describe(
          isICMPv6: error.origin == LinuxICMP.originICMP6, type: error.type, code: error.code,
          mtu: error.info == 0 ? nil : error.info)
        ?? "ICMP type \(error.type) code \(error.code)"
      text = "\(description) from \(error.offender.map { "\($0.address)" } ?? "an unknown sender")"
    case LinuxICMP.originLocal:
      text =
        "cannot send to \(plan.target.address): \(SystemCallError("sendto", errno: Int32(bitPattern: error.errno)).text)"
    default:
      text =
        "error from \(plan.target.address): \(SystemCallError("recvmsg", errno: Int32(bitPattern: error.errno)).text)"
    }
    if let sequence {
      finishWithError(sequence: sequence, text)
    } else {
      note(text)
    }
  }

  private func finishWithError(sequence: Int, _ text: String) {
    guard sequence < probes.count, probes[sequence] != nil else { return }
    note(text)
    if probes[sequence]?.replied == false { probes[sequence]?.finished = true }
  }

  /// Records an error message once.
  private func note(_ text: String) {
    if !errors.contains(text) { errors.append(text) }
  }

  /// `clock` in nanoseconds.
  private static func now(_ clock: clockid_t) -> Int64 {
    var time = timespec()
    clock_gettime(clock, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
  }
}
