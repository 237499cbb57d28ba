import ScrubberCore
import Synchronization

/// The catalog under test, with the by-id calls most conformance tests make: each names the
/// incarnation the node's last join through this adapter was given (a node that never joined
/// names one nobody holds), and an outcome or a release that names no claim names the node's
/// last claim of that image through this adapter. Tests of identities and claims themselves
/// use ``raw``, the catalog as it is.
final class TestCatalog: Sendable {
    let raw: any ScrubCatalog
    private let incarnations = Mutex<[String: String]>([:])
    /// The token of each image's last claim, by node.
    private let tokens = Mutex<[String: [String: String]]>([:])

    init(_ raw: any ScrubCatalog) {
        self.raw = raw
    }

    /// What the node named `nodeID` sends: its id and the incarnation its last join was given.
    func identity(_ nodeID: String) -> NodeIdentity {
        NodeIdentity(nodeID: nodeID, incarnation: incarnations.withLock { $0[nodeID] } ?? "never-joined")
    }

    func token(_ nodeID: String, _ imageID: String) -> String? {
        tokens.withLock { $0[nodeID]?[imageID] }
    }

    func upgrade() async throws { try await raw.upgrade() }

    @discardableResult
    func join(_ node: NodeRegistration, ttl: Double) async throws -> JoinAnswer {
        var node = node
        if node.incarnation == nil { node.incarnation = incarnations.withLock { $0[node.nodeID] } }
        let answer = try await raw.join(node, ttl: ttl)
        incarnations.withLock { $0[node.nodeID] = answer.incarnation }
        return answer
    }

    func heartbeat(nodeID: String, ttl: Double) async throws -> Bool { try await raw.heartbeat(identity(nodeID), ttl: ttl) }
    func leave(nodeID: String) async throws { try await raw.leave(identity(nodeID)) }
    func windDown(nodeID: String) async throws { try await raw.windDown(identity(nodeID)) }
    func campaign(nodeID: String, ttl: Double) async throws -> LeaderLease { try await raw.campaign(identity(nodeID), ttl: ttl) }
    func renewLeadership(nodeID: String, term: Int64, ttl: Double) async throws -> Bool {
        try await raw.renewLeadership(identity(nodeID), term: term, ttl: ttl)
    }
    func resign(nodeID: String, term: Int64) async throws { try await raw.resign(identity(nodeID), term: term) }

    func leaderView(scrubTime: Double, limit: Int, scan: CandidateScan) async throws -> LeaderView {
        try await raw.leaderView(scrubTime: scrubTime, limit: limit, scan: scan)
    }

    /// A plan with no incarnation gets its leader's.
    func apply(_ plan: LeaderPlan) async throws -> Bool {
        var plan = plan
        if plan.incarnation.isEmpty { plan.incarnation = identity(plan.leader).incarnation }
        return try await raw.apply(plan)
    }

    /// A request with no incarnation gets its node's; the claims' tokens are remembered.
    func claim(_ request: ClaimRequest) async throws -> [ClaimedImage] {
        var request = request
        if request.incarnation.isEmpty { request.incarnation = identity(request.nodeID).incarnation }
        let claimed = try await raw.claim(request)
        tokens.withLock { tokens in
            for image in claimed { tokens[request.nodeID, default: [:]][image.imageID] = image.claimToken }
        }
        return claimed
    }

    /// Outcomes that name no claim name the node's last claim of their image.
    func complete(_ outcomes: [ScrubOutcome], nodeID: String, backoff: Backoff) async throws -> CompletionReport {
        let outcomes = outcomes.map { outcome in
            var outcome = outcome
            if outcome.claimToken == nil { outcome.claimToken = token(nodeID, outcome.imageID) }
            return outcome
        }
        return try await raw.complete(outcomes, node: identity(nodeID), backoff: backoff)
    }

    func release(imageIDs: [String], nodeID: String) async throws {
        let claims = imageIDs.map { ClaimID(imageID: $0, claimToken: token(nodeID, $0) ?? "") }
        try await raw.release(claims, node: identity(nodeID))
    }

    func remainingWork(scrubTime: Double, nodeID: String, runStartedAt: Double) async throws -> Int {
        try await raw.remainingWork(scrubTime: scrubTime, node: identity(nodeID), runStartedAt: runStartedAt)
    }

    func restorePlan(imageID: String) async throws -> RestorePlan { try await raw.restorePlan(imageID: imageID) }
    func commitRestore(_ request: RestoreRequest) async throws -> RestoreResult { try await raw.commitRestore(request) }
    func backlog(scrubTime: Double, failureLimit: Int) async throws -> BacklogSnapshot {
        try await raw.backlog(scrubTime: scrubTime, failureLimit: failureLimit)
    }
    func status(scrubTime: Double, failureLimit: Int) async throws -> ClusterStatus {
        try await raw.status(scrubTime: scrubTime, failureLimit: failureLimit)
    }
}

extension LeaderPlan {
    /// A plan by leader id: ``TestCatalog/apply(_:)`` names the leader's incarnation.
    init(
        leader: String,
        term: Int64,
        assignments: [(image: String, node: String)],
        moves: [Move],
        rebalances: [Rebalance] = [],
        sweep: SweepState? = nil
    ) {
        self.init(
            leader: NodeIdentity(nodeID: leader, incarnation: ""),
            term: term,
            assignments: assignments,
            moves: moves,
            rebalances: rebalances,
            sweep: sweep
        )
    }
}

extension ClaimRequest {
    /// A request by node id: ``TestCatalog/claim(_:)`` names the node's incarnation.
    init(nodeID: String, limit: Int, retryClaimedBefore: Double? = nil, token: String? = nil) {
        self.init(NodeIdentity(nodeID: nodeID, incarnation: ""), limit: limit, retryClaimedBefore: retryClaimedBefore, token: token)
    }
}

extension ScrubOutcome {
    /// An outcome that names no claim: ``TestCatalog/complete(_:nodeID:backoff:)`` names the
    /// node's last claim of the image.
    init(imageID: String, previousAttempts: Int, locations: [LocationResult]) {
        self.init(imageID: imageID, claimToken: nil, previousAttempts: previousAttempts, locations: locations)
    }
}
