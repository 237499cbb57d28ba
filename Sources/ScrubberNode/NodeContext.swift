import Logging
import ScrubberCore
import ScrubberStores
import ServiceLifecycle
import Synchronization

/// What the loops of one node share: who it is, where it stores and deletes, and the two
/// leases it may act under (membership and, when it leads, the leader lease).
final class NodeContext: Sendable {
    let options: NodeOptions
    let catalog: any ScrubCatalog
    let router: StoreRouter
    let logger: Logger
    let membership: MembershipLease
    let leadership: Leadership
    let metrics: NodeMetrics
    /// Every timer, window and pause of the node's loops.
    let clock: NodeClock
    /// The store's clock when this node (last) joined: a one-shot run tries every image claimed before it.
    let joinedAt = Mutex<Double>(0)
    /// Set when the node must rejoin (resetting its claims) even though its membership is live.
    let rejoinRequested = Atomic<Bool>(false)
    /// Opened by ``MembershipService`` once the node first joined: what the other services wait
    /// for before they claim, campaign or lead (``untilJoined()``).
    let joined = Latch()
    /// Who this node is to the store: its id and the incarnation its last join was given
    /// (empty before the first join).
    private let currentIdentity: Mutex<NodeIdentity>

    init(options: NodeOptions, catalog: any ScrubCatalog, router: StoreRouter, clock: NodeClock, logger: Logger) {
        self.clock = clock
        self.options = options
        self.catalog = catalog
        self.router = router
        self.logger = logger
        membership = MembershipLease(ttl: options.configuration.cluster.nodeTTL, clock: clock)
        leadership = Leadership(Elector(ttl: options.configuration.cluster.leaseTTL))
        metrics = NodeMetrics(stores: router.storeNames)
        currentIdentity = Mutex(NodeIdentity(nodeID: options.nodeID, incarnation: ""))
    }

    var nodeID: String { options.nodeID }
    /// What every node-scoped operation names: read it when the operation starts.
    var identity: NodeIdentity { currentIdentity.withLock { $0 } }
    var config: ScrubberConfiguration { options.configuration }

    /// Waits for the node's first join.
    /// - Returns: false when the node was told to stop first (a graceful shutdown or cancellation).
    func untilJoined() async -> Bool {
        await cancelWhenGracefulShutdown { await self.joined.wait() }
    }

    /// This node's monotonic clock, in seconds: for trust windows only, never compared with the store's.
    func now() -> Double { clock.seconds }

    /// Joins (or rejoins, presenting the incarnation it holds, which the store keeps if it
    /// still has it) and starts trusting the membership from the attempt's start.
    ///
    /// A join refused because the id is live under another incarnation is tried again for two
    /// `node_ttl`s: a crashed predecessor's membership lapses within one, a live twin keeps
    /// renewing its own. Then the refusal (``CatalogError/nodeIDInUse(_:)``, fatal) ends the node.
    @discardableResult
    func join() async throws -> Double {
        let ttl = config.cluster.nodeTTL
        var firstRefusal: NodeClock.Instant?
        while true {
            let epoch = membership.epoch
            let start = clock.now
            var registration = options.registration
            let held = identity.incarnation
            registration.incarnation = held.isEmpty ? nil : held
            do {
                let answer = try await catalog.join(registration, ttl: ttl)
                currentIdentity.withLock { $0 = NodeIdentity(nodeID: nodeID, incarnation: answer.incarnation) }
                membership.renewed(startedAt: start, epoch: epoch)
                joinedAt.withLock { $0 = answer.storeTime }
                return answer.storeTime
            } catch let error as CatalogError where error.code == .nodeIDInUse {
                let first = firstRefusal ?? start
                guard first.duration(to: clock.now) < .seconds(2 * ttl) else { throw error }
                if firstRefusal == nil {
                    logger.warning("join refused, waiting up to \(2 * ttl) s for the other membership to lapse: \(error)")
                }
                firstRefusal = first
                try await clock.sleep(for: .seconds(max(0.05, min(1, ttl / 4))))
            }
        }
    }
}
