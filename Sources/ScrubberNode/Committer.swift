import Logging
import ScrubberCore

/// Collects scrub outcomes and records them in batches: one transaction for many images, so
/// throughput is not bound by one commit per image.
actor Committer {
    private let catalog: any ScrubCatalog
    /// The node's identity as of each write (it is the same across the node's own rejoins).
    private let identity: @Sendable () -> NodeIdentity
    private let backoff: Backoff
    private let batchSize: Int
    /// Outcomes not yet recorded, each with when its image was claimed.
    private var buffer: [(outcome: ScrubOutcome, claimedAt: NodeClock.Instant)] = []
    private(set) var totals = RunSummary()
    private var flushing = false
    private var failures = 0
    private let retryForever: Bool
    private let metrics: NodeMetrics
    private let logger: Logger
    private let clock: NodeClock

    /// - Parameter retryForever: a daemon retries a failing write until it succeeds; a one-shot
    ///   run gives up (and exits 1) after a few tries.
    init(catalog: any ScrubCatalog, identity: @escaping @Sendable () -> NodeIdentity, backoff: Backoff, batchSize: Int, retryForever: Bool,
         metrics: NodeMetrics, clock: NodeClock, logger: Logger) {
        self.clock = clock
        self.retryForever = retryForever
        self.metrics = metrics
        self.logger = logger
        self.catalog = catalog
        self.identity = identity
        self.backoff = backoff
        self.batchSize = batchSize
    }

    /// Queues an outcome; waits only when the buffer is far ahead of the database (a plain
    /// poll in real time, a hand-off rather than a timer, so a cancelled run never leaves a
    /// worker parked here).
    func add(_ outcome: ScrubOutcome, claimedAt: NodeClock.Instant) async {
        buffer.append((outcome, claimedAt))
        while buffer.count >= batchSize * 4, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Writes everything buffered; one flush at a time. Retries until the write succeeds or the
    /// task is cancelled: a completion must never be dropped.
    func flush() async throws {
        guard !flushing, !buffer.isEmpty else { return }
        flushing = true
        defer { flushing = false }
        while !buffer.isEmpty {
            let pending = buffer.prefix(batchSize * 2)
            let batch = pending.map(\.outcome)
            let report: CompletionReport
            do {
                report = try await catalog.complete(batch, node: identity(), backoff: backoff)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                try CatalogError.rethrowIfFatal(error)
                failures += 1
                guard retryForever || failures < 5 else { throw error }
                logger.error("recording \(batch.count) outcomes failed, retrying: \(error)")
                try await clock.sleep(for: .seconds(1))
                continue
            }
            failures = 0
            let committed = clock.now
            for start in pending.map(\.claimedAt) { totals.latency.record(start.duration(to: committed).seconds) }
            buffer.removeFirst(batch.count)
            totals.record(report, batch: batch)
            metrics.completed(imagesDeleted: report.imagesDeleted.count, imagesFailed: report.imagesFailed.count)
        }
    }

    var pendingCount: Int { buffer.count }
}
