/// One leader election from the audit (``ScrubCatalog/elections(withinLast:limit:)``).
public struct Election: Sendable, Hashable, Codable {
    /// When, by the store clock (seconds since 1970).
    public var at: Double
    /// How long ago, by the store clock when it was read.
    public var ageSeconds: Double
    public var nodeID: String?
    public var term: Int64
    /// What the winner recorded (its lease TTL).
    public var detail: String?

    public init(at: Double, ageSeconds: Double, nodeID: String?, term: Int64, detail: String?) {
        self.at = at
        self.ageSeconds = ageSeconds
        self.nodeID = nodeID
        self.term = term
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case at
        case ageSeconds = "age_seconds"
        case nodeID = "node_id"
        case term, detail
    }
}
