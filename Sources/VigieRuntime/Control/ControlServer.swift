import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import VigieCore

/// The control socket: a Unix domain socket (mode 0660) through which
/// `vigie status` and `vigie cmd` reach the running daemon's command registry.
/// Who may connect is decided by the file mode (root and the vigie group);
/// they get `[daemon] control_level`.
struct ControlServer: Service {
  let path: String
  let level: Privilege
  let registry: CommandRegistry
  let status: @Sendable () -> StatusReport
  /// The daemon's answers to the other operations.
  let operations: @Sendable (ControlProtocol.Request, Principal) async -> ControlProtocol.Response
  let logger: Logger

  func run() async throws {
    try Self.prepare(path: path)
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.backlog, value: 16)
      .childChannelOption(.allowRemoteHalfClosure, value: true)
      .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false) { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(LineFrameDecoder(maximumLength: ControlProtocol.maximumLineLength)))
          return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
      }
    defer { unlink(path) }
    guard chmod(path, 0o660) == 0 else {
      let code = errno
      try? await server.channel.close()
      throw SupervisorError(
        .startup, "cannot set mode 0660 on control socket \(path): \(String(cString: strerror(code)))")
    }
    logger.info("control socket listening", metadata: ["path": "\(path)"])
    try await withGracefulShutdownHandler {
      try await withThrowingDiscardingTaskGroup { group in
        try await server.executeThenClose { connections in
          for try await connection in connections {
            group.addTask { await handle(connection) }
          }
        }
      }
    } onGracefulShutdown: {
      server.channel.close(promise: nil)
    }
  }

  /// Creates the directory and removes a stale socket; refuses to steal the
  /// socket of a daemon that still answers.
  static func prepare(path: String) throws {
    let directory = (path as NSString).deletingLastPathComponent
    if !FileManager.default.fileExists(atPath: directory) {
      do {
        try FileManager.default.createDirectory(
          atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
      } catch {
        throw SupervisorError(.startup, "cannot create runtime directory \(directory)", underlyingError: error)
      }
    }
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    guard info.st_mode & S_IFMT == S_IFSOCK else {
      throw SupervisorError(.startup, "\(path) exists and is not a socket; remove it or set [daemon] control_socket")
    }
    if ControlClient.answers(path: path) {
      throw SupervisorError(.startup, "another vigie is already running (its control socket \(path) answers)")
    }
    unlink(path)
  }

  private func handle(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
    let principal = Principal(transport: .cli, identity: await Self.peerIdentity(connection.channel), level: level)
    do {
      try await connection.executeThenClose { inbound, outbound in
        for try await line in inbound {
          let response = await respond(to: line, principal: principal)
          var buffer = ByteBuffer(bytes: ControlProtocol.encode(response))
          buffer.writeString("\n")
          try await outbound.write(buffer)
        }
      }
    } catch {
      logger.debug("control connection ended", metadata: ["error": "\(error)"])
    }
  }

  private func respond(to line: ByteBuffer, principal: Principal) async -> ControlProtocol.Response {
    let request: ControlProtocol.Request
    do {
      request = try JSONDecoder().decode(ControlProtocol.Request.self, from: Data(line.readableBytesView))
    } catch {
      return ControlProtocol.Response(ok: false, text: "malformed control request: expected one JSON object per line")
    }
    switch request.op {
    case .status:
      let report = status()
      return ControlProtocol.Response(ok: true, text: report.table, status: ControlProtocol.Status(report))
    case .command:
      guard let text = request.text else {
        return ControlProtocol.Response(ok: false, text: "malformed control request: 'text' is missing")
      }
      let reply = await registry.execute(text, as: principal)
      return ControlProtocol.Response(ok: reply.ok, text: reply.text)
    default:
      guard principal.level >= .operate || request.op == .modem || request.op == .smsInbox else {
        return ControlProtocol.Response(
          ok: false, text: "permission denied: \(request.op.rawValue) needs the operate level")
      }
      return await operations(request, principal)
    }
  }

  /// `uid 1000 (alice)` from the peer's credentials (SO_PEERCRED).
  static func peerIdentity(_ channel: any Channel) async -> String {
    guard let provider = channel as? any SocketOptionProvider else { return "local user" }
    let future: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
      level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
    guard let credentials = try? await future.get() else { return "local user" }
    return "uid \(credentials.uid)" + (userName(credentials.uid).map { " (\($0))" } ?? "")
  }

  static func userName(_ uid: uid_t) -> String? {
    var entry = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 1024)
    guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
    return String(cString: entry.pw_name)
  }
}

/// `struct ucred` of <sys/socket.h>, which Glibc only exposes with
/// _GNU_SOURCE: three 32-bit fields, pid_t, uid_t, gid_t.
struct PeerCredentials {
  var pid: Int32 = 0
  var uid: UInt32 = 0
  var gid: UInt32 = 0
}

/// Splits a byte stream into lines (LF or CRLF) and refuses lines longer
/// than `maximumLength` instead of buffering without bound.
struct LineFrameDecoder: ByteToMessageDecoder {
  typealias InboundOut = ByteBuffer
  let maximumLength: Int

  struct LineTooLong: Error, CustomStringConvertible {
    let limit: Int
    var description: String { "line longer than \(limit) bytes" }
  }

  mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
    guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
      if buffer.readableBytes > maximumLength { throw LineTooLong(limit: maximumLength) }
      return .needMoreData
    }
    let length = newline - buffer.readerIndex
    guard length <= maximumLength else { throw LineTooLong(limit: maximumLength) }
    var line = buffer.readSlice(length: length)!
    buffer.moveReaderIndex(forwardBy: 1)
    if line.readableBytesView.last == UInt8(ascii: "\r") {
      line = line.getSlice(at: line.readerIndex, length: line.readableBytes - 1)!
    }
    context.fireChannelRead(wrapInboundOut(line))
    return .continue
  }

  mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
    -> DecodingState
  {
    while try decode(context: context, buffer: &buffer) == .continue {}
    return .needMoreData
  }
}
