import ScrubberCore
import Synchronization

/// A catalog that forwards every operation to another, recording when each was called (by the
/// test's clock), and failing the operations named in ``failing`` (as an unreachable database
/// would) until told otherwise: what a node did, and what it does when part of the store is gone.
final class ObservedCatalog: ScrubCatalog {
    enum Operation: String, Sendable, CaseIterable {
        case upgrade, join, heartbeat, leave, windDown, campaign, renewLeadership, resign, leaderView, apply, claim, complete, release
        case restorePlan, commitRestore, backlog, remainingWork, status, elections, control
    }

    struct Unreachable: Error {}

    let base: any ScrubCatalog
    private let now: @Sendable () -> Duration
    private let calls = Mutex<[Operation: [Duration]]>([:])
    /// The indexes (in ``times(_:)``) of the calls that threw.
    private let thrown = Mutex<[Operation: Set<Int>]>([:])
    private let failures = Mutex<Set<Operation>>([])
    private let listings = Mutex<[(at: Duration, scan: CandidateScan)]>([])

    /// - Parameter now: the clock the calls are recorded by.
    init(_ base: any ScrubCatalog, now: @escaping @Sendable () -> Duration = { .zero }) {
        self.base = base
        self.now = now
    }

    /// How many times `operation` was called (failed calls included).
    func count(_ operation: Operation) -> Int { calls.withLock { $0[operation]?.count ?? 0 } }

    /// When each call of `operation` was made, in order.
    func times(_ operation: Operation) -> [Duration] { calls.withLock { $0[operation] ?? [] } }

    /// Which calls of `operation` threw, by their index in ``times(_:)``.
    func failedCalls(_ operation: Operation) -> Set<Int> { thrown.withLock { $0[operation] ?? [] } }

    /// The scans of the leader views that listed images (`limit` > 0), in order, with when.
    func scans() -> [(at: Duration, scan: CandidateScan)] { listings.withLock { $0 } }

    /// The operations that fail from now on.
    var failing: Set<Operation> {
        get { failures.withLock { $0 } }
        set { failures.withLock { $0 = newValue } }
    }

    private func call<T>(_ operation: Operation, _ body: () async throws -> T) async throws -> T {
        let at = now()
        let index = calls.withLock { calls in
            calls[operation, default: []].append(at)
            return calls[operation, default: []].count - 1
        }
        do {
            if failures.withLock({ $0.contains(operation) }) { throw Unreachable() }
            return try await body()
        } catch {
            thrown.withLock { _ = $0[operation, default: []].insert(index) }
            throw error
        }
    }

    func upgrade() async throws { try await call(.upgrade) { try await base.upgrade() } }
    func join(_ node: NodeRegistration, ttl: Double) async throws -> JoinAnswer {
        try await call(.join) { try await base.join(node, ttl: ttl) }
    }
    func heartbeat(_ node: NodeIdentity, ttl: Double) async throws -> Bool {
        try await call(.heartbeat) { try await base.heartbeat(node, ttl: ttl) }
    }
    func leave(_ node: NodeIdentity) async throws { try await call(.leave) { try await base.leave(node) } }
    func windDown(_ node: NodeIdentity) async throws { try await call(.windDown) { try await base.windDown(node) } }
    func campaign(_ node: NodeIdentity, ttl: Double) async throws -> LeaderLease {
        try await call(.campaign) { try await base.campaign(node, ttl: ttl) }
    }
    func renewLeadership(_ node: NodeIdentity, term: Int64, ttl: Double) async throws -> Bool {
        try await call(.renewLeadership) { try await base.renewLeadership(node, term: term, ttl: ttl) }
    }
    func resign(_ node: NodeIdentity, term: Int64) async throws { try await call(.resign) { try await base.resign(node, term: term) } }
    func leaderView(scrubTime: Double, limit: Int, scan: CandidateScan) async throws -> LeaderView {
        if limit > 0 {
            let at = now()
            listings.withLock { $0.append((at, scan)) }
        }
        return try await call(.leaderView) { try await base.leaderView(scrubTime: scrubTime, limit: limit, scan: scan) }
    }
    func apply(_ plan: LeaderPlan) async throws -> Bool { try await call(.apply) { try await base.apply(plan) } }
    func claim(_ request: ClaimRequest) async throws -> [ClaimedImage] { try await call(.claim) { try await base.claim(request) } }
    func complete(_ outcomes: [ScrubOutcome], node: NodeIdentity, backoff: Backoff) async throws -> CompletionReport {
        try await call(.complete) { try await base.complete(outcomes, node: node, backoff: backoff) }
    }
    func release(_ claims: [ClaimID], node: NodeIdentity) async throws {
        try await call(.release) { try await base.release(claims, node: node) }
    }
    func restorePlan(imageID: String) async throws -> RestorePlan {
        try await call(.restorePlan) { try await base.restorePlan(imageID: imageID) }
    }
    func commitRestore(_ request: RestoreRequest) async throws -> RestoreResult {
        try await call(.commitRestore) { try await base.commitRestore(request) }
    }
    func backlog(scrubTime: Double, failureLimit: Int) async throws -> BacklogSnapshot {
        try await call(.backlog) { try await base.backlog(scrubTime: scrubTime, failureLimit: failureLimit) }
    }
    func remainingWork(scrubTime: Double, node: NodeIdentity, runStartedAt: Double) async throws -> Int {
        try await call(.remainingWork) { try await base.remainingWork(scrubTime: scrubTime, node: node, runStartedAt: runStartedAt) }
    }
    func status(scrubTime: Double, failureLimit: Int) async throws -> ClusterStatus {
        try await call(.status) { try await base.status(scrubTime: scrubTime, failureLimit: failureLimit) }
    }
    func elections(withinLast seconds: Double, limit: Int) async throws -> [Election] {
        try await call(.elections) { try await base.elections(withinLast: seconds, limit: limit) }
    }
    func control(_ request: ControlRequest) async throws -> ControlAnswer {
        try await call(.control) { try await base.control(request) }
    }
}
