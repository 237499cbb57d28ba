import Logging
import ScrubberCore
import ScrubberStores
import ServiceLifecycle
import Synchronization

/// Claims the images the leader assigned to this node and scrubs them with `scrub_pool_size`
/// workers (at most one delete in flight each), recording outcomes in batches.
///
/// An image with a location on a store that has limits (`max_concurrent_deletes`,
/// `max_deletes_per_second`) waits for that store in the ``WaitingRoom``, holding none of the
/// `scrub_pool_size` slots, so images for other stores go ahead; once the store lets it in, it
/// takes a pool slot like any other image.
///
/// It starts once the node has joined (``MembershipService``). On graceful shutdown it stops
/// claiming, finishes the images in flight, records them, hands back claimed-but-unstarted
/// images (those waiting for a store too) and its unclaimed queue, and returns. A one-shot run
/// returns when the cluster has nothing left that it waits on.
final class WorkerService: Service {
    let context: NodeContext
    let once: Bool
    private let totals = Mutex(RunSummary())
    /// The (class, store) pairs of failures that need an operator already logged this run.
    private let shouted = Mutex(Set<String>())
    private let progress: (@Sendable (RunSummary) -> Void)?
    private let limits: StoreLimits

    init(context: NodeContext, once: Bool, progress: (@Sendable (RunSummary) -> Void)?) {
        self.context = context
        self.once = once
        self.progress = progress
        limits = StoreLimits(context.config.stores, clock: context.clock)
    }

    var summary: RunSummary { totals.withLock { $0 } }

    func run() async throws {
        guard await context.untilJoined() else { return }
        let config = context.config
        let queue = ClaimQueue(context: context, once: once)
        let context = context
        let committer = Committer(
            catalog: context.catalog,
            identity: { context.identity },
            backoff: config.failureBackoff,
            batchSize: config.cluster.claimBatch,
            retryForever: !once,
            metrics: context.metrics,
            clock: context.clock,
            logger: context.logger
        )
        let reporter = Task { try await report(committer) }
        defer { reporter.cancel() }
        let pool = AsyncSemaphore(permits: config.poolSize)
        let room = WaitingRoom()
        do {
            try await runWorkers(queue, committer, pool: pool, room: room)
        } catch {
            // The room's bodies are tasks of their own: none may go on deleting after this
            // service failed and the node went on to leave (and its claims were handed back).
            // Those already deleting finish; with the flusher gone, none may wait for room.
            room.stop()
            await committer.stopWaiting()
            await room.waitForAll()
            throw error
        }
        try await committer.flush()
        let unstarted = await queue.stop() + room.handedBack
        try await context.catalog.release(unstarted.map(\.claim), node: context.identity)
        if !once || unstarted.count > 0 {
            try await context.catalog.windDown(context.identity)
        }
        let final = await committer.totals
        totals.withLock { $0 = final }
        progress?(final)
        context.logger.info(
            "node \(context.nodeID) stopped scrubbing",
            metadata: [
                "images_deleted": "\(final.imagesDeleted)", "locations_deleted": "\(final.locationsDeleted)",
                "images_failed": "\(final.failedImages.count)", "handed_back": "\(unstarted.count)",
            ]
        )
    }

    /// The pool's workers and the flusher, until the queue ends or a graceful shutdown.
    private func runWorkers(_ queue: ClaimQueue, _ committer: Committer, pool: AsyncSemaphore, room: WaitingRoom) async throws {
        let config = context.config
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<config.poolSize {
                    group.addTask { try await self.work(queue, committer, pool: pool, room: room) }
                }
                // The flusher: half a batch at once, whatever there is 250 ms after the last flush.
                group.addTask { try await committer.flushContinuously(interval: .milliseconds(250)) }
                // The workers end when the queue does; images still waiting for a store are
                // handed back, those past the wait finish while the flusher still runs; then stop
                // the flusher (its cancellation error is not collected, so it is discarded).
                for _ in 0..<config.poolSize { try await group.next() }
                room.stop()
                await room.waitForAll()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            queue.requestStop()
            room.stop()
        }
    }

    /// One of `scrub_pool_size` workers: at most one delete in flight each. An image that needs a
    /// limited store goes to the waiting room instead, and the worker takes the next one.
    private func work(_ queue: ClaimQueue, _ committer: Committer, pool: AsyncSemaphore, room: WaitingRoom) async throws {
        while let claim = try await queue.next() {
            let needs = limits.needs(claim.image.locations.lazy.map(context.router.storeName(for:)))
            if needs.isEmpty {
                try await pool.acquire()
                await scrub(claim, committer, queue)
                pool.release()
                continue
            }
            context.logger.debug(
                "image waits for a limited store",
                metadata: [
                    "image": "\(claim.image.imageID)", "stores": "\(needs.map(\.gate.store).joined(separator: ","))",
                ]
            )
            let admitted = room.enter { ticket in
                defer { room.leave(ticket) }
                let entered: Bool
                do {
                    try await StoreLimits.enter(needs)
                    do {
                        // The strict spacing, checked with a slot of the pool in hand (it may have
                        // come late, after other images of the store got theirs); a start that
                        // must wait gives the slot back while it waits.
                        while true {
                            try await pool.acquire()
                            guard let retry = self.limits.tryStart(needs) else { break }
                            pool.release()
                            try await self.context.clock.sleep(until: retry)
                        }
                    } catch {
                        StoreLimits.leave(needs)
                        throw error
                    }
                    entered = true
                } catch {
                    entered = false
                }
                guard entered, room.start(ticket) else {
                    if entered {
                        pool.release()
                        StoreLimits.leave(needs)
                    }
                    room.handBack(claim.image)
                    await queue.finished()
                    return
                }
                await self.scrub(claim, committer, queue)
                pool.release()
                StoreLimits.leave(needs)
            }
            if !admitted {
                room.handBack(claim.image)
                await queue.finished()
            }
        }
    }

    /// Deletes one claimed image's pending locations, one after the other, and queues the outcome.
    private func scrub(_ claim: ClaimQueue.Claim, _ committer: Committer, _ queue: ClaimQueue) async {
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
                results.append(
                    LocationResult(
                        locationID: location.id,
                        store: nil,
                        outcome: .failed(StoreError.permitWithdrawn.description),
                        failureClass: .transient
                    )
                )
                continue
            }
            context.metrics.inFlight.increment()
            let started = context.clock.now
            let result = await context.router.delete(location, permit: permit)
            context.metrics.inFlight.decrement()
            context.metrics.record(result, duration: started.duration(to: context.clock.now))
            if let failure = result.failure {
                report(failure.message, failure.failureClass, of: result, image: image.imageID)
            }
            results.append(result)
        }
        context.logger.debug(
            "image scrubbed",
            metadata: [
                "image": "\(image.imageID)", "locations_gone": "\(results.count { $0.outcome.isGone })",
                "locations_failed": "\(results.count { !$0.outcome.isGone })",
            ]
        )
        await committer.add(
            ScrubOutcome(image, locations: results),
            claimedAt: claim.claimedAt
        )
        await queue.finished()
    }

    /// A failure that needs an operator (misconfigured, unsupported) is logged as an error once
    /// per run for each class and store, not once per image: every image of a wrong credential
    /// fails the same way. Others, and the repeats, are logged at debug; all of them are in
    /// `scrubber status`, the audit and the metrics.
    private func report(_ message: String, _ failureClass: FailureClass, of result: LocationResult, image: String) {
        let metadata: Logger.Metadata = [
            "image": "\(image)", "location": "\(result.locationID)", "store": "\(result.store ?? "-")",
            "class": "\(failureClass.rawValue)", "error": "\(message)",
        ]
        let first =
            failureClass.needsOperator
            && shouted.withLock { $0.insert("\(failureClass.rawValue) \(result.store ?? "")").inserted }
        if first {
            context.logger.error(
                """
                store \(result.store ?? "?"): \(message) — images failing this way stay pending_delete and are retried once per \
                wakeup_time; this is logged once per run (scrubber status lists them)
                """,
                metadata: metadata
            )
        } else {
            context.logger.debug("location failed", metadata: metadata)
        }
    }

    private func report(_ committer: Committer) async throws {
        var last = RunSummary()
        let clock = context.clock
        var lastLog = clock.now
        while true {
            try await clock.sleep(for: .seconds(1))
            let current = await committer.totals
            totals.withLock { $0 = current }
            progress?(current)
            // One line per 10 s of work at info, in both modes; each image only at debug.
            let elapsed = lastLog.duration(to: clock.now)
            if elapsed >= .seconds(10), current != last {
                context.logger.info(
                    "scrubbed \(current.imagesDeleted - last.imagesDeleted) images in the last \(Int(elapsed.seconds)) s",
                    metadata: [
                        "images_deleted_total": "\(current.imagesDeleted)", "images_failing": "\(current.failedImages.count)",
                    ]
                )
                last = current
                lastLog = clock.now
            }
        }
    }
}
