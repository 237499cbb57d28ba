import Logging
import ScrubberCore
import ScrubberStores
import ServiceLifecycle

/// One scrubber node: a group of small loops that every node runs.
///
/// - ``MembershipService``: join, heartbeat, rejoin, leave.
/// - ``WorkerService``: claim what the leader assigned, delete, complete in batches.
/// - ``ElectionService``: campaign, renew, resign.
/// - ``LeaderService``: partition the backlog and move dead nodes' work, fenced by term.
///
/// On graceful shutdown (SIGTERM in a `ServiceGroup`) they stop in reverse order: the leader
/// loop, then the election (resigning, so another node leads within a second), then the
/// workers (finish in-flight deletes, hand back the rest), then membership (leave).
/// `--once`: the node stops when the cluster has nothing left that the run waits on.
public final class ScrubNode: Service {
    public let options: NodeOptions
    private let context: NodeContext
    private let worker: WorkerService

    /// - Parameters:
    ///   - clock: what every loop's timers, trust windows and pauses run on; tests pass a clock
    ///     they advance.
    ///   - progress: called about once a second (of `clock`) with this node's totals.
    public init(catalog: any ScrubCatalog, router: StoreRouter, options: NodeOptions, clock: NodeClock = .continuous, logger: Logger,
                progress: (@Sendable (RunSummary) -> Void)? = nil) {
        self.options = options
        context = NodeContext(options: options, catalog: catalog, router: router, clock: clock, logger: logger)
        worker = WorkerService(context: context, once: options.once, progress: progress)
    }

    /// This node's totals (final once ``run()`` returned).
    public var summary: RunSummary { worker.summary }

    /// Whether the node is a member in good standing: joined, and its last heartbeat recent
    /// enough that the store still counts it alive (`/readyz`).
    public var isReady: Bool { context.membership.isTrusted() }

    /// Brings the gauges that are states, not events, up to date: leadership and readiness.
    /// Called before each metrics scrape.
    public func sampleGauges() {
        context.metrics.leadership(term: context.leadership.term(at: context.now()))
        context.metrics.ready(isReady)
    }

    public func run() async throws {
        guard try await joinFirst() else { return }
        context.logger.info("node \(context.nodeID) joined", metadata: [
            "pool": "\(options.configuration.poolSize)", "mode": "\(options.once ? "once" : "daemon")",
            "leader_eligible": "\(options.configuration.cluster.leaderEligible)",
        ])
        var groupLogger = context.logger
        groupLogger.logLevel = max(groupLogger.logLevel, .warning)
        let loops = ServiceGroup(configuration: .init(
            services: [
                .init(service: MembershipService(context: context), successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: ElectionService(context: context), successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: LeaderService(context: context), successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            logger: groupLogger))
        try await withGracefulShutdownHandler {
            try await loops.run()
        } onGracefulShutdown: {
            Task { await loops.triggerGracefulShutdown() }
        }
        context.logger.info("node \(context.nodeID) left")
    }

    /// Joins the cluster. A one-shot run fails at once when the database cannot be used; a
    /// daemon keeps trying (backing off to 30 s) until it joins or is told to stop.
    /// - Returns: false when told to stop before it could join.
    private func joinFirst() async throws -> Bool {
        guard !options.once else {
            try await context.join()
            return true
        }
        let context = context, logger = context.logger
        let joining = RetryingLoop("join", clock: context.clock, logger: logger, retryDelay: { attempt in
            .seconds(Self.joinRetryDelay(after: attempt))
        }, onFailure: { error, attempt in
            logger.error("cannot join the cluster (attempt \(attempt)); retrying in \(Self.joinRetryDelay(after: attempt)) s: \(error)")
        })
        return try await joining.untilSuccess { _ in try await context.join() } != nil
    }

    /// Seconds before another join after `attempt` failed in a row: 1, 2, 4 … 30.
    static func joinRetryDelay(after attempt: Int) -> Double {
        min(30.0, 0.5 * Double(1 << min(attempt, 6)))
    }
}
