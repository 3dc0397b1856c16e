import Hummingbird
import Logging
import ServiceLifecycle
import VigieCore

/// The status page on its own `[status] listen` address.
public final class StatusServer: Service {
  private let application: Application<RouterResponder<BasicRequestContext>>

  public init(listen: ListenAddress, provider: StatusProvider, access: StatusAccess, metrics: Bool, logger: Logger) {
    let router = Router()
    addStatusRoutes(to: router, prefix: "/", provider: provider, access: access, metrics: metrics)
    application = Application(
      router: router,
      configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: nil),
      logger: logger)
  }

  public func run() async throws { try await application.run() }
}
