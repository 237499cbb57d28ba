import Logging
import ScrubberCore
import ScrubberStores
import ServiceLifecycle
import Synchronization

/// One scrubber node: joins, heartbeats, claims its share of the backlog, deletes with at most
/// `scrub_pool_size` deletes in flight, records outcomes in batches, and on graceful shutdown
/// stops claiming, finishes in-flight deletes, hands back unstarted work and leaves.
///
/// A `Service`: run it in a `ServiceGroup` so SIGTERM/SIGINT trigger the graceful path.
public final class ScrubNode: Service {
    public let options: NodeOptions
    private let catalog: any ScrubCatalog
    private let router: StoreRouter
    private let logger: Logger
    private let lease: MembershipLease
    private let progress: (@Sendable (RunSummary) -> Void)?
    private let result: Mutex<RunSummary> = Mutex(RunSummary())

    /// - Parameter progress: called about once a second with the totals so far.
    public init(catalog: any ScrubCatalog, router: StoreRouter, options: NodeOptions, logger: Logger,
                progress: (@Sendable (RunSummary) -> Void)? = nil) {
        self.catalog = catalog
        self.router = router
        self.options = options
        self.logger = logger
        self.progress = progress
        lease = MembershipLease(ttl: options.configuration.cluster.nodeTTL)
    }

    /// The totals of the finished run.
    public var summary: RunSummary { result.withLock { $0 } }

    public func run() async throws {
        let config = options.configuration
        let nodeID = options.nodeID
        let joinedAt = try await join()
        logger.info("node \(nodeID) joined", metadata: ["pool": "\(config.poolSize)", "mode": "\(options.once ? "once" : "daemon")"])

        let request = ClaimRequest(
            nodeID: nodeID, limit: config.cluster.claimBatch, scrubTime: config.scrubTime, selfAssign: true,
            retryClaimedBefore: options.once ? joinedAt : nil)
        let queue = ClaimQueue(
            catalog: catalog, request: request, once: options.once,
            idlePoll: min(config.cluster.idlePollInterval, config.wakeupTime), lease: lease, logger: logger)
        let committer = Committer(catalog: catalog, nodeID: nodeID, backoff: config.cluster.backoff, batchSize: config.cluster.claimBatch,
                                      retryForever: !options.once, logger: logger)

        try await withThrowingDiscardingTaskGroup { background in
            // Both loops end only by cancellation, which is how this run stops them.
            background.addTask { try? await self.heartbeatLoop() }
            background.addTask { try? await self.reportLoop(committer) }
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<config.poolSize {
                        group.addTask { try await self.work(queue, committer) }
                    }
                    group.addTask {
                        while true {
                            try await Task.sleep(for: .milliseconds(20))
                            try await committer.flush()
                        }
                    }
                    // The workers end when the queue does; then stop the flusher (its
                    // cancellation error is not collected, so it is discarded).
                    for _ in 0..<config.poolSize { try await group.next() }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                queue.requestStop()
            }
            try await committer.flush()
            let left = await queue.stop()
            try await catalog.release(imageIDs: left.map(\.imageID), nodeID: nodeID)
            try await catalog.leave(nodeID: nodeID)
            let totals = await committer.totals
            result.withLock { $0 = totals }
            progress?(totals)
            logger.info("node \(nodeID) left", metadata: [
                "images_deleted": "\(totals.imagesDeleted)", "locations_deleted": "\(totals.locationsDeleted)",
                "images_failed": "\(totals.failedImages.count)", "released": "\(left.count)",
            ])
            background.cancelAll()
        }
    }

    /// One of `scrub_pool_size` workers: at most one delete in flight each.
    private func work(_ queue: ClaimQueue, _ committer: Committer) async throws {
        while let image = try await queue.next() {
            var results: [LocationResult] = []
            results.reserveCapacity(image.locations.count)
            for location in image.locations {
                guard lease.isTrusted else {
                    // The store may already count this node dead: deleting now could race a
                    // restore after its work was reassigned.
                    results.append(LocationResult(locationID: location.id, store: nil,
                                                  outcome: .failed("node membership lapsed before the delete; not deleted")))
                    continue
                }
                let result = await router.delete(location)
                if case .failed(let message) = result.outcome {
                    logger.debug("location failed", metadata: ["image": "\(image.imageID)", "location": "\(location.id)", "error": "\(message)"])
                }
                results.append(result)
            }
            await committer.add(ScrubOutcome(imageID: image.imageID, previousAttempts: image.attempts, locations: results))
            await queue.finished()
        }
    }

    private func join() async throws -> Double {
        let start = ContinuousClock.now
        let storeNow = try await catalog.join(options.registration, ttl: options.configuration.cluster.nodeTTL)
        lease.renewed(startedAt: start)
        return storeNow
    }

    private func heartbeatLoop() async throws {
        let cluster = options.configuration.cluster
        while true {
            try await Task.sleep(for: .seconds(cluster.heartbeatInterval))
            let start = ContinuousClock.now
            do {
                if try await catalog.heartbeat(nodeID: options.nodeID, ttl: cluster.nodeTTL) {
                    lease.renewed(startedAt: start)
                } else {
                    lease.lost()
                    logger.warning("membership of \(options.nodeID) had expired; rejoining (its claims were reset)")
                    _ = try await join()
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("heartbeat failed: \(error)")
            }
        }
    }

    private func reportLoop(_ committer: Committer) async throws {
        var last = RunSummary()
        var lastLog = ContinuousClock.now
        while true {
            try await Task.sleep(for: .seconds(1))
            let totals = await committer.totals
            progress?(totals)
            if !options.once, ContinuousClock.now - lastLog >= .seconds(10), totals != last {
                let seconds = Double((ContinuousClock.now - lastLog).components.seconds)
                logger.info("scrubbed \(totals.imagesDeleted - last.imagesDeleted) images in the last \(Int(seconds)) s", metadata: [
                    "images_deleted_total": "\(totals.imagesDeleted)", "images_failing": "\(totals.failedImages.count)",
                ])
                last = totals
                lastLog = .now
            }
        }
    }
}

