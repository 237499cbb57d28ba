import ScrubberCore
import Synchronization

/// A backend with configurable latency and failure rate, for tests and benchmarks.
///
/// It holds no data: every URL exists until deleted once; a second delete is ``LocationOutcome/notFound``.
/// URLs listed in `failing` always fail, so tests can aim failures precisely.
public final class SimulatedStore: ImageStore {
    public let latency: Duration
    public let failureRate: Double
    private let state: Mutex<Set<String>> = Mutex([])
    private let failing: Set<String>

    public init(latency: Double = 0, failureRate: Double = 0, failing: Set<String> = []) {
        self.latency = .nanoseconds(Int64(latency * 1e9))
        self.failureRate = failureRate
        self.failing = failing
    }

    public func delete(_ url: LocationURL, permit: @Sendable () -> Bool) async throws -> LocationOutcome {
        if latency > .zero { try await Task.sleep(for: latency) }
        guard permit() else { throw StoreError.permitWithdrawn }
        let key = url.description
        if failing.contains(key) || (failureRate > 0 && Double.random(in: 0..<1) < failureRate) {
            throw StoreError("simulated backend failure deleting \(key)")
        }
        return state.withLock { $0.insert(key).inserted } ? .deleted : .notFound
    }

    public func exists(_ url: LocationURL) async throws -> Bool {
        let key = url.description
        return !state.withLock { $0.contains(key) }
    }

    /// How many distinct URLs were deleted.
    public var deletedCount: Int { state.withLock { $0.count } }
}
