import Logging
import ScrubberCore
import ServiceLifecycle

/// While this node leads: each round reads the live nodes, the work of dead or draining
/// nodes and a page of eligible unassigned images, shares them out with the ``Partitioner``
/// within each node's window, and writes the round fenced by its term. Rounds follow each
/// other at once while there is backlog, and every `leader_interval` when idle.
struct LeaderService: Service {
    let context: NodeContext

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var liveNodes = 1
            while true {
                guard let term = context.leadership.term(at: context.now()) else {
                    try await Task.sleep(for: .milliseconds(50))
                    continue
                }
                do {
                    let (busy, live) = try await round(term: term, liveNodes: liveNodes)
                    liveNodes = max(1, live)
                    if !busy { try await Task.sleep(for: .seconds(context.config.cluster.leaderInterval)) }
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    context.logger.warning("leader round failed: \(error)")
                    try await Task.sleep(for: .seconds(context.config.cluster.leaderInterval))
                }
            }
        }
    }

    /// One round. Returns whether the round found more work than fit (go again at once) and
    /// how many nodes can take work.
    func round(term: Int64, liveNodes: Int) async throws -> (busy: Bool, live: Int) {
        let cluster = context.config.cluster
        let partitioner = Partitioner(window: cluster.assignWindow)
        let view = try await context.catalog.leaderView(scrubTime: context.config.scrubTime, limit: cluster.assignWindow * liveNodes)
        let targets = view.nodes.filter { $0.alive && !$0.draining }
            .map { Partitioner.Node(id: $0.id, capacity: $0.capacity, queued: $0.queued) }
        guard !targets.isEmpty else { return (false, 0) }
        let orphanOwner = Dictionary(view.orphans.map { ($0.imageID, $0.node) }, uniquingKeysWith: { a, _ in a })
        let placed = partitioner.assign(view.orphans.map(\.imageID) + view.unassigned, to: targets)
        var plan = LeaderPlan(leader: context.nodeID, term: term, assignments: [], moves: [])
        for (image, node) in placed {
            if let from = orphanOwner[image] {
                plan.moves.append(.init(imageID: image, from: from, to: node))
            } else {
                plan.assignments.append((image, node))
            }
        }
        guard !plan.isEmpty else { return (false, targets.count) }
        // Trust the lease only inside its window, checked right before the write; the store
        // checks the term again in the write's own transaction.
        guard context.leadership.term(at: context.now()) == term else { return (false, targets.count) }
        guard try await context.catalog.apply(plan) else {
            context.leadership.withElector { $0.stepDown(at: context.now()) }
            context.logger.warning("\(context.nodeID) was deposed (term \(term) is stale); its round was rejected")
            return (false, targets.count)
        }
        if !plan.moves.isEmpty {
            context.logger.info("moved \(plan.moves.count) images off dead or draining nodes", metadata: ["term": "\(term)"])
        }
        let room = partitioner.room(targets)
        return (placed.count >= room || view.unassigned.count >= cluster.assignWindow * liveNodes, targets.count)
    }
}
