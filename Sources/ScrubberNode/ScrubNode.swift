import Logging
import ScrubberCore
import ScrubberStores
import ServiceLifecycle

/// One scrubber node: the small services every node runs, for the process's one `ServiceGroup`
/// (``services``), in this order:
///
/// - ``MembershipService``: join (the others wait for it), heartbeat, rejoin, leave.
/// - ``WorkerService``: claim what the leader assigned, delete, complete in batches.
/// - ``ElectionService``: campaign, renew, resign.
/// - ``LeaderService``: partition the backlog and move dead nodes' work, fenced by term.
///
/// On graceful shutdown (SIGTERM) the group stops them in reverse order: the leader loop, then
/// the election (resigning, so another node leads within a second), then the workers (finish
/// in-flight deletes, hand back the rest), then membership (leave). Each ends its group
/// gracefully when it returns: `--once`, the workers return when the cluster has nothing left
/// that the run waits on, and the node stops.
public final class ScrubNode: Sendable {
    public let options: NodeOptions
    private let context: NodeContext
    private let worker: WorkerService

    /// The node's services, in the order above, for the process's `ServiceGroup` (run once).
    public let services: [ServiceGroupConfiguration.ServiceConfiguration]

    /// - Parameters:
    ///   - clock: what every loop's timers, trust windows and pauses run on; tests pass a clock
    ///     they advance.
    ///   - progress: called about once a second (of `clock`) with this node's totals.
    public init(
        catalog: any ScrubCatalog,
        router: StoreRouter,
        options: NodeOptions,
        clock: NodeClock = .continuous,
        logger: Logger,
        progress: (@Sendable (RunSummary) -> Void)? = nil
    ) {
        self.options = options
        context = NodeContext(options: options, catalog: catalog, router: router, clock: clock, logger: logger)
        worker = WorkerService(context: context, once: options.once, progress: progress)
        let services: [(String, any Service)] = [
            ("membership", MembershipService(context: context)), ("workers", worker),
            ("election", ElectionService(context: context)), ("leader", LeaderService(context: context)),
        ]
        self.services = services.map { name, service in
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: name)
        }
    }

    /// This node's totals (final once its services stopped).
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

    /// Runs ``services`` in a `ServiceGroup` of their own, for a program (or a test) with no
    /// group of its own: returns when the node stopped (`--once`: when the work is done), throws
    /// what ended it. Cancelling the task stops the node at once; a graceful shutdown of a group
    /// this runs in stops it gracefully.
    public func run() async throws {
        var logger = context.logger
        logger.logLevel = max(logger.logLevel, .warning)
        try await ServiceGroup(configuration: .init(services: services, logger: logger)).run()
    }
}
