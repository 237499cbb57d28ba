import Foundation
import Logging
import ScrubberCore
import ScrubberNode
import ScrubberStores
import ServiceLifecycle
import Synchronization
import Testing

/// A simulated backend that records when each delete started and how many were in flight.
final class MeteredStore: ImageStore {
    private let latency: Duration
    private let state = Mutex((inFlight: 0, maxInFlight: 0, starts: [ContinuousClock.Instant]()))

    init(latency: Double) {
        self.latency = .seconds(latency)
    }

    func delete(_ url: LocationURL, permit: @Sendable () -> Bool) async throws -> LocationOutcome {
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

    /// The most deletes that started within any `window`.
    func mostStarts(within window: Duration) -> Int {
        let starts = starts.sorted()
        var most = 0, first = 0
        for (index, start) in starts.enumerated() {
            while start - starts[first] >= window { first += 1 }
            most = max(most, index - first + 1)
        }
        return most
    }
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

    @Test func limitedStoresHoldTheirLimitsWhileAnUnlimitedStoreGoesAhead() async throws {
        let box = try await Sandbox()
        // The limited stores' images come first in the catalog, so they are claimed first: the
        // case where waiting workers would starve the unlimited store.
        let narrowImages = try await box.seed(60) { $0.storeID = "narrow"; $0.fileBytes = 0 }
        let pacedImages = try await box.seed(50) { $0.storeID = "paced"; $0.fileBytes = 0 }
        let fastImages = try await box.seed(240) { $0.storeID = "fast"; $0.fileBytes = 0 }
        var narrow = BackendConfiguration(name: "narrow", type: "simulated")
        narrow.maxConcurrentDeletes = 2
        var paced = BackendConfiguration(name: "paced", type: "simulated")
        paced.maxDeletesPerSecond = 20
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

        // max_deletes_per_second = 20, evenly spaced: at most 21 starts in any second (the 1 s
        // window can hold both ends of 20 intervals), and 50 starts span at least 49 intervals.
        let pacedStarts = stores.paced.starts.sorted()
        let span = try #require(pacedStarts.last) - pacedStarts[0]
        let perSecond = stores.paced.mostStarts(within: .seconds(1))
        print("store limits: narrow max in flight \(stores.narrow.maxInFlight), paced most starts in 1 s \(perSecond), "
              + "paced span \(span) for \(pacedStarts.count) starts, fast max in flight \(stores.fast.maxInFlight)")
        #expect(perSecond <= 21)
        #expect(span >= .milliseconds(49 * 50 - 20))
        #expect(span < .seconds(15), "the paced store still makes progress")

        // The unlimited store was not held up behind the paced one: its last delete started
        // well before the paced store's last (a loose bound: only order, not speed).
        let fastLast = try #require(stores.fast.starts.max())
        #expect(fastLast < pacedStarts[pacedStarts.count - 1] - .milliseconds(500))
    }

    @Test func aShutdownStopsWaitingForALimitedStoreAndHandsTheImagesBack() async throws {
        let box = try await Sandbox()
        let images = try await box.seed(40) { $0.storeID = "paced"; $0.fileBytes = 0 }
        var paced = BackendConfiguration(name: "paced", type: "simulated")
        paced.maxDeletesPerSecond = 2
        paced.maxConcurrentDeletes = 1  // so most images wait for a slot, one for its start time
        var config = multiStore(box, pool: 4, backends: [paced])
        config.cluster.nodeID = "limited"
        let store = MeteredStore(latency: 0.001)
        let router = try StoreRouter(configuration: config.stores, encryptionKey: nil, replacing: ["paced": store])
        let node = ScrubNode(catalog: box.catalog, router: router, options: NodeOptions(configuration: config, once: false, version: "t"),
                             logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        let group = ServiceGroup(configuration: .init(services: [node], logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { try await group.run() }
        defer { running.cancel() }
        // Wait until the node claimed everything and a couple of deletes went through.
        let deadline = ContinuousClock.now + .seconds(20)
        while try box.count("SELECT count(*) FROM scrub_assignments WHERE state = 'scrubbing'") < images.count - 2 || store.starts.count < 2,
              ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }

        let asked = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running.value
        let took = ContinuousClock.now - asked

        // 40 images at 2/s would take 20 s: the waits were abandoned, not sat out.
        #expect(took < .seconds(3), "shutdown took \(took)")
        let deleted = try box.count("SELECT count(*) FROM images WHERE status = 'deleted'")
        let pending = try box.count("SELECT count(*) FROM images WHERE status = 'pending_delete'")
        #expect(deleted == store.starts.count)
        #expect(deleted + pending == images.count, "nothing lost")
        #expect(pending > 0)
        // Handed back: no claim left behind, no failure recorded for the images that waited.
        #expect(try box.count("SELECT count(*) FROM scrub_assignments WHERE state = 'scrubbing' OR attempts > 0") == 0)
    }
}
