import ScrubberCore
import Synchronization

/// A backend with configurable latency and failure rate, for tests and benchmarks.
///
/// It holds no data. When it remembers deletes (the default), every URL exists until deleted once
/// and a second delete is ``LocationOutcome/notFound``; that costs ~200 bytes a delete (200 MB
/// over a 1,000,000-image benchmark), so benchmarks turn it off (`simulated_remember_deletes =
/// false`) and every delete that does not fail is ``LocationOutcome/deleted``.
/// URLs listed in `failing` always fail, so tests can aim failures precisely.
public final class SimulatedStore: ImageStore {
    public let latency: Duration
    public let failureRate: Double
    private let remembersDeletes: Bool
    private let state: Mutex<(deleted: Set<String>, count: Int)> = Mutex(([], 0))
    private let failing: Set<String>

    public init(latency: Double = 0, failureRate: Double = 0, failing: Set<String> = [], remembersDeletes: Bool = true) {
        self.latency = .nanoseconds(Int64(latency * 1e9))
        self.failureRate = failureRate
        self.failing = failing
        self.remembersDeletes = remembersDeletes
    }

    public func delete(_ url: LocationURL, permit: @escaping @Sendable () -> Bool) async throws -> LocationOutcome {
        if latency > .zero { try await Task.sleep(for: latency) }
        guard permit() else { throw StoreError.permitWithdrawn }
        let key = url.description
        if failing.contains(key) || (failureRate > 0 && Double.random(in: 0..<1) < failureRate) {
            throw StoreError(.transient, "simulated backend failure deleting \(key)")
        }
        let remembers = remembersDeletes
        return state.withLock { state in
            guard !remembers || state.deleted.insert(key).inserted else { return .notFound }
            state.count += 1
            return .deleted
        }
    }

    public func exists(_ url: LocationURL) async throws -> Bool {
        let key = url.description
        return !state.withLock { $0.deleted.contains(key) }
    }

    /// How many deletes succeeded (distinct URLs, when it remembers deletes).
    public var deletedCount: Int { state.withLock { $0.count } }
}
