import Logging
import ScrubberCore
import ServiceLifecycle

/// Joins the cluster (before any other service of the node does anything: they wait for it),
/// heartbeats this node's membership every `heartbeat_interval`, rejoins when the store says it
/// had expired (its claims were reset, its work may have moved), and leaves on shutdown.
///
/// Runs first and stops last, so the node stays a member while its workers drain.
struct MembershipService: Service {
    let context: NodeContext

    func run() async throws {
        guard try await joinFirst() else { return }
        let options = context.options
        context.logger.info(
            "node \(context.nodeID) joined",
            metadata: [
                "pool": "\(options.configuration.poolSize)", "mode": "\(options.once ? "once" : "daemon")",
                "leader_eligible": "\(options.configuration.cluster.leaderEligible)",
            ]
        )
        context.joined.open()
        let cluster = context.config.cluster
        let catalog = context.catalog
        let nodeID = context.nodeID
        let context = context
        let heartbeats = RetryingLoop(
            "heartbeat",
            clock: context.clock,
            logger: context.logger,
            onFailure: { error, failures in
                context.metrics.membershipRenewFailures.increment()
                // Once, then every 30th: an outage must not flood the log.
                if failures % 30 == 1 { context.logger.warning("heartbeat failed (\(failures) in a row): \(error)") }
            }
        )
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
        context.logger.info("node \(nodeID) left")
    }

    /// Joins the cluster. A one-shot run fails at once when the database cannot be used; a
    /// daemon keeps trying (backing off to 30 s) until it joins or is told to stop.
    /// - Returns: false when told to stop before it could join.
    private func joinFirst() async throws -> Bool {
        guard !context.options.once else {
            try await context.join()
            return true
        }
        let context = context
        let logger = context.logger
        let joining = RetryingLoop(
            "join",
            clock: context.clock,
            logger: logger,
            retryDelay: { attempt in
                .seconds(Self.joinRetryDelay(after: attempt))
            },
            onFailure: { error, attempt in
                logger.error("cannot join the cluster (attempt \(attempt)); retrying in \(Self.joinRetryDelay(after: attempt)) s: \(error)")
            }
        )
        return try await joining.untilSuccess { _ in try await context.join() } != nil
    }

    /// Seconds before another join after `attempt` failed in a row: 1, 2, 4 … 30.
    static func joinRetryDelay(after attempt: Int) -> Double {
        min(30.0, 0.5 * Double(1 << min(attempt, 6)))
    }
}
