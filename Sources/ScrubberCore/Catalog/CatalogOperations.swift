extension CatalogWire {
    /// Every operation the lease service serves and its client sends: the one list the routes
    /// are made from. A name is never reused: the path is the operation.
    public static let operations: [any CatalogOperation.Type] = {
        typealias O = CatalogOperations
        return [
            O.Ping.self,
            O.Upgrade.self, O.Join.self, O.Heartbeat.self, O.Leave.self, O.WindDown.self,
            O.Campaign.self, O.Renew.self, O.Resign.self,
            O.LeaderView.self, O.Apply.self,
            O.Claim.self, O.Complete.self, O.Release.self,
            O.RestorePlan.self, O.CommitRestore.self,
            O.Backlog.self, O.RemainingWork.self, O.Status.self, O.Elections.self,
            O.Control.self,
        ]
    }()
}

/// The declarations of the ``ScrubCatalog`` operations on the wire (``CatalogOperation``), each
/// followed by the ``CatalogTransport`` default of its requirement: what the client sends.
public enum CatalogOperations {}

// MARK: Service

extension CatalogOperations {
    /// Answers if the service is up and takes the token; touches nothing.
    public enum Ping: CatalogOperation {
        public static let name = "ping"
        public static let isWrite = false
        public typealias Request = CatalogWire.Empty
        public typealias Answer = CatalogWire.Empty

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            CatalogWire.Empty()
        }
    }

    /// ``ScrubCatalog/upgrade()``.
    public enum Upgrade: CatalogOperation {
        public static let name = "upgrade"
        public typealias Request = CatalogWire.Empty
        public typealias Answer = CatalogWire.Empty

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.upgrade()
            return CatalogWire.Empty()
        }
    }
}

extension CatalogTransport {
    public func upgrade() async throws {
        _ = try await send(CatalogOperations.Upgrade.self, CatalogWire.Empty())
    }
}

// MARK: Membership

extension CatalogOperations {
    /// ``ScrubCatalog/join(_:ttl:)``.
    public enum Join: CatalogOperation {
        public static let name = "join"
        public typealias Request = CatalogWire.Join
        public typealias Answer = JoinAnswer

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.join(request.node, ttl: try CatalogWire.ttl(request.ttl))
        }
    }
}

extension CatalogTransport {
    public func join(_ node: NodeRegistration, ttl: Double) async throws -> JoinAnswer {
        try await send(CatalogOperations.Join.self, CatalogWire.Join(node: node, ttl: ttl))
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/heartbeat(_:ttl:)``.
    public enum Heartbeat: CatalogOperation {
        public static let name = "heartbeat"
        public typealias Request = CatalogWire.NodeTTL
        public typealias Answer = CatalogWire.Value<Bool>

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            CatalogWire.Value(try await catalog.heartbeat(request.node, ttl: try CatalogWire.ttl(request.ttl)))
        }
    }
}

extension CatalogTransport {
    public func heartbeat(_ node: NodeIdentity, ttl: Double) async throws -> Bool {
        try await send(CatalogOperations.Heartbeat.self, CatalogWire.NodeTTL(node, ttl: ttl)).value
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/leave(_:)``.
    public enum Leave: CatalogOperation {
        public static let name = "leave"
        public typealias Request = CatalogWire.Node
        public typealias Answer = CatalogWire.Empty

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.leave(request.node)
            return CatalogWire.Empty()
        }
    }
}

extension CatalogTransport {
    public func leave(_ node: NodeIdentity) async throws {
        _ = try await send(CatalogOperations.Leave.self, CatalogWire.Node(node))
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/windDown(_:)``, under its first name on the wire (an operator's drain is ``Control``).
    public enum WindDown: CatalogOperation {
        public static let name = "drain"
        public typealias Request = CatalogWire.Node
        public typealias Answer = CatalogWire.Empty

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.windDown(request.node)
            return CatalogWire.Empty()
        }
    }
}

extension CatalogTransport {
    public func windDown(_ node: NodeIdentity) async throws {
        _ = try await send(CatalogOperations.WindDown.self, CatalogWire.Node(node))
    }
}

// MARK: Election

extension CatalogOperations {
    /// ``ScrubCatalog/campaign(_:ttl:)``.
    public enum Campaign: CatalogOperation {
        public static let name = "campaign"
        public typealias Request = CatalogWire.NodeTTL
        public typealias Answer = LeaderLease

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.campaign(request.node, ttl: try CatalogWire.ttl(request.ttl))
        }
    }
}

extension CatalogTransport {
    public func campaign(_ node: NodeIdentity, ttl: Double) async throws -> LeaderLease {
        try await send(CatalogOperations.Campaign.self, CatalogWire.NodeTTL(node, ttl: ttl))
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/renewLeadership(_:term:ttl:)``.
    public enum Renew: CatalogOperation {
        public static let name = "renew"
        public typealias Request = CatalogWire.Term
        public typealias Answer = CatalogWire.Value<Bool>

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            guard let ttl = request.ttl else { throw CatalogWire.missing("ttl") }
            return CatalogWire.Value(try await catalog.renewLeadership(request.node, term: request.term, ttl: try CatalogWire.ttl(ttl)))
        }
    }
}

extension CatalogTransport {
    public func renewLeadership(_ node: NodeIdentity, term: Int64, ttl: Double) async throws -> Bool {
        try await send(CatalogOperations.Renew.self, CatalogWire.Term(node, term: term, ttl: ttl)).value
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/resign(_:term:)``.
    public enum Resign: CatalogOperation {
        public static let name = "resign"
        public typealias Request = CatalogWire.Term
        public typealias Answer = CatalogWire.Empty

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.resign(request.node, term: request.term)
            return CatalogWire.Empty()
        }
    }
}

extension CatalogTransport {
    public func resign(_ node: NodeIdentity, term: Int64) async throws {
        _ = try await send(CatalogOperations.Resign.self, CatalogWire.Term(node, term: term))
    }
}

// MARK: Leader

extension CatalogOperations {
    /// ``ScrubCatalog/leaderView(scrubTime:limit:scan:)``.
    public enum LeaderView: CatalogOperation {
        public static let name = "leader-view"
        public static let isWrite = false
        public typealias Request = CatalogWire.LeaderViewRequest
        public typealias Answer = ScrubberCore.LeaderView

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.leaderView(
                scrubTime: try CatalogWire.nonNegative(request.scrubTime, "scrubTime"),
                limit: try CatalogWire.nonNegative(request.limit, "limit"),
                scan: request.candidateScan
            )
        }
    }
}

extension CatalogTransport {
    public func leaderView(scrubTime: Double, limit: Int, scan: CandidateScan) async throws -> LeaderView {
        try await send(CatalogOperations.LeaderView.self, CatalogWire.LeaderViewRequest(scrubTime: scrubTime, limit: limit, scan: scan))
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/apply(_:)``.
    public enum Apply: CatalogOperation {
        public static let name = "apply"
        public typealias Request = LeaderPlan
        public typealias Answer = CatalogWire.Value<Bool>

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            CatalogWire.Value(try await catalog.apply(request))
        }
    }
}

extension CatalogTransport {
    public func apply(_ plan: LeaderPlan) async throws -> Bool {
        try await send(CatalogOperations.Apply.self, plan).value
    }
}

// MARK: Work

extension CatalogOperations {
    /// ``ScrubCatalog/claim(_:)``. The request id is the claim's ``ClaimRequest/token`` (unless
    /// the caller set one), so even a retry that reaches a restarted service claims nothing new.
    public enum Claim: CatalogOperation {
        public static let name = "claim"
        public typealias Request = ClaimRequest
        public typealias Answer = [ClaimedImage]

        public static func stamp(_ request: inout Request, requestID: String) {
            request.token = request.token ?? requestID
        }

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            _ = try CatalogWire.positive(request.limit, "limit")
            return try await catalog.claim(request)
        }
    }
}

extension CatalogTransport {
    public func claim(_ request: ClaimRequest) async throws -> [ClaimedImage] {
        try await send(CatalogOperations.Claim.self, request)
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/complete(_:node:backoff:)``. The node's committer retries a failed batch
    /// as it is: the id follows the content, so even a retry past the call's deadline is
    /// answered from the first try. Past the replay cache, a re-sent batch is still harmless:
    /// its claim tokens no longer match.
    public enum Complete: CatalogOperation {
        public static let name = "complete"
        public static let requestID = CatalogWire.RequestIDPolicy.content
        public typealias Request = CatalogWire.Complete
        public typealias Answer = CompletionReport

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.complete(request.outcomes, node: request.node, backoff: request.backoff)
        }
    }
}

extension CatalogTransport {
    public func complete(_ outcomes: [ScrubOutcome], node: NodeIdentity, backoff: Backoff) async throws -> CompletionReport {
        guard !outcomes.isEmpty else { return CompletionReport() }
        return try await send(CatalogOperations.Complete.self, CatalogWire.Complete(outcomes: outcomes, node: node, backoff: backoff))
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/release(_:node:)``.
    public enum Release: CatalogOperation {
        public static let name = "release"
        public typealias Request = CatalogWire.Release
        public typealias Answer = CatalogWire.Empty

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.release(request.claims, node: request.node)
            return CatalogWire.Empty()
        }
    }
}

extension CatalogTransport {
    public func release(_ claims: [ClaimID], node: NodeIdentity) async throws {
        guard !claims.isEmpty else { return }
        _ = try await send(CatalogOperations.Release.self, CatalogWire.Release(claims: claims, node: node))
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/remainingWork(scrubTime:node:runStartedAt:)``.
    public enum RemainingWork: CatalogOperation {
        public static let name = "remaining-work"
        public static let isWrite = false
        public typealias Request = CatalogWire.RemainingWork
        public typealias Answer = CatalogWire.Value<Int>

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            CatalogWire.Value(
                try await catalog.remainingWork(
                    scrubTime: request.scrubTime,
                    node: request.node,
                    runStartedAt: request.runStartedAt
                )
            )
        }
    }
}

extension CatalogTransport {
    public func remainingWork(scrubTime: Double, node: NodeIdentity, runStartedAt: Double) async throws -> Int {
        let request = CatalogWire.RemainingWork(scrubTime: scrubTime, node: node, runStartedAt: runStartedAt)
        return try await send(CatalogOperations.RemainingWork.self, request).value
    }
}

// MARK: Restore

extension CatalogOperations {
    /// ``ScrubCatalog/restorePlan(imageID:)``.
    public enum RestorePlan: CatalogOperation {
        public static let name = "restore-plan"
        public static let isWrite = false
        public typealias Request = CatalogWire.Image
        public typealias Answer = ScrubberCore.RestorePlan

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.restorePlan(imageID: request.imageID)
        }
    }
}

extension CatalogTransport {
    public func restorePlan(imageID: String) async throws -> RestorePlan {
        try await send(CatalogOperations.RestorePlan.self, CatalogWire.Image(imageID: imageID))
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/commitRestore(_:)``. The id follows the content: an operator's repeated
    /// restore is answered from the first try.
    public enum CommitRestore: CatalogOperation {
        public static let name = "commit-restore"
        public static let requestID = CatalogWire.RequestIDPolicy.content
        public typealias Request = RestoreRequest
        public typealias Answer = RestoreResult

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.commitRestore(request)
        }
    }
}

extension CatalogTransport {
    public func commitRestore(_ request: RestoreRequest) async throws -> RestoreResult {
        try await send(CatalogOperations.CommitRestore.self, request)
    }
}

// MARK: Status and control

extension CatalogOperations {
    /// ``ScrubCatalog/backlog(scrubTime:failureLimit:)``.
    public enum Backlog: CatalogOperation {
        public static let name = "backlog"
        public static let isWrite = false
        public typealias Request = CatalogWire.Backlog
        public typealias Answer = BacklogSnapshot

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.backlog(
                scrubTime: try CatalogWire.nonNegative(request.scrubTime, "scrubTime"),
                failureLimit: try CatalogWire.nonNegative(request.failureLimit, "failureLimit")
            )
        }
    }
}

extension CatalogTransport {
    public func backlog(scrubTime: Double, failureLimit: Int) async throws -> BacklogSnapshot {
        try await send(CatalogOperations.Backlog.self, CatalogWire.Backlog(scrubTime: scrubTime, failureLimit: failureLimit))
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/status(scrubTime:failureLimit:)``.
    public enum Status: CatalogOperation {
        public static let name = "status"
        public static let isWrite = false
        public typealias Request = CatalogWire.Backlog
        public typealias Answer = ClusterStatus

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.status(
                scrubTime: try CatalogWire.nonNegative(request.scrubTime, "scrubTime"),
                failureLimit: try CatalogWire.nonNegative(request.failureLimit, "failureLimit")
            )
        }
    }
}

extension CatalogTransport {
    public func status(scrubTime: Double, failureLimit: Int) async throws -> ClusterStatus {
        try await send(CatalogOperations.Status.self, CatalogWire.Backlog(scrubTime: scrubTime, failureLimit: failureLimit))
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/elections(withinLast:limit:)``.
    public enum Elections: CatalogOperation {
        public static let name = "elections"
        public static let isWrite = false
        public typealias Answer = [Election]

        public struct Request: Codable, Sendable {
            public var withinLast: Double
            public var limit: Int
        }

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            try await catalog.elections(
                withinLast: try CatalogWire.nonNegative(request.withinLast, "withinLast"),
                limit: try CatalogWire.nonNegative(request.limit, "limit")
            )
        }
    }
}

extension CatalogTransport {
    public func elections(withinLast seconds: Double, limit: Int) async throws -> [Election] {
        try await send(CatalogOperations.Elections.self, .init(withinLast: seconds, limit: limit))
    }
}

extension CatalogOperations {
    /// ``ScrubCatalog/control(_:)``.
    public enum Control: CatalogOperation {
        public static let name = "control"
        public typealias Request = ControlRequest
        public typealias Answer = ControlAnswer

        public static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer {
            if [.drain, .undrain].contains(request.action), (request.nodeID ?? "").isEmpty { throw CatalogWire.missing("nodeID") }
            return try await catalog.control(request)
        }
    }
}

extension CatalogTransport {
    public func control(_ request: ControlRequest) async throws -> ControlAnswer {
        try await send(CatalogOperations.Control.self, request)
    }
}
