/// The catalog and coordination protocol every node speaks, whatever stores it: SQLite (the
/// embedded default), PostgreSQL, or the lease service over HTTP.
///
/// Every time it reads or compares is the **store's** clock (DESIGN §3.1): callers pass
/// durations, never their own timestamps.
///
/// Every node-scoped operation names the node by its ``NodeIdentity``: its id and the
/// incarnation its ``join(_:ttl:)`` was given. A store refuses an operation whose incarnation is
/// not the one the node's membership holds (``CatalogError/wrongIncarnation(_:)``), so a second
/// process under the same id, or a client that only knows the id, can act for no node.
///
/// ## Topics
/// - Schema: ``upgrade()``
/// - Membership: ``join(_:ttl:)``, ``heartbeat(_:ttl:)``, ``leave(_:)``
/// - Election: ``campaign(_:ttl:)``, ``renewLeadership(_:term:ttl:)``, ``resign(_:term:)``
/// - Leader: ``leaderView(scrubTime:limit:scan:)``, ``apply(_:)``
/// - Work: ``claim(_:)``, ``complete(_:node:backoff:)``, ``release(_:node:)``,
///   ``windDown(_:)``, ``remainingWork(scrubTime:node:runStartedAt:)``
/// - Restore: ``restorePlan(imageID:)``, ``commitRestore(_:)``
/// - Status: ``backlog(scrubTime:failureLimit:)``, ``status(scrubTime:failureLimit:)``,
///   ``elections(withinLast:limit:)``
/// - Control: ``control(_:)``
public protocol ScrubCatalog: Sendable {
    /// Creates Glance-compatible `images` and `image_locations` when absent and our `scrub_*`
    /// tables; idempotent, safe to run from several processes at once. Never changes Glance's tables.
    func upgrade() async throws

    /// Joins (or, after a crash, rejoins under the same id) as an active member whose
    /// membership expires `ttl` seconds from now by the store clock, and resets the claims the
    /// id held (they go back to `assigned`: their outcomes will be lost).
    ///
    /// A node id is one process's at a time: while the id's membership is live under another
    /// incarnation than ``NodeRegistration/incarnation``, the join is refused.
    /// - Returns: the incarnation (the one presented if the store still holds it, else a new
    ///   random one) and the store's clock at the join.
    /// - Throws: ``CatalogError/nodeIDInUse(_:)`` while another incarnation's membership is live.
    func join(_ node: NodeRegistration, ttl: Double) async throws -> JoinAnswer

    /// Extends this node's membership to `ttl` seconds from now (store clock).
    /// - Returns: false when the membership had already expired or is gone: the node's work may
    ///   have been reassigned, so it must stop deleting and ``join(_:ttl:)`` again.
    func heartbeat(_ node: NodeIdentity, ttl: Double) async throws -> Bool

    /// Leaves gracefully: hands back every assignment this node holds (they become anyone's)
    /// and marks the node `left`. Call it after in-flight deletes have completed.
    func leave(_ node: NodeIdentity) async throws

    /// A node winding down before it leaves (its own shutdown, not an operator's `drain`, which
    /// is ``control(_:)``): it becomes `draining`, so the leader assigns it nothing and moves its
    /// unclaimed work to others; its unclaimed assignments are handed back at once.
    func windDown(_ node: NodeIdentity) async throws

    /// Takes the leader lease if it is vacant or expired (store clock), for a live member
    /// eligible to lead, with a new term (the old term + 1: the fencing token). The lease
    /// belongs to this incarnation: only it may renew, resign or write under it.
    /// - Returns: the lease after the attempt; ``LeaderLease/holder`` is this node if it won.
    func campaign(_ node: NodeIdentity, ttl: Double) async throws -> LeaderLease

    /// Extends this node's lease under `term` to `ttl` seconds from now (store clock).
    /// - Returns: false when the lease is no longer ours (expired, taken, resigned): step down.
    func renewLeadership(_ node: NodeIdentity, term: Int64, ttl: Double) async throws -> Bool

    /// Gives the lease up at once, so another node can lead without waiting for it to expire.
    func resign(_ node: NodeIdentity, term: Int64) async throws

    /// What the leader needs for one round: live nodes with their unclaimed queues, work to
    /// move off dead or draining nodes (a page of it), the sweep's kept state and the store
    /// clock, and up to `limit` eligible unassigned images listed by `scan` (a page of the
    /// safety sweep or of the images updated recently), with the position the next page starts
    /// at (``LeaderView/next``). `limit` 0 skips the listing.
    /// - Throws: ``CatalogError/rejected(_:)`` for a scan position or timestamp this catalog did not make.
    func leaderView(scrubTime: Double, limit: Int, scan: CandidateScan) async throws -> LeaderView

    /// Writes a leader's round: new assignments and moves (and the sweep's state, when the plan
    /// carries it), in one transaction that first checks
    /// the plan's term is current, its lease unexpired and held by the plan's incarnation
    /// (**one leader per term**, DESIGN §3.2). A move happens only if the work is still where
    /// the plan saw it (compare-and-set).
    /// - Returns: false, writing nothing, when the term is stale: the caller must step down.
    func apply(_ plan: LeaderPlan) async throws -> Bool

    /// Claims up to `request.limit` images the leader assigned to this node.
    ///
    /// Keeps **one worker per image** (DESIGN §3.3): in one transaction it checks the node's
    /// membership is unexpired, then moves this node's `assigned` images whose backoff has
    /// passed, and that are still `pending_delete`, to `scrubbing` under a fresh claim token
    /// each, and returns them with their tokens and their `pending_delete` locations.
    /// - Throws: ``CatalogError/membershipExpired(_:)`` when the node is no longer a live member.
    func claim(_ request: ClaimRequest) async throws -> [ClaimedImage]

    /// Records a batch of scrub outcomes in one transaction.
    ///
    /// For each outcome, every location of the named image whose data is gone is marked
    /// `deleted` (keeping its `deleted_at`) and audited, once. Then, only if this node still
    /// holds the very claim the outcome names (compare-and-set on holder, claim token, state
    /// `scrubbing`, image `pending_delete`): a fully successful image with no `pending_delete`
    /// location left is marked `deleted` and its assignment removed; a failed one goes back to
    /// `assigned` with attempts + 1, its last error and a backoff from `backoff`. Any other
    /// outcome (a later claim of the image exists, it was reset, restored, or the outcome
    /// names no token) is reported in ``CompletionReport/claimsLost`` and changes nothing
    /// else: replaying an outcome, however late, is harmless (DESIGN §3.4). An audit row is
    /// written only for a row whose state changed.
    func complete(_ outcomes: [ScrubOutcome], node: NodeIdentity, backoff: Backoff) async throws -> CompletionReport

    /// Hands back claimed images this node will not scrub (e.g. on shutdown before starting
    /// them): those still held under the named claims return to `assigned` with no holder, and
    /// any node may take them. Claims no longer held are left alone.
    func release(_ claims: [ClaimID], node: NodeIdentity) async throws

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
    /// on another live node, do not count; none does while the cluster is paused or an operator
    /// has drained this node.
    func remainingWork(scrubTime: Double, node: NodeIdentity, runStartedAt: Double) async throws -> Int

    /// Everything `scrubber status` shows: the lease, the pause, the nodes, the backlog with its
    /// bytes per store, failing images by class, and the last hour from the audit.
    func status(scrubTime: Double, failureLimit: Int) async throws -> ClusterStatus

    /// The leader elections of the last `seconds` (store clock), newest first, at most `limit`:
    /// who won which term and when, from the audit's `elected` rows (`scrubber elections`).
    func elections(withinLast seconds: Double, limit: Int) async throws -> [Election]

    /// An operator's command to the whole cluster, kept in the catalog and recorded as an audit
    /// row when it changed something (``ControlStep``):
    /// - `pause` / `resume`: while paused, ``claim(_:)`` claims nothing and the leader's view
    ///   says so (``LeaderView/paused``); claims already made finish.
    /// - `drain` a live, active node: it becomes `draining` (so it claims nothing and the leader
    ///   moves its queue) and its unclaimed work is handed back at once, until it rejoins or is
    ///   undrained. `undrain` only undoes an operator's drain.
    /// - `step-down`: the live leader's lease ends now; that node does not take it again while
    ///   another live eligible node could (``CatalogQueries/takeLease``).
    func control(_ request: ControlRequest) async throws -> ControlAnswer
}
