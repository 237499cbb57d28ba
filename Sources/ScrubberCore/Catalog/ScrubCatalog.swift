/// The catalog and coordination protocol every node speaks, whatever stores it: SQLite (the
/// embedded default), PostgreSQL, or the lease service over HTTP.
///
/// Every time it reads or compares is the **store's** clock (DESIGN §3.1): callers pass
/// durations, never their own timestamps.
///
/// ## Topics
/// - Schema: ``upgrade()``
/// - Membership: ``join(_:ttl:)``, ``heartbeat(nodeID:ttl:)``, ``leave(nodeID:)``
/// - Election: ``campaign(nodeID:ttl:)``, ``renewLeadership(nodeID:term:ttl:)``, ``resign(nodeID:term:)``
/// - Leader: ``leaderView(scrubTime:limit:after:)``, ``apply(_:)``
/// - Work: ``claim(_:)``, ``complete(_:nodeID:backoff:)``, ``release(imageIDs:nodeID:)``,
///   ``drain(nodeID:)``, ``remainingWork(scrubTime:nodeID:runStartedAt:)``
/// - Restore: ``restorePlan(imageID:)``, ``commitRestore(_:)``
/// - Status: ``backlog(scrubTime:failureLimit:)``
public protocol ScrubCatalog: Sendable {
    /// Creates Glance-compatible `images` and `image_locations` when absent and our `scrub_*`
    /// tables; idempotent, safe to run from several processes at once. Never changes Glance's tables.
    func upgrade() async throws

    /// Joins (or, after a crash, rejoins under the same id) as an active member whose
    /// membership expires `ttl` seconds from now by the store clock.
    /// - Returns: the store's clock at the join, in seconds since 1970.
    func join(_ node: NodeRegistration, ttl: Double) async throws -> Double

    /// Extends this node's membership to `ttl` seconds from now (store clock).
    /// - Returns: false when the membership had already expired or is gone: the node's work may
    ///   have been reassigned, so it must stop deleting and ``join(_:ttl:)`` again.
    func heartbeat(nodeID: String, ttl: Double) async throws -> Bool

    /// Leaves gracefully: hands back every assignment this node holds (they become anyone's)
    /// and marks the node `left`. Call it after in-flight deletes have completed.
    func leave(nodeID: String) async throws

    /// Stops taking new work: the node becomes `draining`, so the leader assigns it nothing and
    /// moves its unclaimed work to others; its unclaimed assignments are handed back at once.
    func drain(nodeID: String) async throws

    /// Takes the leader lease if it is vacant or expired (store clock), for a live member
    /// eligible to lead, with a new term (the old term + 1: the fencing token).
    /// - Returns: the lease after the attempt; ``LeaderLease/holder`` is this node if it won.
    func campaign(nodeID: String, ttl: Double) async throws -> LeaderLease

    /// Extends this node's lease under `term` to `ttl` seconds from now (store clock).
    /// - Returns: false when the lease is no longer ours (expired, taken, resigned): step down.
    func renewLeadership(nodeID: String, term: Int64, ttl: Double) async throws -> Bool

    /// Gives the lease up at once, so another node can lead without waiting for it to expire.
    func resign(nodeID: String, term: Int64) async throws

    /// What the leader needs for one round: live nodes with their unclaimed queues, work to
    /// move off dead or draining nodes (a page of it), and up to `limit` eligible unassigned
    /// images in catalog order after the scan position `after` (nil: from the start), with
    /// the position the next page starts at (``LeaderView/next``). `limit` 0 skips that scan.
    func leaderView(scrubTime: Double, limit: Int, after: String?) async throws -> LeaderView

    /// Writes a leader's round: new assignments and moves, in one transaction that first checks
    /// the plan's term is current and its lease unexpired (**one leader per term**, DESIGN §3.2).
    /// A move happens only if the work is still where the plan saw it (compare-and-set).
    /// - Returns: false, writing nothing, when the term is stale: the caller must step down.
    func apply(_ plan: LeaderPlan) async throws -> Bool

    /// Claims up to `request.limit` images the leader assigned to this node.
    ///
    /// Keeps **one worker per image** (DESIGN §3.3): in one transaction it checks the node's
    /// membership is unexpired, then moves this node's `assigned` images whose backoff has
    /// passed, and that are still `pending_delete`, to `scrubbing`, and returns them with
    /// their `pending_delete` locations.
    /// - Throws: ``CatalogError/membershipExpired(_:)`` when the node is no longer a live member.
    func claim(_ request: ClaimRequest) async throws -> [ClaimedImage]

    /// Records a batch of scrub outcomes in one transaction.
    ///
    /// For each outcome, every location whose data is gone is marked `deleted` (keeping its
    /// `deleted_at`) and audited. Then, only if this node still holds the image's claim
    /// (compare-and-set on holder, state `scrubbing`, image `pending_delete`): a fully successful
    /// image with no `pending_delete` location left is marked `deleted` and its assignment
    /// removed; a failed one goes back to `assigned` with attempts + 1, its last error and a
    /// backoff from `backoff`. Replaying a batch is harmless (DESIGN §3.4).
    func complete(_ outcomes: [ScrubOutcome], nodeID: String, backoff: Backoff) async throws -> CompletionReport

    /// Hands back claimed images this node will not scrub (e.g. on shutdown before starting
    /// them): they return to `assigned` with no holder, and any node may take them.
    func release(imageIDs: [String], nodeID: String) async throws

    /// Reads what a restore of `imageID` would bring back. The caller checks which locations'
    /// data still exists, then calls ``commitRestore(_:)``.
    func restorePlan(imageID: String) async throws -> RestorePlan

    /// Restores an image (DESIGN §3.5): a compare-and-set that fails while the image is being
    /// scrubbed or is no longer `pending_delete`; brings back the image **and** the pending
    /// locations listed in `request.keep`, marks those in `request.lost` `deleted`, and
    /// refuses if the locations changed since the plan was read.
    /// - Throws: ``RestoreRefusal``.
    func commitRestore(_ request: RestoreRequest) async throws -> RestoreResult

    /// Counts the backlog and lists failing images (most attempts first).
    func backlog(scrubTime: Double, failureLimit: Int) async throws -> BacklogSnapshot

    /// How many eligible images a one-shot run started at `runStartedAt` (store clock) still
    /// waits on: unassigned, being scrubbed, claimable now, or failed before the run and held by
    /// this node or no live node. Images that failed during the run, or wait out their backoff
    /// on another live node, do not count.
    func remainingWork(scrubTime: Double, nodeID: String, runStartedAt: Double) async throws -> Int

    /// Everything `scrubber status` shows.
    func status(scrubTime: Double, failureLimit: Int) async throws -> ClusterStatus
}

/// Who is joining.
public struct NodeRegistration: Sendable, Hashable, Codable {
    public var nodeID: String
    public var host: String
    public var pid: Int
    public var version: String
    /// The node's `scrub_pool_size`: its share of the work is weighted by it.
    public var capacity: Int
    public var leaderEligible: Bool
    /// `leader_priority`: among live eligible nodes the highest leads; equal ones do not preempt.
    public var leaderPriority: Int

    public init(nodeID: String, host: String, pid: Int, version: String, capacity: Int, leaderEligible: Bool, leaderPriority: Int = 0) {
        self.nodeID = nodeID
        self.host = host
        self.pid = pid
        self.version = version
        self.capacity = capacity
        self.leaderEligible = leaderEligible
        self.leaderPriority = leaderPriority
    }

    enum CodingKeys: String, CodingKey {
        case nodeID, host, pid, version, capacity, leaderEligible, leaderPriority
    }

    /// A node of an earlier version sends no priority: 0, as every node had.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(nodeID: try c.decode(String.self, forKey: .nodeID), host: try c.decode(String.self, forKey: .host),
                  pid: try c.decode(Int.self, forKey: .pid), version: try c.decode(String.self, forKey: .version),
                  capacity: try c.decode(Int.self, forKey: .capacity), leaderEligible: try c.decode(Bool.self, forKey: .leaderEligible),
                  leaderPriority: try c.decodeIfPresent(Int.self, forKey: .leaderPriority) ?? 0)
    }
}

/// Parameters of ``ScrubCatalog/claim(_:)``.
public struct ClaimRequest: Sendable, Hashable, Codable {
    public var nodeID: String
    public var limit: Int
    /// One-shot runs: an image whose last claim is older than this store time may be claimed
    /// even inside its backoff, so a `--once` run tries every eligible image once.
    public var retryClaimedBefore: Double?
    /// Makes a retried claim idempotent: when this node already holds claims made under this
    /// token (the first try committed, its answer was lost), they are returned again and
    /// nothing new is claimed. The lease service's client sets it to the request's id.
    public var token: String?

    public init(nodeID: String, limit: Int, retryClaimedBefore: Double? = nil, token: String? = nil) {
        self.nodeID = nodeID
        self.limit = limit
        self.retryClaimedBefore = retryClaimedBefore
        self.token = token
    }
}

/// What a completion batch did.
public struct CompletionReport: Sendable, Hashable, Codable {
    /// Images marked `deleted`.
    public var imagesDeleted: [String] = []
    /// Images that stay `pending_delete` with their error, attempts and backoff recorded.
    public var imagesFailed: [String] = []
    /// Images whose claim this node no longer held (reassigned after its membership lapsed,
    /// or restored/deleted meanwhile): their gone locations were recorded, nothing else.
    public var claimsLost: [String] = []
    /// Locations marked `deleted`.
    public var locationsDeleted = 0

    public init() {}
}

/// Why a catalog operation could not proceed.
public enum CatalogError: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    /// The node's membership lapsed (store clock): it must stop deleting and rejoin.
    case membershipExpired(String)
    /// The database cannot be used (corrupt, read-only, unreachable…); the message says which.
    case unavailable(String)
    /// The lease service refused this node's credentials: retrying cannot help, so the node
    /// stops at once (the message says how to fix it).
    case unauthorized(String)
    /// The lease service refused the request as malformed, unknown or too large: a version
    /// mismatch between node and service or a batch over its body limit, not an outage;
    /// retrying cannot help, so the node stops (the message says which).
    case rejected(String)

    public var description: String {
        switch self {
        case .membershipExpired(let node):
            "membership of node \(node) has expired (no heartbeat within node_ttl); its work may have been reassigned"
        case .unavailable(let message), .unauthorized(let message), .rejected(let message):
            message
        }
    }

    /// Errors no retry can fix: a node stops rather than retrying forever.
    public var isFatal: Bool {
        switch self {
        case .unauthorized, .rejected: true
        case .membershipExpired, .unavailable: false
        }
    }

    /// For loops that retry whatever fails: lets only the errors no retry can fix through.
    public static func rethrowIfFatal(_ error: any Error) throws {
        if let error = error as? CatalogError, error.isFatal { throw error }
    }
}
