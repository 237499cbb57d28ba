/// Parameters of ``ScrubCatalog/claim(_:)``.
public struct ClaimRequest: Sendable, Hashable, Codable {
    public var nodeID: String
    public var incarnation: String
    public var limit: Int
    /// One-shot runs: an image whose last claim is older than this store time may be claimed
    /// even inside its backoff, so a `--once` run tries every eligible image once.
    public var retryClaimedBefore: Double?
    /// Makes a retried claim idempotent: when this node already holds claims made by a request
    /// with this token (the first try committed, its answer was lost), they are returned again
    /// and nothing new is claimed. The lease service's client sets it to the request's id. It is
    /// not the claims' own token (``ClaimedImage/claimToken``), which the store makes fresh.
    public var token: String?

    public init(_ node: NodeIdentity, limit: Int, retryClaimedBefore: Double? = nil, token: String? = nil) {
        self.nodeID = node.nodeID
        self.incarnation = node.incarnation
        self.limit = limit
        self.retryClaimedBefore = retryClaimedBefore
        self.token = token
    }

    public var node: NodeIdentity { NodeIdentity(nodeID: nodeID, incarnation: incarnation) }
}
