import Logging
import ScrubberCore
import Synchronization

/// Hands claimed images to the worker tasks, claiming the next batch ahead of need so deletes
/// never wait on the database when there is work.
actor ClaimQueue {
    private let context: NodeContext
    private let once: Bool
    /// Claimed images with the membership epoch they were claimed in.
    private var buffer: [Claim] = []
    private var head = 0
    private var fetch: Task<[Claim]?, any Error>?
    private var exhausted = false
    private var stopped = false
    private let stopRequested = Atomic<Bool>(false)
    /// Images handed out and not yet completed: claims stop while this is high, so a slow
    /// database cannot make the node hoard claims.
    private var outstanding = 0
    private let limit: Int
    private var maxOutstanding: Int { limit * 4 }
    /// Woken when ``outstanding`` drops or a stop is asked for: what a worker held back by
    /// too much outstanding waits on.
    private let changed = AsyncCondition()
    /// Claims in a row that found nothing, and until when the workers wait before the next
    /// look (``idlePause(after:cap:)`` after the last): one look per pause however many
    /// workers wait.
    private var emptyClaims = 0
    private var idleUntil: NodeClock.Instant?

    init(context: NodeContext, once: Bool) {
        self.context = context
        self.once = once
        limit = context.config.cluster.claimBatch
        lastWaitLog = context.clock.now
        lastRemainingCheck = context.clock.now - .seconds(1)
    }

    /// An image this node claimed, and the membership epoch it claimed it in: it may delete
    /// only while that epoch is current and trusted.
    struct Claim: Sendable {
        var image: ClaimedImage
        var epoch: Int
        /// When the claim transaction returned: the start of the image's latency.
        var claimedAt: NodeClock.Instant
    }

    /// The next image to scrub, or nil when the run is over (one-shot: nothing left in the
    /// cluster; or stop requested).
    func next() async throws -> Claim? {
        while true {
            if isStopping { return nil }
            if head < buffer.count {
                let image = buffer[head]
                head += 1
                outstanding += 1
                if buffer.count - head < limit / 2 { prefetch() }
                return image
            }
            if exhausted { return nil }
            prefetch()
            guard let fetch else {
                // Too much outstanding: wait until a completion (``finished()``) or a stop.
                await changed.wait { outstanding < maxOutstanding || exhausted || isStopping }
                try Task.checkCancellation()
                continue
            }
            let claimed = try await fetch.value
            if self.fetch == fetch { self.fetch = nil }
            guard head >= buffer.count else { continue }
            switch claimed {
            case nil:
                // Not a member right now, or the claim failed (and the node must rejoin): the
                // membership loop rejoins; claims resume once it did (or a stop ends the wait).
                // Never taken for an empty backlog.
                let membership = context.membership
                await firstOf({ await membership.untilTrusted() }, { await self.untilStopping() })
                try Task.checkCancellation()
            case let claimed? where claimed.isEmpty:
                // The count scans the backlog: at most twice a second.
                if once, outstanding == 0, lastRemainingCheck.duration(to: context.clock.now) >= .milliseconds(500), try await nothingLeft()
                {
                    exhausted = true
                    changed.wakeAll()
                } else {
                    // The leader assigns within a round: look again soon, then, in a daemon,
                    // less often while nothing comes (idle_poll_interval; a one-shot run is busy
                    // until it ends). The first worker to see this answer sets the pause; the
                    // others, given the same answer, wait with it.
                    let now = context.clock.now
                    if idleUntil.map({ $0 <= now }) ?? true {
                        emptyClaims += 1
                        let cap = once ? min(0.1, context.config.idlePoll) : context.config.idlePoll
                        idleUntil = now + Self.idlePause(after: emptyClaims, cap: cap)
                    }
                    try await pause(until: idleUntil ?? now)
                }
            default:
                emptyClaims = 0
                idleUntil = nil
                continue
            }
        }
    }

    /// Waits until `deadline` on the node's clock, or less when a stop is asked for meanwhile
    /// (a shutdown need not sit out an idle pause).
    private func pause(until deadline: NodeClock.Instant) async throws {
        await context.clock.sleep(until: deadline, orUntil: { await self.untilStopping() })
        try Task.checkCancellation()
    }

    private var isStopping: Bool { stopped || stopRequested.load(ordering: .relaxed) }

    private func untilStopping() async {
        await changed.wait { isStopping }
    }

    /// The wait after `emptyClaims` claims in a row found nothing: 100 ms, doubling, at most
    /// `cap` seconds (and never more than `cap`, however small).
    static func idlePause(after emptyClaims: Int, cap: Double) -> Duration {
        let doubled = 0.1 * Double(1 << min(max(emptyClaims - 1, 0), 16))
        return .seconds(min(doubled, cap))
    }

    private var lastWaitLog: NodeClock.Instant
    private var lastRemainingCheck: NodeClock.Instant

    private func nothingLeft() async throws -> Bool {
        lastRemainingCheck = context.clock.now
        let runStart = context.joinedAt.withLock { $0 }
        let left = try await context.catalog.remainingWork(
            scrubTime: context.config.scrubTime,
            node: context.identity,
            runStartedAt: runStart
        )
        if left > 0, lastWaitLog.duration(to: context.clock.now) > .seconds(10) {
            // Usually other nodes are finishing; with no live leader nothing moves at all.
            lastWaitLog = context.clock.now
            context.logger.notice(
                "waiting on \(left) eligible images being scrubbed or not yet assigned (is a leader-eligible node running?)"
            )
        }
        return left == 0
    }

    /// Called when an image handed out has been completed (or abandoned).
    func finished() {
        outstanding -= 1
        changed.wakeAll()
    }

    /// How many workers wait on the queue now, for completions or (in an idle pause) a stop (for tests).
    nonisolated var waitingWorkers: Int { changed.parkedCount }

    /// Asks the workers to take no more images (safe from any context, e.g. a graceful
    /// shutdown handler).
    nonisolated func requestStop() {
        stopRequested.store(true, ordering: .relaxed)
        changed.wakeAll()
    }

    /// Stops handing out images and returns the claimed ones never started, to release.
    func stop() async -> [ClaimedImage] {
        stopped = true
        changed.wakeAll()
        if let fetch {
            _ = try? await fetch.value
        }
        let unstarted = buffer[head...].map(\.image)
        buffer = []
        head = 0
        return unstarted
    }

    private func prefetch() {
        guard fetch == nil, !exhausted, !isStopping, outstanding < maxOutstanding else { return }
        let context = context
        let once = once
        fetch = Task {
            let request = ClaimRequest(context.identity, limit: limit, retryClaimedBefore: once ? context.joinedAt.withLock { $0 } : nil)
            let epoch = context.membership.epoch
            guard context.membership.isTrusted(epoch: epoch) else { return nil }
            switch try await RetryingLoop.attempt({ try await context.catalog.claim(request) }) {
            case .success(let images):
                context.metrics.claimed.increment(by: images.count)
                let now = context.clock.now
                let claimed = images.map { Claim(image: $0, epoch: epoch, claimedAt: now) }
                self.append(claimed)
                return claimed
            case .failure(let error as CatalogError) where error.code == .membershipExpired:
                context.membership.lost()
                context.logger.warning("membership expired; claims paused until the node rejoins")
                return nil
            case .failure(let error):
                // A one-shot run reports a broken database and exits; a daemon keeps trying.
                if once { throw error }
                // A claim that failed on a networked database may still have committed (the
                // answer was lost): images this node no longer knows it holds. Rejoining hands
                // every claim of this node back (and the old epoch's may no longer delete).
                context.membership.lost()
                context.rejoinRequested.store(true, ordering: .relaxed)
                context.logger.error("claim failed; the node will rejoin before claiming again: \(error)")
                try await context.clock.sleep(for: .seconds(1))
                return nil
            }
        }
    }

    private func append(_ claimed: [Claim]) {
        if head > 4096 {
            buffer.removeFirst(head)
            head = 0
        }
        buffer.append(contentsOf: claimed)
        fetch = nil
    }
}
