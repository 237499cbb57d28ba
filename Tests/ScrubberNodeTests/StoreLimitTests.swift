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

    /// The most deletes that started within any `window` (both ends included).
    func mostStarts(within window: Duration) -> Int {
        let starts = starts.sorted()
        var most = 0, first = 0
        for (index, start) in starts.enumerated() {
            while start - starts[first] > window { first += 1 }
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

    @Test func limitedStoresHoldTheirLimitsAndNothingIsDroppedOrFailed() async throws {
        let box = try await Sandbox()
        let narrowImages = try await box.seed(60) { $0.storeID = "narrow"; $0.fileBytes = 0 }
        let pacedImages = try await box.seed(30) { $0.storeID = "paced"; $0.fileBytes = 0 }
        let fastImages = try await box.seed(240) { $0.storeID = "fast"; $0.fileBytes = 0 }
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

        // max_deletes_per_second = 10, evenly spaced 100 ms apart: at most 11 starts within any
        // second (both ends of 10 intervals), one more for a start whose task woke late next
        // to one on time (a loaded machine); 30 starts span 29 intervals (less a late first one).
        let pacedStarts = stores.paced.starts.sorted()
        let span = try #require(pacedStarts.last) - pacedStarts[0]
        let perSecond = stores.paced.mostStarts(within: .seconds(1))
        let perTwoSeconds = stores.paced.mostStarts(within: .seconds(2))
        print("store limits: narrow max in flight \(stores.narrow.maxInFlight), paced most starts in 1 s \(perSecond), in 2 s \(perTwoSeconds), "
              + "paced span \(span) for \(pacedStarts.count) starts, fast max in flight \(stores.fast.maxInFlight)")
        #expect(perSecond <= 12)
        #expect(perTwoSeconds <= 22)
        #expect(span >= .milliseconds(29 * 100) * 0.9)
        #expect(span < .seconds(15), "the paced store still makes progress")

    }

    /// A daemon with a store paced at one delete every 4 s: the unlimited store's images, behind
    /// the paced store's in the catalog, are all deleted while most of the paced ones still wait
    /// (waiting workers holding the pool would let the fast ones through only after the paced
    /// ones, 2 minutes; a loaded machine takes up to ~15 s here); a shutdown then hands the
    /// waiting images back at once, unfailed.
    @Test func anUnlimitedStoreGoesAheadOfAWaitingOneAndAShutdownHandsTheWaitingImagesBack() async throws {
        let box = try await Sandbox()
        let pacedImages = try await box.seed(30) { $0.storeID = "paced"; $0.fileBytes = 0 }
        let fastImages = try await box.seed(200) { $0.storeID = "fast"; $0.fileBytes = 0 }
        var paced = BackendConfiguration(name: "paced", type: "simulated")
        paced.maxDeletesPerSecond = 0.25
        paced.maxConcurrentDeletes = 1  // so most images wait for a slot, one for its start time
        var config = multiStore(box, pool: 4, backends: [paced, BackendConfiguration(name: "fast", type: "simulated")])
        config.cluster.nodeID = "limited"
        let stores = (paced: MeteredStore(latency: 0.001), fast: MeteredStore(latency: 0.002))
        let router = try StoreRouter(configuration: config.stores, encryptionKey: nil, replacing: ["paced": stores.paced, "fast": stores.fast])
        let node = ScrubNode(catalog: box.catalog, router: router, options: NodeOptions(configuration: config, once: false, version: "t"),
                             logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        let group = ServiceGroup(configuration: .init(services: [node], logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }))
        let started = ContinuousClock.now
        let running = Task { try await group.run() }
        defer { running.cancel() }
        let fastIDs = fastImages.map(\.id)
        let deadline = ContinuousClock.now + .seconds(120)
        while try box.count("SELECT count(*) FROM images WHERE status = 'deleted' AND id IN (\(fastIDs.map { "'\($0)'" }.joined(separator: ",")))") < fastIDs.count,
              ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let fastDone = ContinuousClock.now - started
        let pacedStarted = stores.paced.starts.count
        print("store limits: 200 fast images done in \(fastDone), while the paced store had started \(pacedStarted) of \(pacedImages.count)")
        #expect(stores.fast.starts.count == fastImages.count)
        #expect(pacedStarted < pacedImages.count / 2, "the fast store waited behind the paced one")
        #expect(Double(pacedStarted) <= 1 + fastDone / .seconds(4) + 1, "one start every 4 s at most")

        let asked = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running.value
        let took = ContinuousClock.now - asked

        // The paced images left would take 4 s each: the waits were abandoned, not sat out.
        let deleted = try box.count("SELECT count(*) FROM images WHERE status = 'deleted'")
        let pending = try box.count("SELECT count(*) FROM images WHERE status = 'pending_delete'")
        #expect(took < .seconds(15), "shutdown took \(took)")
        #expect(deleted == stores.paced.starts.count + fastImages.count)
        #expect(deleted + pending == pacedImages.count + fastImages.count, "nothing lost")
        #expect(pending > 0)
        // Handed back: no claim left behind, no failure recorded for the images that waited.
        #expect(try box.count("SELECT count(*) FROM scrub_assignments WHERE state = 'scrubbing' OR attempts > 0") == 0)
    }
}
