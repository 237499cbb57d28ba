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
    /// Woken when a flush makes room in the buffer, or by ``stopWaiting()``: what
    /// ``add(_:claimedAt:)`` waits on when the buffer is full (backpressure).
    private let spaceFreed = AsyncCondition()
    /// Woken when the buffer reaches ``arrivalsWanted``: ``pending(atLeast:)``.
    private let arrivals = AsyncCondition()
    /// The fewest buffered outcomes a waiter of ``pending(atLeast:)`` waits for (`Int.max`: none waits).
    private var arrivalsWanted = Int.max
    /// Set by ``stopWaiting()``: ``add(_:claimedAt:)`` no longer waits for room.
    private var unbounded = false

    /// - Parameter retryForever: a daemon retries a failing write until it succeeds; a one-shot
    ///   run gives up (and exits 1) after a few tries.
    init(
        catalog: any ScrubCatalog,
        identity: @escaping @Sendable () -> NodeIdentity,
        backoff: Backoff,
        batchSize: Int,
        retryForever: Bool,
        metrics: NodeMetrics,
        clock: NodeClock,
        logger: Logger
    ) {
        self.clock = clock
        self.retryForever = retryForever
        self.metrics = metrics
        self.logger = logger
        self.catalog = catalog
        self.identity = identity
        self.backoff = backoff
        self.batchSize = batchSize
    }

    /// How many outcomes fill the buffer: ``add(_:claimedAt:)`` waits while it holds this many.
    var capacity: Int { batchSize * 4 }

    /// Half a batch: what ``flushContinuously(interval:)`` records at once, not waiting for its interval.
    var flushThreshold: Int { max(1, batchSize / 2) }

    /// Queues an outcome; waits only when the buffer is far ahead of the database, until a flush
    /// makes room (or the task is cancelled: a cancelled run never leaves a worker parked here).
    func add(_ outcome: ScrubOutcome, claimedAt: NodeClock.Instant) async {
        buffer.append((outcome, claimedAt))
        if buffer.count >= arrivalsWanted {
            arrivalsWanted = .max
            arrivals.wakeAll()
        }
        await spaceFreed.wait { unbounded || buffer.count < capacity }
    }

    /// Returns once at least `count` outcomes are buffered, or when the task is cancelled.
    func pending(atLeast count: Int) async {
        await arrivals.wait {
            if buffer.count >= count { return true }
            arrivalsWanted = min(arrivalsWanted, count)
            return false
        }
    }

    /// Records outcomes as they come, until cancelled. Few, large write transactions: every
    /// process shares one write lock, and each commit invalidates the others' page caches. So
    /// half a batch is flushed at once, and less only `interval` after the last flush (the one
    /// timer here, on the node's clock); with nothing buffered it waits for an outcome.
    func flushContinuously(interval: Duration) async throws {
        var last = clock.now
        while true {
            await pending(atLeast: 1)
            try Task.checkCancellation()
            let due = last + interval
            if buffer.count < flushThreshold, clock.now < due {
                // Half a batch or the interval, whichever comes first.
                let threshold = flushThreshold
                await clock.sleep(until: due, orUntil: { await self.pending(atLeast: threshold) })
                try Task.checkCancellation()
            }
            try await flush()
            last = clock.now
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
            let catalog = catalog
            let node = identity()
            let backoff = backoff
            let report: CompletionReport
            switch try await RetryingLoop.attempt({ try await catalog.complete(batch, node: node, backoff: backoff) }) {
            case .success(let answer):
                report = answer
            case .failure(let error):
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
            spaceFreed.wakeAll()
            totals.record(report, batch: batch)
            metrics.completed(imagesDeleted: report.imagesDeleted.count, imagesFailed: report.imagesFailed.count)
        }
    }

    /// Lets every ``add(_:claimedAt:)`` return without waiting for room, now and from now on:
    /// for a worker that failed, whose flusher is gone, so that the images still in flight can
    /// finish (their outcomes then go unrecorded, as the claims of a node that stopped do).
    func stopWaiting() {
        unbounded = true
        spaceFreed.wakeAll()
    }

    var pendingCount: Int { buffer.count }

    /// How many ``add(_:claimedAt:)`` calls wait for room now (for tests).
    nonisolated var waitingForRoom: Int { spaceFreed.parkedCount }

    /// How many ``pending(atLeast:)`` calls wait for outcomes now (for tests).
    nonisolated var waitingForOutcomes: Int { arrivals.parkedCount }
}
