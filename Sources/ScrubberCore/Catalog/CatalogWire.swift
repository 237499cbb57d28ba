/// The lease service's wire format (`scrubber serve`): the ``ScrubCatalog`` protocol over
/// HTTP/JSON, shared by the server and its client so the two cannot drift apart.
///
/// - Every operation is `POST /v1/<operation>` with a JSON body (its parameters) and a JSON
///   answer, authorised by `Authorization: Bearer <token>`.
/// - `GET /healthz` needs no token and touches nothing.
/// - A write carries ``requestIDHeader``; the server answers a retry of it (same id) with the
///   first answer instead of applying it twice, and a claim also passes the id down as its
///   ``ClaimRequest/token``, so even a retry that reaches a restarted server claims nothing new.
/// - Errors: 400 malformed or out of range, 401 no or wrong token, 404 no such operation,
///   413 body too large, 409 a refusal the
///   caller must see (``CatalogError/membershipExpired(_:)``, ``RestoreRefusal``), 503 the
///   store is unavailable (retry), 500 anything else; the body is an ``ErrorBody``.
public enum CatalogWire {
    public static let requestIDHeader = "Scrubber-Request-Id"
    /// Largest request body the server reads by default.
    public static let defaultMaxBodyBytes = 16 << 20

    public enum Operation: String, CaseIterable, Sendable {
        case ping
        case upgrade, join, heartbeat, leave, drain
        case campaign, renew, resign
        case leaderView = "leader-view", apply
        case claim, complete, release
        case restorePlan = "restore-plan", commitRestore = "commit-restore"
        case backlog, remainingWork = "remaining-work", status

        public var path: String { "/v1/" + rawValue }

        /// Whether a retry must be answered from the first attempt rather than applied again.
        public var isWrite: Bool {
            switch self {
            case .ping, .leaderView, .restorePlan, .backlog, .remainingWork, .status: false
            default: true
            }
        }
    }

    // MARK: Request bodies (operations whose parameter is one model value send it as is)

    public struct Join: Codable, Sendable {
        public var node: NodeRegistration
        public var ttl: Double
        public init(node: NodeRegistration, ttl: Double) { self.node = node; self.ttl = ttl }
    }

    /// `heartbeat`, `campaign`: a node and a TTL.
    public struct NodeTTL: Codable, Sendable {
        public var nodeID: String
        public var ttl: Double
        public init(nodeID: String, ttl: Double) { self.nodeID = nodeID; self.ttl = ttl }
    }

    /// `leave`, `drain`.
    public struct Node: Codable, Sendable {
        public var nodeID: String
        public init(nodeID: String) { self.nodeID = nodeID }
    }

    /// `renew` (with a TTL), `resign` (without).
    public struct Term: Codable, Sendable {
        public var nodeID: String
        public var term: Int64
        public var ttl: Double?
        public init(nodeID: String, term: Int64, ttl: Double? = nil) { self.nodeID = nodeID; self.term = term; self.ttl = ttl }
    }

    public struct LeaderViewRequest: Codable, Sendable {
        public var scrubTime: Double
        public var limit: Int
        public var after: String?
        public init(scrubTime: Double, limit: Int, after: String?) { self.scrubTime = scrubTime; self.limit = limit; self.after = after }
    }

    public struct Complete: Codable, Sendable {
        public var outcomes: [ScrubOutcome]
        public var nodeID: String
        public var backoff: Backoff
        public init(outcomes: [ScrubOutcome], nodeID: String, backoff: Backoff) {
            self.outcomes = outcomes
            self.nodeID = nodeID
            self.backoff = backoff
        }
    }

    public struct Release: Codable, Sendable {
        public var imageIDs: [String]
        public var nodeID: String
        public init(imageIDs: [String], nodeID: String) { self.imageIDs = imageIDs; self.nodeID = nodeID }
    }

    public struct Image: Codable, Sendable {
        public var imageID: String
        public init(imageID: String) { self.imageID = imageID }
    }

    /// `backlog`, `status`.
    public struct Backlog: Codable, Sendable {
        public var scrubTime: Double
        public var failureLimit: Int
        public init(scrubTime: Double, failureLimit: Int) { self.scrubTime = scrubTime; self.failureLimit = failureLimit }
    }

    public struct RemainingWork: Codable, Sendable {
        public var scrubTime: Double
        public var nodeID: String
        public var runStartedAt: Double
        public init(scrubTime: Double, nodeID: String, runStartedAt: Double) {
            self.scrubTime = scrubTime
            self.nodeID = nodeID
            self.runStartedAt = runStartedAt
        }
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

    /// Every non-2xx answer.
    public struct ErrorBody: Codable, Sendable {
        public enum Kind: String, Codable, Sendable {
            case badRequest = "bad_request", unauthorized, tooLarge = "too_large", notFound = "not_found"
            case catalog, restoreRefused = "restore_refused", serverError = "internal"
        }

        public var kind: Kind
        public var message: String
        /// For ``Kind/catalog``: the error to rethrow on the client.
        public var catalogError: CatalogError?
        /// For ``Kind/restoreRefused``.
        public var refusal: RestoreRefusal?

        public init(kind: Kind, message: String, catalogError: CatalogError? = nil, refusal: RestoreRefusal? = nil) {
            self.kind = kind
            self.message = message
            self.catalogError = catalogError
            self.refusal = refusal
        }
    }
}
