import NIOPosix

/// Threads of a store's own for its blocking calls (system calls, librbd), shut down when the
/// store goes.
final class BlockingThreads: Sendable {
    private let pool: NIOThreadPool

    init(count: Int) {
        pool = NIOThreadPool(numberOfThreads: max(1, count))
        pool.start()
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    deinit {
        pool.shutdownGracefully { _ in }
    }
}
