import CPcap
import Foundation
import VigieCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The half-open `tcp:PORT` check (nmap's SYN scan, the articles'
/// `tcp_scan`): one crafted SYN on a raw socket, the answer caught by
/// libpcap on the `any` device through a BPF filter. SYN-ACK → open (our
/// kernel, which has no connection for it, answers with a reset, so the
/// server never sees a completed handshake); RST → closed; nothing →
/// filtered.
///
/// Needs CAP_NET_RAW (the raw socket and the capture; nothing else). Without
/// it, the probe falls back to a plain `connect()` and says so.
public enum TCPSYNProbe {
  public enum Mode: String, Sendable, Hashable {
    /// Crafted SYN and capture.
    case raw
    /// `connect()`: raw sockets or capture not permitted.
    case connect
  }

  public struct Result: Sendable, Hashable {
    public var verdict: TCPConnectVerdict
    public var mode: Mode
    /// Why the connect mode was used.
    public var fallbackReason: String?
  }

  public static func probe(host: String, port: Int, timeout: Duration) async throws -> Result {
    guard (1...65535).contains(port) else {
      throw PingError(.invalidArgument, host: host, "port \(port) is not within 1...65535")
    }
    let address = try await HostResolver.resolve(host)
    guard let cancel = CancelSignal() else {
      throw PingError(.socketFailed, host: host, "cannot create a wake-up socket pair: out of descriptors")
    }
    return try await DedicatedThread.run(name: "vigie-syn-probe", cancellation: .signal(cancel)) {
      do {
        return Result(
          verdict: try synProbe(address: address, port: port, host: host, timeout: timeout, cancel: cancel),
          mode: .raw, fallbackReason: nil)
      } catch let refusal as RawNotPermitted {
        let verdict = try TCPConnectProbe.connect(
          to: address, port: port, host: host, timeout: timeout, cancel: cancel)
        return Result(verdict: verdict, mode: .connect, fallbackReason: refusal.reason)
      }
    }
  }

  /// Raw sockets or capture refused: use `connect()`.
  struct RawNotPermitted: Error {
    var reason: String
  }

  static func synProbe(address: SocketAddress, port: Int, host: String, timeout: Duration, cancel: CancelSignal)
    throws -> TCPConnectVerdict
  {
    // Our address towards the target, from a connected UDP socket.
    let local: SocketAddress
    switch localAddress(towards: address, port: port) {
    case .success(let found): local = found
    case .failure(let error): return .unreachable(String(cString: strerror(error.code)))
    }
    // A source port of our own: a bound TCP socket that neither listens nor
    // connects, so that no other connection uses it and the kernel resets
    // the SYN-ACK.
    let reservation = socket(local.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard reservation >= 0 else {
      throw PingError(.socketFailed, host: host, "cannot create a TCP socket: \(String(cString: strerror(errno)))")
    }
    defer { close(reservation) }
    var bindAddress = local.storage
    bindAddress[2] = 0
    bindAddress[3] = 0
    let bound = bindAddress.withUnsafeBytes {
      bind(reservation, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
    }
    guard bound == 0, let reserved = boundPort(reservation) else {
      throw PingError(.socketFailed, host: host, "cannot reserve a source port: \(String(cString: strerror(errno)))")
    }

    let raw = socket(address.family, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_TCP))
    guard raw >= 0 else {
      let code = errno
      if code == EPERM || code == EACCES {
        throw RawNotPermitted(reason: "no CAP_NET_RAW for a raw socket (\(String(cString: strerror(code))))")
      }
      throw PingError(.socketFailed, host: host, "cannot open a raw TCP socket: \(String(cString: strerror(code)))")
    }
    defer { close(raw) }

    let capture = try Capture(
      filter: "tcp and src host \(address.address) and dst host \(local.address) and src port \(port)"
        + " and dst port \(reserved)", host: host)
    defer { capture.close() }

    let sequence = UInt32.random(in: 0...UInt32.max)
    let segment = TCPHeader.syn(sourcePort: reserved, destinationPort: UInt16(port), sequence: sequence)
      .segment(source: local.address, destination: address.address)
    // A raw IPv6 socket takes port 0 (or its protocol); IPv4 ignores it.
    var destination = address.storage
    destination[2] = 0
    destination[3] = 0
    let started = ContinuousClock.now
    let sent = segment.withUnsafeBytes { bytes in
      destination.withUnsafeBytes {
        sendto(
          raw, bytes.baseAddress, bytes.count, 0, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self),
          socklen_t($0.count))
      }
    }
    if sent < 0 {
      let code = errno
      if ServiceProbe.isUnreachable(code) { return .unreachable(String(cString: strerror(code))) }
      if code == EPERM || code == EACCES {
        // A local firewall refused the packet.
        return .unreachable("the SYN was refused locally: \(String(cString: strerror(code)))")
      }
      throw PingError(.socketFailed, host: host, "cannot send the SYN: \(String(cString: strerror(code)))")
    }
    let deadline = started.advanced(by: timeout)
    while true {
      guard try ServiceProbe.waitReadable(capture.descriptor, cancel: cancel, until: deadline, host: host) else {
        return .filtered
      }
      for frame in capture.readAvailable() {
        guard let (source, target, bytes) = try? CapturedFrame.tcpSegment(frame, linkType: capture.linkType),
          source == address.address, target == local.address,
          let header = try? TCPHeader(parsing: bytes), header.sourcePort == UInt16(port),
          header.destinationPort == reserved, header.acknowledgement == sequence &+ 1
        else { continue }
        if header.flags.contains(.rst) { return .closed }
        if header.flags.contains([.syn, .ack]) { return .open(rtt: started.duration(to: .now)) }
      }
    }
  }

  /// The local address the kernel would use to reach `address`.
  static func localAddress(towards address: SocketAddress, port: Int) -> Swift.Result<SocketAddress, Errno> {
    let fd = socket(address.family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return .failure(Errno(errno)) }
    defer { close(fd) }
    if let code = ServiceProbe.connectSocket(fd, address: address, port: port) { return .failure(Errno(code)) }
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let result = withUnsafeMutablePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard result == 0 else { return .failure(Errno(errno)) }
    let found = withUnsafeBytes(of: &storage) { SocketAddress(UnsafeRawBufferPointer(rebasing: $0[0..<Int(length)])) }
    return found.map { .success($0) } ?? .failure(Errno(EAFNOSUPPORT))
  }

  struct Errno: Error {
    var code: Int32
    init(_ code: Int32) { self.code = code }
  }

  static func boundPort(_ fd: Int32) -> UInt16? {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let result = withUnsafeMutablePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard result == 0 else { return nil }
    return withUnsafeBytes(of: &storage) { UInt16($0[2]) << 8 | UInt16($0[3]) }
  }

  /// A libpcap capture on the `any` device, non-blocking, in immediate mode.
  final class Capture {
    let handle: OpaquePointer
    let descriptor: Int32
    let linkType: Int32

    init(filter: String, host: String) throws {
      var errors = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
      guard let handle = pcap_create("any", &errors) else {
        throw RawNotPermitted(reason: "libpcap cannot open the any device: \(Self.text(errors))")
      }
      _ = pcap_set_snaplen(handle, 256)
      _ = pcap_set_immediate_mode(handle, 1)
      _ = pcap_set_buffer_size(handle, 256 * 1024)
      let status = pcap_activate(handle)
      if status < 0 {
        let message = String(cString: pcap_geterr(handle))
        pcap_close(handle)
        if status == PCAP_ERROR_PERM_DENIED {
          throw RawNotPermitted(reason: "no CAP_NET_RAW for packet capture (\(message))")
        }
        throw PingError(.socketFailed, host: host, "libpcap cannot capture: \(message)")
      }
      var program = bpf_program()
      guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
        let message = String(cString: pcap_geterr(handle))
        pcap_close(handle)
        throw PingError(.socketFailed, host: host, "BPF filter '\(filter)': \(message)")
      }
      defer { pcap_freecode(&program) }
      guard pcap_setfilter(handle, &program) == 0, pcap_setnonblock(handle, 1, &errors) == 0 else {
        let message = String(cString: pcap_geterr(handle))
        pcap_close(handle)
        throw PingError(.socketFailed, host: host, "libpcap filter: \(message)")
      }
      let descriptor = pcap_get_selectable_fd(handle)
      guard descriptor >= 0 else {
        pcap_close(handle)
        throw PingError(.socketFailed, host: host, "libpcap gives no descriptor to poll")
      }
      self.handle = handle
      self.descriptor = descriptor
      linkType = pcap_datalink(handle)
    }

    static func text(_ buffer: [CChar]) -> String {
      String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The frames waiting (none if nothing is there: non-blocking).
    func readAvailable() -> [[UInt8]] {
      var frames: [[UInt8]] = []
      var header: UnsafeMutablePointer<pcap_pkthdr>?
      var data: UnsafePointer<UInt8>?
      while frames.count < 64, pcap_next_ex(handle, &header, &data) == 1, let header, let data {
        frames.append(Array(UnsafeBufferPointer(start: data, count: Int(header.pointee.caplen))))
      }
      return frames
    }

    func close() { pcap_close(handle) }
  }
}
