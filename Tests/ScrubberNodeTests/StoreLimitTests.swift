import Foundation
import Logging
import ScrubberCore
import ScrubberStores
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@testable import ScrubberNode

/// A simulated backend that records when each delete started and how many were in flight.
final class MeteredStore: ImageStore {
    private let latency: Duration
    private let state = Mutex((inFlight: 0, maxInFlight: 0, starts: [ContinuousClock.Instant]()))

    init(latency: Double) {
        self.latency = .seconds(latency)
    }

    func delete(_ url: LocationURL, permit: @escaping @Sendable () -> Bool) async throws -> LocationOutcome {
        state.withLock { state in
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
            state.starts.append(.now)
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        try await Task.sleep(for: latency)
        guard permit() else { throw StoreError.permitWithdrawn }
        return .deleted
    }

    func exists(_ url: LocationURL) async throws -> Bool { true }

    var maxInFlight: Int { state.withLock { $0.maxInFlight } }
    var starts: [ContinuousClock.Instant] { state.withLock { $0.starts } }
}

/// `max_concurrent_deletes` and `max_deletes_per_second`, measured on simulated stores.
@Suite struct StoreLimitTests {
    private func multiStore(_ box: Sandbox, pool: Int, backends: [BackendConfiguration]) -> ScrubberConfiguration {
        var config = box.configuration(pool: pool)
        config.stores.multiStore = true
        config.stores.defaultBackend = backends[0].name
        config.stores.backends = backends
        return config
    }

    @Test func limitedStoresHoldTheirLimitsAndNothingIsDroppedOrFailed() async throws {
        let box = try await Sandbox()
        let narrowImages = try await box.seed(60) {
            $0.storeID = "narrow"
            $0.fileBytes = 0
        }
        let pacedImages = try await box.seed(30) {
            $0.storeID = "paced"
            $0.fileBytes = 0
        }
        let fastImages = try await box.seed(240) {
            $0.storeID = "fast"
            $0.fileBytes = 0
        }
        var narrow = BackendConfiguration(name: "narrow", type: "simulated")
        narrow.maxConcurrentDeletes = 2
        var paced = BackendConfiguration(name: "paced", type: "simulated")
        paced.maxDeletesPerSecond = 10
        let config = multiStore(box, pool: 8, backends: [BackendConfiguration(name: "fast", type: "simulated"), narrow, paced])
        let stores = (narrow: MeteredStore(latency: 0.03), paced: MeteredStore(latency: 0.005), fast: MeteredStore(latency: 0.005))

        let summary = try await box.runOnce(config, replacing: ["narrow": stores.narrow, "paced": stores.paced, "fast": stores.fast])

        // Nothing dropped, nothing failed: waiting is not a failure.
        #expect(summary.imagesDeleted == narrowImages.count + pacedImages.count + fastImages.count)
        #expect(summary.failedImages.isEmpty)
        #expect(try box.count("SELECT count(*) FROM images WHERE status = 'pending_delete'") == 0)
        #expect(stores.narrow.starts.count == narrowImages.count)
        #expect(stores.paced.starts.count == pacedImages.count)

        // max_concurrent_deletes = 2: never more in flight (and the pool of 8 would allow more).
        #expect(stores.narrow.maxInFlight <= 2)
        #expect(stores.narrow.maxInFlight >= 1)
        #expect(stores.fast.maxInFlight > 2, "the unlimited store is limited by the pool only")

        // The spacing of the paced store's starts is checked on a manual clock below.
    }

    /// `max_deletes_per_second` on the node's clock, stepped by the test: 30 images for a store
    /// paced at 10/s start exactly 100 ms apart, each as soon as it may (none early, none
    /// wasted), whatever order the tasks run in; a store beside it with only
    /// `max_concurrent_deletes` is not slowed.
    @Test func pacedStartsAreEvenlySpacedOnTheNodesClock() async throws {
        let time = ManualClock()
        let clock = NodeClock(time)
        var paced = BackendConfiguration(name: "paced", type: "simulated")
        paced.maxDeletesPerSecond = 10
        var narrow = BackendConfiguration(name: "narrow", type: "simulated")
        narrow.maxConcurrentDeletes = 2
        var stores = StoresConfiguration()
        stores.backends = [paced, narrow]
        let limits = StoreLimits(stores, clock: clock)
        let starts = SharedMutex<[String: [Duration]]>([:])
        let images = (0..<30).map { _ in "paced" } + (0..<10).map { _ in "narrow" }
        let done = SharedMutex(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in images {
                group.addTask {
                    // As a worker does: enter the gates, then start when the spacing allows.
                    let needs = limits.needs([store])
                    try await StoreLimits.enter(needs)
                    while let retry = limits.tryStart(needs) { try await clock.sleep(until: retry) }
                    starts.withLock { $0[store, default: []].append(clock.now.offset) }
                    StoreLimits.leave(needs)
                    done.withLock { $0 += 1 }
                }
            }
            // Move the clock only when every unfinished task sleeps on it (no I/O here: a task
            // that is not asleep is about to be, or done).
            while done.withLock({ $0 }) < images.count {
                if time.sleepers + done.withLock({ $0 }) == images.count {
                    time.advanceToNextDeadline(limit: .seconds(1))
                } else {
                    await Task.yield()
                }
            }
            try await group.waitForAll()
        }
        let paced30 = starts.withLock { $0["paced"] ?? [] }.sorted()
        #expect(paced30 == (0..<30).map { Duration.milliseconds(100 * $0) }, "one start every 100 ms from the first: \(paced30)")
        #expect(starts.withLock { $0["narrow"] ?? [] } == Array(repeating: .zero, count: 10), "a concurrency limit alone does not pace")
    }

    /// A daemon with a store paced at one delete every 4 s: the unlimited store's images, behind
    /// the paced store's in the catalog, are all deleted while most of the paced ones still wait
    /// (waiting workers holding the pool would let the fast ones through only after the paced
    /// ones, 2 minutes); a shutdown then hands the waiting images back without waiting, unfailed.
    @Test func anUnlimitedStoreGoesAheadOfAWaitingOneAndAShutdownHandsTheWaitingImagesBack() async throws {
        let box = try await Sandbox()
        let pacedImages = try await box.seed(30) {
            $0.storeID = "paced"
            $0.fileBytes = 0
        }
        let fastImages = try await box.seed(200) {
            $0.storeID = "fast"
            $0.fileBytes = 0
        }
        var paced = BackendConfiguration(name: "paced", type: "simulated")
        paced.maxDeletesPerSecond = 0.25
        paced.maxConcurrentDeletes = 1  // so most images wait for a slot, one for its start time
        var config = multiStore(box, pool: 4, backends: [paced, BackendConfiguration(name: "fast", type: "simulated")])
        config.cluster.nodeID = "limited"
        let stores = (paced: MeteredStore(latency: 0.001), fast: MeteredStore(latency: 0.002))
        let router = try StoreRouter(
            configuration: config.stores,
            encryptionKey: nil,
            replacing: ["paced": stores.paced, "fast": stores.fast]
        )
        let node = ScrubNode(
            catalog: box.catalog,
            router: router,
            options: NodeOptions(configuration: config, once: false, version: "t"),
            logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
        )
        let group = ServiceGroup(
            configuration: .init(services: node.services, logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        )
        let running = Task { try await group.run() }
        defer { running.cancel() }
        let fastIDs = fastImages.map(\.id).map { "'\($0)'" }.joined(separator: ",")
        try await eventually("the fast store's images deleted") {
            try box.count("SELECT count(*) FROM images WHERE status = 'deleted' AND id IN (\(fastIDs))") == fastImages.count
        }
        let pacedStarted = stores.paced.starts.count
        print("store limits: 200 fast images done while the paced store had started \(pacedStarted) of \(pacedImages.count)")
        #expect(stores.fast.starts.count == fastImages.count)
        #expect(pacedStarted < pacedImages.count / 2, "the fast store waited behind the paced one")

        await group.triggerGracefulShutdown()
        try await running.value

        // The paced images left would take 4 s each: the waits were abandoned, not sat out (at
        // most the one start already under way when the shutdown came).
        let deleted = try box.count("SELECT count(*) FROM images WHERE status = 'deleted'")
        let pending = try box.count("SELECT count(*) FROM images WHERE status = 'pending_delete'")
        #expect(
            stores.paced.starts.count <= pacedStarted + 1,
            "paced starts after the shutdown: \(stores.paced.starts.count - pacedStarted)"
        )
        #expect(deleted == stores.paced.starts.count + fastImages.count)
        #expect(deleted + pending == pacedImages.count + fastImages.count, "nothing lost")
        #expect(pending > 0)
        // Handed back: no claim left behind, no failure recorded for the images that waited.
        #expect(try box.count("SELECT count(*) FROM scrub_assignments WHERE state = 'scrubbing' OR attempts > 0") == 0)
    }
}
