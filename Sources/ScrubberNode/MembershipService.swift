import Logging
import ScrubberCore
import ServiceLifecycle

/// Heartbeats this node's membership every `heartbeat_interval`; rejoins when the store says
/// it had expired (its claims were reset, its work may have moved); leaves on shutdown.
///
/// Runs first and stops last, so the node stays a member while its workers drain.
struct MembershipService: Service {
    let context: NodeContext

    func run() async throws {
        let cluster = context.config.cluster
        let catalog = context.catalog, nodeID = context.nodeID, context = context
        let heartbeats = RetryingLoop("heartbeat", clock: context.clock, logger: context.logger, onFailure: { error, failures in
            context.metrics.membershipRenewFailures.increment()
            // Once, then every 30th: an outage must not flood the log.
            if failures % 30 == 1 { context.logger.warning("heartbeat failed (\(failures) in a row): \(error)") }
        })
        // Graceful shutdown ends the loop; errors no retry can fix (a 401 from the lease service)
        // end the node.
        try await heartbeats.run { failures in
            try await context.clock.sleep(for: .seconds(cluster.heartbeatInterval))
            let epoch = context.membership.epoch
            let start = context.clock.now
            if context.rejoinRequested.load(ordering: .relaxed) {
                context.logger.warning("node \(nodeID) rejoins (its claims are reset)")
                try await context.join()
                // Cleared only once the join (and its reset of our claims) committed.
                context.rejoinRequested.store(false, ordering: .relaxed)
            } else if try await catalog.heartbeat(context.identity, ttl: cluster.nodeTTL) {
                context.membership.renewed(startedAt: start, epoch: epoch)
            } else {
                context.metrics.membershipRenewFailures.increment()
                context.membership.lost()
                context.logger.warning("membership of \(nodeID) had expired; rejoining (its claims were reset)")
                try await context.join()
            }
            if failures > 0 { context.logger.notice("database reachable again after \(failures) failed heartbeat(s)") }
        }
        try await catalog.leave(context.identity)
        // Not a member any more: `/readyz` says so at once.
        context.membership.lost()
    }
}
