import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import VigieCore

/// What the status pages need from the daemon.
public struct StatusProvider: Sendable {
  /// The page's data, fresh for each request.
  public var model: @Sendable () async -> StatusPageModel
  /// `/metrics` in the Prometheus text format.
  public var metrics: @Sendable () async -> String
  /// Runs an admin action (a command line) through the command registry.
  public var run: @Sendable (_ command: String) async -> (ok: Bool, text: String)

  public init(
    model: @escaping @Sendable () async -> StatusPageModel, metrics: @escaping @Sendable () async -> String,
    run: @escaping @Sendable (String) async -> (ok: Bool, text: String)
  ) {
    self.model = model
    self.metrics = metrics
    self.run = run
  }
}

/// Who may do what on the status pages: anybody on the LAN reads (there
/// are no secrets on them: no ICCID, IMSI or phone numbers); admin actions
/// need the admin password (HTTP Basic, user `admin`) and a CSRF token.
public struct StatusAccess: Sendable {
  /// nil: admin actions are off (no `[status] admin_password_file`).
  let adminPassword: [UInt8]?
  /// The CSRF token of this run of the daemon (random, shown to admins only).
  let csrfToken: String

  public init(adminPassword: String?) {
    self.adminPassword = adminPassword.map { Array($0.utf8) }
    var random = SystemRandomNumberGenerator()
    csrfToken = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined()
  }

  /// Whether `authorization` (an `Authorization` header) is the admin's.
  func isAdmin(_ authorization: String?) -> Bool {
    guard let adminPassword, let authorization, authorization.hasPrefix("Basic "),
      let decoded = Data(base64Encoded: String(authorization.dropFirst(6))),
      let colon = decoded.firstIndex(of: UInt8(ascii: ":"))
    else { return false }
    let user = decoded[..<colon]
    let password = decoded[decoded.index(after: colon)...]
    // Both comparisons run whatever the first one says.
    let userMatches = Self.constantTimeEqual(Array(user), Array("admin".utf8))
    let passwordMatches = Self.constantTimeEqual(Array(password), adminPassword)
    return userMatches && passwordMatches
  }

  /// Compares without an early exit (the time does not say how much matched).
  static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var difference = UInt8(a.count == b.count ? 0 : 1)
    for index in 0..<max(a.count, b.count) {
      difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0xFF)
    }
    return difference == 0
  }
}

/// Adds the status page (`prefix`), `prefix/api/status`, `prefix/metrics`
/// and the admin action endpoint to `router`: the file drop's server uses
/// the same routes under `/status`.
public func addStatusRoutes<Context: RequestContext>(
  to router: Router<Context>, prefix: String, provider: StatusProvider, access: StatusAccess, metrics: Bool
) {
  let base = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
  let page = base.isEmpty ? "/" : base + "/"
  let actionPath = page + "action"

  // The router matches `/~status` and `/~status/` alike; the page's links are
  // relative, so the form without the slash is sent to the one with it.
  router.get(RouterPath(page)) { request, _ -> Response in
    if !request.uri.path.hasSuffix("/") {
      return Response(status: .movedPermanently, headers: [.location: page])
    }
    let admin =
      access.isAdmin(request.headers[.authorization])
      ? StatusPageHTML.Admin(csrfToken: access.csrfToken, actionPath: "action") : nil
    return html(StatusPageHTML.render(await provider.model(), admin: admin))
  }
  router.get(RouterPath(page + "api/status")) { _, _ -> Response in
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let body = (try? encoder.encode(await provider.model())) ?? Data("{}".utf8)
    return Response(
      status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
      body: .init(byteBuffer: ByteBuffer(bytes: body)))
  }
  if metrics {
    router.get(RouterPath(page + "metrics")) { _, _ -> Response in
      Response(
        status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(string: await provider.metrics())))
    }
  }
  router.post(RouterPath(actionPath)) { request, context -> Response in
    guard access.adminPassword != nil else {
      return text(.forbidden, "admin actions are off: set [status] admin_password_file")
    }
    guard access.isAdmin(request.headers[.authorization]) else {
      return Response(
        status: .unauthorized, headers: [.wwwAuthenticate: "Basic realm=\"vigie\", charset=\"UTF-8\""],
        body: .init(byteBuffer: ByteBuffer(string: "the admin password is needed\n")))
    }
    if let problem = CrossSiteCheck.problem(
      origin: request.headers[.origin], fetchSite: request.headers[HTTPField.Name("Sec-Fetch-Site")!],
      host: request.head.authority)
    {
      return text(.forbidden, problem)
    }
    guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
      return text(.unsupportedMediaType, "send the form as application/x-www-form-urlencoded")
    }
    let body: ByteBuffer
    do {
      body = try await request.body.collect(upTo: 4096)
    } catch {
      return text(.contentTooLarge, "the form is larger than 4096 bytes")
    }
    let form: [String: String]
    switch FormURLEncoded.parse(String(buffer: body)) {
    case .failure(let error): return text(.badRequest, error.description)
    case .success(let fields): form = fields
    }
    guard let token = form["csrf"], StatusAccess.constantTimeEqual(Array(token.utf8), Array(access.csrfToken.utf8))
    else {
      return text(.forbidden, "the form's CSRF token is missing or stale: reload the page")
    }
    guard let command = form["command"], let action = AdminAction.parse(command) else {
      return text(.badRequest, "not an action of this page")
    }
    context.logger.notice("status page action", metadata: ["command": "\(action.commandLine)"])
    let result = await provider.run(action.commandLine)
    let admin = StatusPageHTML.Admin(csrfToken: access.csrfToken, actionPath: "action")
    let notice = "\(action.commandLine): \(result.text)"
    var response = html(StatusPageHTML.render(await provider.model(), admin: admin, notice: notice))
    if !result.ok { response.status = .unprocessableContent }
    return response
  }
}

func html(_ text: String) -> Response {
  Response(
    status: .ok,
    headers: [
      .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
      HTTPField.Name("Content-Security-Policy")!:
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
      HTTPField.Name("X-Content-Type-Options")!: "nosniff",
    ],
    body: .init(byteBuffer: ByteBuffer(string: text)))
}

func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
  Response(
    status: status, headers: [.contentType: "text/plain; charset=utf-8"],
    body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
}
