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
    /// The incarnation this process already holds, when it rejoins: kept if the store still
    /// has it (even live), so the process's identity survives its own rejoins. Nil on a first join.
    public var incarnation: String?

    public init(
        nodeID: String,
        host: String,
        pid: Int,
        version: String,
        capacity: Int,
        leaderEligible: Bool,
        leaderPriority: Int = 0,
        incarnation: String? = nil
    ) {
        self.nodeID = nodeID
        self.host = host
        self.pid = pid
        self.version = version
        self.capacity = capacity
        self.leaderEligible = leaderEligible
        self.leaderPriority = leaderPriority
        self.incarnation = incarnation
    }

    enum CodingKeys: String, CodingKey {
        case nodeID, host, pid, version, capacity, leaderEligible, leaderPriority, incarnation
    }

    /// A node of an earlier version sends no priority: 0, as every node had.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            nodeID: try c.decode(String.self, forKey: .nodeID),
            host: try c.decode(String.self, forKey: .host),
            pid: try c.decode(Int.self, forKey: .pid),
            version: try c.decode(String.self, forKey: .version),
            capacity: try c.decode(Int.self, forKey: .capacity),
            leaderEligible: try c.decode(Bool.self, forKey: .leaderEligible),
            leaderPriority: try c.decodeIfPresent(Int.self, forKey: .leaderPriority) ?? 0,
            incarnation: try c.decodeIfPresent(String.self, forKey: .incarnation)
        )
    }
}
