/// The lease service's wire format (`scrubber serve`): the ``ScrubCatalog`` protocol over
/// HTTP/JSON, shared by the server and its client so the two cannot drift apart.
///
/// - Every operation is declared once (``CatalogOperation``, listed in ``operations``): it is
///   `POST /v1/<name>` with a JSON body (its ``CatalogOperation/Request``) and a JSON answer
///   (its ``CatalogOperation/Answer``), authorised by `Authorization: Bearer <token>`.
/// - `GET /healthz` needs no token and touches nothing.
/// - A write carries ``requestIDHeader``; the server answers a retry of it (same id) with the
///   first answer instead of applying it twice, and a claim also passes the id down as its
///   ``ClaimRequest/token``, so even a retry that reaches a restarted server claims nothing new.
/// - Every node-scoped request names the node twice over: `nodeID` and the `incarnation` its
///   `join` answered, both top-level fields of the body. A request without `incarnation` (an
///   older node) is malformed: 400.
/// - Errors: 400 malformed or out of range, 401 no or wrong token, 404 no such operation,
///   413 body too large, 409 a refusal the caller must see (``CatalogError/membershipExpired(_:)``,
///   `node_id_in_use`, `wrong_incarnation`, ``RestoreRefusal``), 503 the store is unavailable
///   (retry), 500 anything else; the body is an ``ErrorBody``.
public enum CatalogWire {
    public static let requestIDHeader = "Scrubber-Request-Id"
    /// Largest request body the server reads by default.
    public static let defaultMaxBodyBytes = 16 << 20
    /// The longest membership or lease a request may ask for: a TTL is a promise to come back
    /// within it, and an hour-long one would let one client block a lease for that long.
    public static let maxTTL = 3600.0

    // MARK: Request bodies (operations whose parameter is one model value send it as is)

    public struct Join: Codable, Sendable {
        public var node: NodeRegistration
        public var ttl: Double
        public init(node: NodeRegistration, ttl: Double) {
            self.node = node
            self.ttl = ttl
        }
    }

    /// `heartbeat`, `campaign`: a node and a TTL.
    public struct NodeTTL: Codable, Sendable {
        public var nodeID: String
        public var incarnation: String
        public var ttl: Double
        public init(_ node: NodeIdentity, ttl: Double) { (nodeID, incarnation, self.ttl) = (node.nodeID, node.incarnation, ttl) }
        public var node: NodeIdentity { NodeIdentity(nodeID: nodeID, incarnation: incarnation) }
    }

    /// `leave`, `drain`.
    public struct Node: Codable, Sendable {
        public var nodeID: String
        public var incarnation: String
        public init(_ node: NodeIdentity) { (nodeID, incarnation) = (node.nodeID, node.incarnation) }
        public var node: NodeIdentity { NodeIdentity(nodeID: nodeID, incarnation: incarnation) }
    }

    /// `renew` (with a TTL), `resign` (without).
    public struct Term: Codable, Sendable {
        public var nodeID: String
        public var incarnation: String
        public var term: Int64
        public var ttl: Double?
        public init(_ node: NodeIdentity, term: Int64, ttl: Double? = nil) {
            (nodeID, incarnation, self.term, self.ttl) = (node.nodeID, node.incarnation, term, ttl)
        }
        public var node: NodeIdentity { NodeIdentity(nodeID: nodeID, incarnation: incarnation) }
    }

    public struct LeaderViewRequest: Codable, Sendable {
        public var scrubTime: Double
        public var limit: Int
        /// A full scan's position, as every version sends it (a service of an earlier version
        /// reads only this, and sweeps in full).
        public var after: String?
        /// The scan (absent from a node of an earlier version: a full scan after ``after``).
        public var scan: CandidateScan?
        public init(scrubTime: Double, limit: Int, scan: CandidateScan) {
            self.scrubTime = scrubTime
            self.limit = limit
            self.scan = scan
            if case .full(let after) = scan { self.after = after }
        }
        public var candidateScan: CandidateScan { scan ?? .full(after: after) }
    }

    public struct Complete: Codable, Sendable {
        public var outcomes: [ScrubOutcome]
        public var nodeID: String
        public var incarnation: String
        public var backoff: Backoff
        public init(outcomes: [ScrubOutcome], node: NodeIdentity, backoff: Backoff) {
            self.outcomes = outcomes
            (nodeID, incarnation) = (node.nodeID, node.incarnation)
            self.backoff = backoff
        }
        public var node: NodeIdentity { NodeIdentity(nodeID: nodeID, incarnation: incarnation) }
    }

    public struct Release: Codable, Sendable {
        public var claims: [ClaimID]
        public var nodeID: String
        public var incarnation: String
        public init(claims: [ClaimID], node: NodeIdentity) { (self.claims, nodeID, incarnation) = (claims, node.nodeID, node.incarnation) }
        public var node: NodeIdentity { NodeIdentity(nodeID: nodeID, incarnation: incarnation) }
    }

    public struct Image: Codable, Sendable {
        public var imageID: String
        public init(imageID: String) { self.imageID = imageID }
    }

    /// `backlog`, `status`.
    public struct Backlog: Codable, Sendable {
        public var scrubTime: Double
        public var failureLimit: Int
        public init(scrubTime: Double, failureLimit: Int) {
            self.scrubTime = scrubTime
            self.failureLimit = failureLimit
        }
    }

    public struct RemainingWork: Codable, Sendable {
        public var scrubTime: Double
        public var nodeID: String
        public var incarnation: String
        public var runStartedAt: Double
        public init(scrubTime: Double, node: NodeIdentity, runStartedAt: Double) {
            self.scrubTime = scrubTime
            (nodeID, incarnation) = (node.nodeID, node.incarnation)
            self.runStartedAt = runStartedAt
        }
        public var node: NodeIdentity { NodeIdentity(nodeID: nodeID, incarnation: incarnation) }
    }

    // MARK: Answers

    /// A scalar answer (`join`'s store time, `renew`'s and `apply`'s verdicts, counts).
    public struct Value<T: Codable & Sendable>: Codable, Sendable {
        public var value: T
        public init(_ value: T) { self.value = value }
    }

    /// An answer with nothing to say.
    public struct Empty: Codable, Sendable {
        public init() {}
    }
}
