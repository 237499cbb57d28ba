import Logging
import ScrubberCore
import ScrubberStores
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
    /// The store's clock when this node (last) joined: a one-shot run tries every image claimed before it.
    let joinedAt = Mutex<Double>(0)
    /// Set when the node must rejoin (resetting its claims) even though its membership is live.
    let rejoinRequested = Atomic<Bool>(false)
    private let origin = ContinuousClock.now

    init(options: NodeOptions, catalog: any ScrubCatalog, router: StoreRouter, logger: Logger) {
        self.options = options
        self.catalog = catalog
        self.router = router
        self.logger = logger
        membership = MembershipLease(ttl: options.configuration.cluster.nodeTTL)
        leadership = Leadership(Elector(ttl: options.configuration.cluster.leaseTTL))
        metrics = NodeMetrics(stores: router.storeNames)
    }

    var nodeID: String { options.nodeID }
    var config: ScrubberConfiguration { options.configuration }

    /// This node's monotonic clock, in seconds: for trust windows only, never compared with the store's.
    func now() -> Double { (ContinuousClock.now - origin).seconds }

    /// Joins (or rejoins) and starts trusting the membership from the attempt's start.
    @discardableResult
    func join() async throws -> Double {
        let epoch = membership.epoch
        let start = ContinuousClock.now
        let storeNow = try await catalog.join(options.registration, ttl: config.cluster.nodeTTL)
        membership.renewed(startedAt: start, epoch: epoch)
        joinedAt.withLock { $0 = storeNow }
        return storeNow
    }
}

/// The node's ``Elector``, shared by the election loop (which drives it) and the leader loop
/// (which asks it, before every write, whether it may still act and under which term).
final class Leadership: Sendable {
    private let elector: Mutex<Elector>

    init(_ elector: Elector) {
        self.elector = Mutex(elector)
    }

    func withElector<T>(_ body: (inout Elector) -> T) -> T {
        elector.withLock { body(&$0) }
    }

    /// The term this node may lead under at local time `now`, if any.
    func term(at now: Double) -> Int64? {
        elector.withLock { $0.leaderTerm(at: now) }
    }
}
