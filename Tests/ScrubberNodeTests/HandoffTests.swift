import Logging
import ScrubberCore
import ScrubberStores
import Synchronization
import TestSupport
import Testing

@testable import ScrubberNode

/// The node's hand-offs wake on the change they wait for, never on a poll: a waiter is woken
/// by the event, a cancelled waiter returns, and nothing moves the node's clock but the test.
@Suite struct HandoffTests {
    static let quiet = Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }

    // MARK: AsyncCondition, Latch

    /// A box the test and a waiter share, whose changes the test announces with `wakeAll`.
    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
        let changed = AsyncCondition()

        func set() {
            value.store(true, ordering: .sequentiallyConsistent)
            changed.wakeAll()
        }

        func waitUntilSet() async {
            await changed.wait { value.load(ordering: .sequentiallyConsistent) }
        }
    }

    @Test func aWaiterWakesWhenItsConditionChangesAndNotBefore() async throws {
        let flag = Flag()
        let waiter = Task { await flag.waitUntilSet() }
        try await eventually("the waiter asleep") { flag.changed.parkedCount == 1 }
        // A wake-up with the condition still false: it checks, and sleeps again.
        flag.changed.wakeAll()
        try await eventually("the waiter asleep again") { flag.changed.parkedCount == 1 }
        flag.set()
        await waiter.value
        #expect(flag.changed.parkedCount == 0)
        // Already true: no wait at all.
        await flag.waitUntilSet()
    }

    @Test func aCancelledWaiterReturnsAndLeavesNothingParked() async throws {
        let flag = Flag()
        let waiter = Task { await flag.waitUntilSet() }
        try await eventually("the waiter asleep") { flag.changed.parkedCount == 1 }
        waiter.cancel()
        await waiter.value
        #expect(flag.changed.parkedCount == 0)
        let set = flag.value.load(ordering: .sequentiallyConsistent)
        #expect(!set)
        // A task cancelled before it waits does not wait at all.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await flag.waitUntilSet()
        }
        await early.value
        // A wake-up after the cancellation finds no waiter to resume twice.
        flag.set()
    }

    @Test func aLatchLetsEveryWaiterThroughOnceOpenAndACancelledOneOutShut() async throws {
        let latch = Latch()
        let waiters = (0..<3).map { _ in Task { await latch.wait() } }
        let cancelled = Task { await latch.wait() }
        cancelled.cancel()
        #expect(await cancelled.value == false)
        latch.open()
        for waiter in waiters { #expect(await waiter.value) }
        #expect(await latch.wait(), "open stays open")
    }

    // MARK: Committer

    static func outcome(_ n: Int) -> ScrubOutcome {
        ScrubOutcome(imageID: "image-\(n)", claimToken: nil, previousAttempts: 0, locations: [])
    }

    /// A committer writing to a sandbox's catalog as a joined node.
    static func committer(batchSize: Int, clock: ManualClock = ManualClock()) async throws -> (Committer, ObservedCatalog, Sandbox) {
        let box = try await Sandbox()
        let catalog = ObservedCatalog(box.catalog)
        let registration = NodeRegistration(nodeID: "committer", host: "h", pid: 1, version: "t", capacity: 1, leaderEligible: false)
        let identity = NodeIdentity(nodeID: "committer", incarnation: try await catalog.join(registration, ttl: 30).incarnation)
        let committer = Committer(
            catalog: catalog,
            identity: { identity },
            backoff: Backoff(base: 30, max: 600),
            batchSize: batchSize,
            retryForever: true,
            metrics: NodeMetrics(stores: []),
            clock: NodeClock(clock),
            logger: quiet
        )
        return (committer, catalog, box)
    }

    /// Backpressure: the buffer holds at most four batches; the outcome that fills it waits
    /// until a flush makes room, and no longer.
    @Test func anOutcomeThatFillsTheBufferWaitsForTheFlushThatMakesRoom() async throws {
        let (committer, catalog, _) = try await Self.committer(batchSize: 1)
        for n in 0..<3 { await committer.add(Self.outcome(n), claimedAt: .init(offset: .zero)) }
        let fourth = Task { await committer.add(Self.outcome(3), claimedAt: .init(offset: .zero)) }
        try await eventually("the fourth outcome waits for room") { committer.waitingForRoom == 1 }
        #expect(await committer.pendingCount == 4)

        try await committer.flush()
        await fourth.value
        #expect(committer.waitingForRoom == 0)
        #expect(await committer.pendingCount == 0)
        #expect(catalog.count(.complete) == 2, "batches of two")
    }

    /// A failed write frees no room: the waiter sleeps on until the retry (on the node's clock)
    /// records the batch.
    @Test func aFailedFlushLeavesTheWaiterAsleepUntilTheRetrySucceeds() async throws {
        let time = ManualClock()
        let (committer, catalog, _) = try await Self.committer(batchSize: 1, clock: time)
        for n in 0..<3 { await committer.add(Self.outcome(n), claimedAt: .init(offset: .zero)) }
        let fourth = Task { await committer.add(Self.outcome(3), claimedAt: .init(offset: .zero)) }
        try await eventually("the fourth outcome waits for room") { committer.waitingForRoom == 1 }
        catalog.failing = [.complete]
        let flush = Task { try await committer.flush() }
        try await eventually("the flush waits to retry") { time.deadlines == [.init(offset: .seconds(1))] }
        #expect(committer.waitingForRoom == 1)
        catalog.failing = []
        time.advance(by: .seconds(1))
        try await flush.value
        await fourth.value
        #expect(await committer.pendingCount == 0)
    }

    @Test func aCancelledAddReturnsWithItsOutcomeKeptForTheFinalFlush() async throws {
        let (committer, _, _) = try await Self.committer(batchSize: 1)
        for n in 0..<3 { await committer.add(Self.outcome(n), claimedAt: .init(offset: .zero)) }
        let fourth = Task { await committer.add(Self.outcome(3), claimedAt: .init(offset: .zero)) }
        try await eventually("the fourth outcome waits for room") { committer.waitingForRoom == 1 }
        fourth.cancel()
        await fourth.value
        #expect(committer.waitingForRoom == 0)
        #expect(await committer.pendingCount == 4)
    }

    /// A worker that failed stops the waits for room, so the images in flight can finish.
    @Test func stopWaitingReleasesAnOutcomeWaitingForRoom() async throws {
        let (committer, _, _) = try await Self.committer(batchSize: 1)
        for n in 0..<3 { await committer.add(Self.outcome(n), claimedAt: .init(offset: .zero)) }
        let fourth = Task { await committer.add(Self.outcome(3), claimedAt: .init(offset: .zero)) }
        try await eventually("the fourth outcome waits for room") { committer.waitingForRoom == 1 }
        await committer.stopWaiting()
        await fourth.value
        await committer.add(Self.outcome(4), claimedAt: .init(offset: .zero))
        #expect(await committer.pendingCount == 5)
    }

    /// The flusher sleeps while nothing is buffered (no timer), writes half a batch the moment
    /// it is there, and less only its interval after the last flush, on the node's clock.
    @Test func theFlusherWritesHalfABatchAtOnceAndLessAtItsInterval() async throws {
        let time = ManualClock()
        let (committer, catalog, _) = try await Self.committer(batchSize: 4, clock: time)  // half a batch: 2
        let flusher = Task { try await committer.flushContinuously(interval: .milliseconds(250)) }
        defer { flusher.cancel() }
        try await eventually("the flusher waits for an outcome") { committer.waitingForOutcomes == 1 }
        #expect(time.deadlines.isEmpty, "no timer while nothing is buffered")

        await committer.add(Self.outcome(0), claimedAt: .init(offset: .zero))
        try await eventually("one outcome: the flusher waits for more or its interval") {
            time.deadlines == [.init(offset: .milliseconds(250))] && committer.waitingForOutcomes == 1
        }
        #expect(catalog.count(.complete) == 0)
        await committer.add(Self.outcome(1), claimedAt: .init(offset: .zero))
        try await eventually("half a batch written at once") { await committer.pendingCount == 0 }
        #expect(catalog.count(.complete) == 1)
        try await eventually("its timer dropped, the flusher waits for an outcome") {
            time.deadlines.isEmpty && committer.waitingForOutcomes == 1
        }
        #expect(time.now == .init(offset: .zero), "written without moving the clock")

        await committer.add(Self.outcome(2), claimedAt: .init(offset: .zero))
        try await eventually("the flusher waits out its interval") { time.deadlines == [.init(offset: .milliseconds(250))] }
        time.advance(by: .milliseconds(249))
        #expect(catalog.count(.complete) == 1)
        time.advance(by: .milliseconds(1))
        try await eventually("the rest written at the interval") { await committer.pendingCount == 0 }
        #expect(catalog.count(.complete) == 2)

        flusher.cancel()
        await #expect(throws: CancellationError.self) { try await flusher.value }
        #expect(committer.waitingForOutcomes == 0)
    }

    // MARK: ClaimQueue

    /// A queue of a joined node with `images` images assigned to it, claiming two at a time (so
    /// at most eight outstanding).
    static func claimQueue(images: Int, clock: ManualClock = ManualClock()) async throws -> (ClaimQueue, Sandbox, NodeContext) {
        let box = try await Sandbox()
        let seeded = try await box.seed(images)
        var config = box.configuration()
        config.cluster.nodeID = "queue"
        config.cluster.claimBatch = 2
        let context = NodeContext(
            options: NodeOptions(configuration: config, once: false, version: "t"),
            catalog: box.catalog,
            router: try StoreRouter(configuration: config.stores, encryptionKey: nil),
            clock: NodeClock(clock),
            logger: quiet
        )
        try await context.join()
        let lease = try await box.catalog.campaign(context.identity, ttl: 30)
        try #require(lease.holder == "queue")
        if !seeded.isEmpty {
            let plan = LeaderPlan(leader: context.identity, term: lease.term, assignments: seeded.map { ($0.id, "queue") }, moves: [])
            try #require(try await box.catalog.apply(plan))
        }
        return (ClaimQueue(context: context, once: false), box, context)
    }

    /// Takes the eight images the queue hands out before it waits for completions, and starts
    /// a ninth worker, asleep until one completes.
    static func saturate(_ queue: ClaimQueue) async throws -> Task<ClaimQueue.Claim?, any Error> {
        for _ in 0..<8 { _ = try #require(try await queue.next()) }
        let ninth = Task { try await queue.next() }
        try await eventually("a ninth worker waits for a completion") { queue.waitingWorkers == 1 }
        return ninth
    }

    @Test func aWorkerHeldBackByTooMuchOutstandingIsWokenByACompletion() async throws {
        let (queue, _, _) = try await Self.claimQueue(images: 12)
        let ninth = try await Self.saturate(queue)
        await queue.finished()
        #expect(try await ninth.value != nil)
        #expect(queue.waitingWorkers == 0)
    }

    @Test func aWorkerHeldBackByTooMuchOutstandingStopsOnAStopRequest() async throws {
        let (queue, _, _) = try await Self.claimQueue(images: 12)
        let ninth = try await Self.saturate(queue)
        queue.requestStop()
        #expect(try await ninth.value == nil)
    }

    @Test func aCancelledWorkerHeldBackByTooMuchOutstandingThrowsCancellation() async throws {
        let (queue, _, _) = try await Self.claimQueue(images: 12)
        let ninth = try await Self.saturate(queue)
        ninth.cancel()
        await #expect(throws: CancellationError.self) { try await ninth.value }
        #expect(queue.waitingWorkers == 0)
    }

    /// The idle pause is a timer on the node's clock, but a stop ends it: a shutdown does not
    /// sit it out.
    @Test func anIdleWorkerStopsOnAStopRequestWithoutSittingOutItsPause() async throws {
        let time = ManualClock()
        let (queue, _, _) = try await Self.claimQueue(images: 0, clock: time)
        let worker = Task { try await queue.next() }
        try await eventually("the worker in its idle pause") {
            queue.waitingWorkers == 1 && time.deadlines == [.init(offset: .milliseconds(100))]
        }
        queue.requestStop()
        #expect(try await worker.value == nil)
        #expect(time.now == .init(offset: .zero))
        #expect(time.deadlines.isEmpty)
    }

    /// A claim refused for an untrusted membership waits for the membership loop's rejoin
    /// (a renewal wakes it), not for a timer.
    @Test func aWorkerWithoutATrustedMembershipClaimsOnceTheNodeRejoins() async throws {
        let time = ManualClock()
        let (queue, _, context) = try await Self.claimQueue(images: 4, clock: time)
        context.membership.lost()
        let worker = Task { try await queue.next() }
        try await eventually("the worker waits for the membership") { queue.waitingWorkers == 1 }
        #expect(time.deadlines.isEmpty, "no timer")
        try await context.join()
        #expect(try await worker.value != nil)
    }

    // MARK: Leadership, MembershipLease

    @Test func theLeaderLoopWaitsForATermAndTheElectionWakesIt() async throws {
        let leadership = Leadership(Elector(ttl: 6))
        let waiter = Task { await leadership.untilLeading { 10 } }
        try await eventually("the leader loop waits") { leadership.waitingForTerm == 1 }
        // A refused campaign changes nothing; a granted one wakes the waiter.
        leadership.withElector { $0.campaigned(startedAt: 9, granted: nil) }
        #expect(leadership.waitingForTerm == 1)
        leadership.withElector { $0.campaigned(startedAt: 9, granted: 3) }
        await waiter.value
        #expect(leadership.term(at: 10) == 3)

        let cancelled = Task { await leadership.untilLeading { 100 } }
        cancelled.cancel()
        await cancelled.value
    }

    @Test func aWaitForTrustEndsWithTheRenewalThatGrantsIt() async throws {
        let time = ManualClock()
        let lease = MembershipLease(ttl: 10, clock: NodeClock(time))
        let waiter = Task { await lease.untilTrusted() }
        try await eventually("the worker waits for trust") { lease.waitingForTrust == 1 }
        lease.renewed(startedAt: NodeClock(time).now, epoch: lease.epoch)
        await waiter.value
        #expect(lease.isTrusted())

        lease.lost()
        let cancelled = Task { await lease.untilTrusted() }
        cancelled.cancel()
        await cancelled.value
        #expect(!lease.isTrusted())
    }
}
