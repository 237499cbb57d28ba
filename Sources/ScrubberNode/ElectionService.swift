import Logging
import ScrubberCore
import ServiceLifecycle

/// Campaigns for the leader lease when it is vacant or expired, renews it every `lease_ttl / 3`
/// while leading, and resigns on shutdown so another node takes over at once.
///
/// The decisions are ``Elector``'s; this loop only does the I/O it asks for.
struct ElectionService: Service {
    let context: NodeContext

    func run() async throws {
        guard await context.untilJoined() else { return }
        // Graceful shutdown ends the loop; errors no retry can fix (a 401 from the lease service)
        // end the node. A step's failures are its own (each says what failed).
        try await RetryingLoop("election", clock: context.clock, logger: context.logger).run { _ in try await step() }
        // Resign whatever term we still hold, even one whose trust ran out: it is a no-op then.
        let term: Int64? = context.leadership.withElector { elector in
            defer { elector.stepDown(at: context.now()) }
            if case .leader(let term, _) = elector.role { return term }
            return nil
        }
        if let term {
            // Draining first: a stopping node must not count as the live preferred node
            // (leader_priority) that every other node waits for while its workers finish.
            try await context.catalog.windDown(context.identity)
            try await context.catalog.resign(context.identity, term: term)
            context.logger.notice("\(context.nodeID) resigned the leader lease (term \(term))")
        }
    }

    /// What the ``Elector`` asks for now: wait, campaign or renew.
    private func step() async throws {
        let catalog = context.catalog
        let nodeID = context.nodeID
        let ttl = context.config.cluster.leaseTTL
        let now = context.now()
        let action = context.leadership.withElector { elector in
            if case .leader(let term, _) = elector.role {
                elector.expire(at: now)
                if case .follower = elector.role {
                    context.logger.warning(
                        "\(nodeID) stepped down: its lease for term \(term) could not be renewed in time (paused, or the store was unreachable)"
                    )
                }
            }
            return elector.next(at: now)
        }
        switch action {
        case .wait(let until):
            try await context.clock.sleep(for: .seconds(max(0.005, min(until - now, 0.25))))
        case .campaign:
            guard context.config.cluster.leaderEligible, context.membership.isTrusted() else {
                context.leadership.withElector { $0.campaigned(startedAt: now, granted: nil) }
                return
            }
            var granted: Int64?
            switch try await RetryingLoop.attempt({ try await catalog.campaign(context.identity, ttl: ttl) }) {
            case .success(let lease):
                if lease.holder == nodeID, lease.remaining > 0 { granted = lease.term }
            case .failure(let error):
                context.logger.warning("campaign failed: \(error)")
            }
            context.leadership.withElector { $0.campaigned(startedAt: now, granted: granted) }
            if let granted { context.logger.notice("\(nodeID) leads, term \(granted)") }
        case .renew(let term):
            var ok: Bool?
            switch try await RetryingLoop.attempt({ try await catalog.renewLeadership(context.identity, term: term, ttl: ttl) }) {
            case .success(let renewed):
                ok = renewed
            case .failure(let error):
                context.logger.warning("renewing the leader lease failed: \(error)")
            }
            context.leadership.withElector { $0.renewed(startedAt: now, ok: ok) }
            if ok != true { context.metrics.leaderRenewFailures.increment() }
            if ok == false {
                context.logger.warning(
                    "\(nodeID) lost the leader lease (term \(term)) or a preferred node (leader_priority) is alive; stepped down"
                )
                // Hand over at once rather than at the lease's expiry: a no-op unless the lease
                // is still ours (refused for a preferred node).
                if case .failure(let error) = try await RetryingLoop.attempt({ try await catalog.resign(context.identity, term: term) }) {
                    context.logger.warning("resigning term \(term) failed (the lease runs out instead): \(error)")
                }
            }
        }
    }
}
