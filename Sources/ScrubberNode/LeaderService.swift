import Logging
import ScrubberCore
import ServiceLifecycle

/// While this node leads: each round reads the live nodes, the work of dead or draining
/// nodes and a page of eligible unassigned images (found by the ``LeaderSweep``: what was
/// updated since its mark, and a full sweep once per `wakeup_time`), shares them out with the
/// ``Partitioner`` within each node's window, and writes the round, with the sweep's state,
/// fenced by its term. While the cluster is paused, a round does nothing. Rounds follow each
/// other at once while there is backlog, and every `leader_interval` when idle (at most `wakeup_time`).
struct LeaderService: Service {
    let context: NodeContext

    func run() async throws {
        guard await context.untilJoined() else { return }
        let context = context
        let idle = Duration.seconds(context.config.idleLeaderInterval)
        // Graceful shutdown ends the loop; errors no retry can fix (a 401 from the lease service)
        // end the node; a round that failed is retried after `leader_interval`, from a new sweep.
        let rounds = RetryingLoop("leader round", clock: context.clock, logger: context.logger, retryDelay: { _ in idle })
        try await rounds.run(newSweep()) { candidates, failures in
            if failures > 0 { candidates = newSweep() }
            guard let term = context.leadership.term(at: context.now()) else {
                candidates = newSweep()  // another leader may have assigned them meanwhile
                // Until the election wins (or renews) a term: it wakes this loop.
                await context.leadership.untilLeading { context.now() }
                return
            }
            let placed = try await round(term: term, candidates: &candidates)
            // While work flows, go round again soon; while the nodes' windows are full but more
            // is known to be waiting, look again as they drain (a full window lasts claim_batch ×
            // 4 / rate: well under a second on a fast store); idle, rest.
            let pause: Duration = placed > 0 ? .milliseconds(20) : candidates.hasMore ? .milliseconds(50) : idle
            try await context.clock.sleep(for: pause)
        }
    }

    func newSweep() -> LeaderSweep {
        var sweep = LeaderSweep(wakeupTime: context.config.wakeupTime, slack: context.config.cluster.sweepSlack)
        sweep.fullSweepFirst = context.options.once
        return sweep
    }

    /// The most candidates one page reads.
    static let maxPage = 16_384

    /// One round: returns how many images it placed.
    func round(term: Int64, candidates: inout LeaderSweep) async throws -> Int {
        let cluster = context.config.cluster
        let partitioner = Partitioner(window: cluster.assignWindow)
        var view = try await context.catalog.leaderView(scrubTime: context.config.scrubTime, limit: 0, scan: .full(after: nil))
        candidates.load(view)
        // Paused (`scrubber pause`): assign and move nothing (the nodes claim nothing either),
        // and forget what was read ahead, so the leader rests between rounds as when idle.
        guard !view.paused else {
            candidates = newSweep()
            return 0
        }
        let targets = view.nodes.filter { $0.alive && !$0.draining }
            .map { Partitioner.Node(id: $0.id, capacity: $0.capacity, queued: $0.queued) }
        guard !targets.isEmpty else { return 0 }
        let room = max(0, partitioner.room(targets) - view.orphans.count)
        if candidates.count < room, candidates.canRead {
            // Bounded whatever the windows add up to: the leader's memory must not grow with them.
            let limit = min(max(4 * room, 4096), Self.maxPage)
            let scan = candidates.nextScan(now: view.storeNow)
            let page = try await context.catalog.leaderView(scrubTime: context.config.scrubTime, limit: limit, scan: scan)
            candidates.append(page, from: scan)
            view.orphans = page.orphans
        }
        let orphanOwner = Dictionary(view.orphans.map { ($0.imageID, $0.node) }, uniquingKeysWith: { a, _ in a })
        let placed = partitioner.assign(view.orphans.map(\.imageID) + candidates.take(room), to: targets)
        var plan = LeaderPlan(leader: context.identity, term: term, assignments: [], moves: [])
        for (image, node) in placed {
            if let from = orphanOwner[image] {
                plan.moves.append(.init(imageID: image, from: from, to: node))
            } else {
                plan.assignments.append((image, node))
            }
        }
        if candidates.exhausted, view.orphans.isEmpty, plan.assignments.count == candidates.count {
            // The backlog is all assigned: even out the tail so no node idles.
            var after = Dictionary(targets.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for (_, node) in placed { after[node]?.queued += 1 }
            plan.rebalances = partitioner.rebalance(Array(after.values), batch: cluster.claimBatch)
                .map { LeaderPlan.Rebalance(from: $0.from, to: $0.to, count: $0.count) }
        }
        plan.sweep = candidates.stateToKeep(placing: plan.assignments.count)
        guard !plan.isEmpty else { return 0 }
        // Trust the lease only inside its window, checked right before the write; the store
        // checks the term again in the write's own transaction.
        guard context.leadership.term(at: context.now()) == term else { return 0 }
        guard try await context.catalog.apply(plan) else {
            context.leadership.withElector { $0.stepDown(at: context.now()) }
            context.logger.warning("\(context.nodeID) was deposed (term \(term) is stale); its round was rejected")
            return 0
        }
        candidates.remove(Set(plan.assignments.map(\.image)))
        if let sweep = plan.sweep { candidates.didKeep(sweep) }
        if !plan.moves.isEmpty {
            context.logger.info("moved \(plan.moves.count) images off dead or draining nodes", metadata: ["term": "\(term)"])
        }
        return placed.count + plan.rebalances.reduce(0) { $0 + $1.count }
    }
}
