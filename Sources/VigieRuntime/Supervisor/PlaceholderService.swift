import ServiceLifecycle

/// A service with nothing to run: it reports its state once started, then
/// waits for shutdown (e.g. `status` while the file drop serves the page).
struct PlaceholderService: Service {
  let started: @Sendable () -> Void

  func run() async throws {
    started()
    try? await gracefulShutdown()
  }
}
