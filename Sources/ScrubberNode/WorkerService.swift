import Logging
import ScrubberCore
import ScrubberStores
import ServiceLifecycle
import Synchronization

/// Claims the images the leader assigned to this node and scrubs them with `scrub_pool_size`
/// workers (at most one delete in flight each), recording outcomes in batches.
///
/// On graceful shutdown it stops claiming, finishes the images in flight, records them, hands
/// back claimed-but-unstarted images and its unclaimed queue, and returns. A one-shot run
/// returns when the cluster has nothing left that it waits on.
final class WorkerService: Service {
    let context: NodeContext
    let once: Bool
    private let totals = Mutex(RunSummary())
    private let progress: (@Sendable (RunSummary) -> Void)?

    init(context: NodeContext, once: Bool, progress: (@Sendable (RunSummary) -> Void)?) {
        self.context = context
        self.once = once
        self.progress = progress
    }

    var summary: RunSummary { totals.withLock { $0 } }

    func run() async throws {
        let config = context.config
        let queue = ClaimQueue(context: context, once: once)
        let committer = Committer(catalog: context.catalog, nodeID: context.nodeID, backoff: config.cluster.backoff,
                                  batchSize: config.cluster.claimBatch, retryForever: !once, logger: context.logger)
        let reporter = Task { try await report(committer) }
        defer { reporter.cancel() }
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<config.poolSize {
                    group.addTask { try await self.work(queue, committer) }
                }
                group.addTask {
                    // Few, large write transactions: every process shares one write lock, and
                    // each commit invalidates the others' page caches. Flush a half batch, or
                    // whatever there is every 250 ms.
                    var last = ContinuousClock.now
                    while true {
                        try await Task.sleep(for: .milliseconds(25))
                        if await committer.pendingCount >= max(1, config.cluster.claimBatch / 2) || ContinuousClock.now - last >= .milliseconds(250) {
                            try await committer.flush()
                            last = .now
                        }
                    }
                }
                // The workers end when the queue does; then stop the flusher (its cancellation
                // error is not collected, so it is discarded).
                for _ in 0..<config.poolSize { try await group.next() }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            queue.requestStop()
        }
        try await committer.flush()
        let unstarted = await queue.stop()
        try await context.catalog.release(imageIDs: unstarted.map(\.imageID), nodeID: context.nodeID)
        if !once || unstarted.count > 0 {
            try await context.catalog.drain(nodeID: context.nodeID)
        }
        let final = await committer.totals
        totals.withLock { $0 = final }
        progress?(final)
        context.logger.info("node \(context.nodeID) stopped scrubbing", metadata: [
            "images_deleted": "\(final.imagesDeleted)", "locations_deleted": "\(final.locationsDeleted)",
            "images_failed": "\(final.failedImages.count)", "handed_back": "\(unstarted.count)",
        ])
    }

    /// One of `scrub_pool_size` workers: at most one delete in flight each.
    private func work(_ queue: ClaimQueue, _ committer: Committer) async throws {
        while let claim = try await queue.next() {
            let image = claim.image
            var results: [LocationResult] = []
            results.reserveCapacity(image.locations.count)
            // The store may count this node dead (or did, before it rejoined) and the leader may
            // have moved the image: deleting then could race a restore. Checked before routing and
            // again by the store immediately before it touches the data, so a process paused in
            // between does not delete on waking.
            let membership = context.membership
            let epoch = claim.epoch
            let permit: @Sendable () -> Bool = { membership.isTrusted(epoch: epoch) }
            for location in image.locations {
                guard permit() else {
                    results.append(LocationResult(locationID: location.id, store: nil,
                                                  outcome: .failed(StoreError.permitWithdrawn.message)))
                    continue
                }
                let result = await context.router.delete(location, permit: permit)
                if case .failed(let message) = result.outcome {
                    context.logger.debug("location failed", metadata: ["image": "\(image.imageID)", "location": "\(location.id)", "error": "\(message)"])
                }
                results.append(result)
            }
            await committer.add(ScrubOutcome(imageID: image.imageID, previousAttempts: image.attempts, locations: results),
                                claimedAt: claim.claimedAt)
            await queue.finished()
        }
    }

    private func report(_ committer: Committer) async throws {
        var last = RunSummary()
        var lastLog = ContinuousClock.now
        while true {
            try await Task.sleep(for: .seconds(1))
            let current = await committer.totals
            totals.withLock { $0 = current }
            progress?(current)
            if !once, ContinuousClock.now - lastLog >= .seconds(10), current != last {
                context.logger.info("scrubbed \(current.imagesDeleted - last.imagesDeleted) images in the last \(Int((ContinuousClock.now - lastLog).seconds)) s", metadata: [
                    "images_deleted_total": "\(current.imagesDeleted)", "images_failing": "\(current.failedImages.count)",
                ])
                last = current
                lastLog = .now
            }
        }
    }
}
