import Foundation

/// Who a node is to the store: its id and the incarnation its last ``ScrubCatalog/join(_:ttl:)``
/// answered. Every node-scoped operation carries both.
public struct NodeIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    public var nodeID: String
    public var incarnation: String

    public init(nodeID: String, incarnation: String) {
        self.nodeID = nodeID
        self.incarnation = incarnation
    }

    public var description: String { nodeID }
}

/// What ``ScrubCatalog/join(_:ttl:)`` answers. On the wire: `{"value": storeTime, "incarnation": …}`
/// (`value` as older services answered a join).
public struct JoinAnswer: Sendable, Hashable, Codable {
    public var incarnation: String
    /// The store's clock at the join, in seconds since 1970.
    public var storeTime: Double

    public init(incarnation: String, storeTime: Double) {
        self.incarnation = incarnation
        self.storeTime = storeTime
    }

    enum CodingKeys: String, CodingKey {
        case incarnation
        case storeTime = "value"
    }
}

/// A node's membership as the store holds it (``CatalogQueries/memberIdentity``), and the rules
/// every backend applies to it: whose operations it accepts and whose join it refuses.
public struct MemberRow: Sendable, Hashable {
    /// Nil for a row an older version joined.
    public var incarnation: String?
    public var host: String
    public var pid: Int
    /// Seconds until the membership expires by the store clock (≤ 0: expired).
    public var expiresIn: Double
    public var state: String

    public init(incarnation: String?, host: String, pid: Int, expiresIn: Double, state: String) {
        self.incarnation = incarnation
        self.host = host
        self.pid = pid
        self.expiresIn = expiresIn
        self.state = state
    }

    public var isLive: Bool { state != "left" && expiresIn > 0 }

    /// Lets a node-scoped operation through only for the incarnation the membership holds. A
    /// node with no membership row gets through: the operation itself finds nothing it holds.
    /// - Throws: ``CatalogError/wrongIncarnation(_:)``.
    public static func check(_ row: MemberRow?, _ node: NodeIdentity) throws {
        guard let row, row.incarnation != node.incarnation else { return }
        throw CatalogError.wrongIncarnation(
            "node \(node.nodeID) is a member under another incarnation (joined from \(row.host), pid \(row.pid)): another process runs under this node id, or joined it after this one's membership lapsed; this process acts for it no more (give every node its own node_id)"
        )
    }

    /// Lets a claim through only for the membership's incarnation (``check(_:_:)``) while that
    /// membership is unexpired (store clock) and active or draining: one read of the row for both.
    /// - Returns: whether it may claim anything new: a draining member (leaving, or drained by
    ///   an operator) keeps its membership and its claims but claims nothing more.
    /// - Throws: ``CatalogError/wrongIncarnation(_:)``, ``CatalogError/membershipExpired(_:)``.
    public static func checkClaimant(_ row: MemberRow?, _ node: NodeIdentity) throws -> Bool {
        try check(row, node)
        guard let row, row.state == "active" || row.state == "draining", row.expiresIn > 0 else {
            throw CatalogError.membershipExpired(node.nodeID)
        }
        return row.state == "active"
    }

    /// The incarnation a join answers: the presented one while the store still holds it, else a
    /// new random one.
    public static func incarnation(joining presented: String?, row: MemberRow?) -> String {
        if let presented, row?.incarnation == presented { return presented }
        return UUID().uuidString.lowercased()
    }

    /// Why a join of `nodeID` under another incarnation is refused while this membership lives.
    public func joinRefusal(_ nodeID: String) -> CatalogError {
        .nodeIDInUse(
            "node id \(nodeID) is in use by a live member (host \(host), pid \(pid); its membership expires in \(String(format: "%.1f", max(0, expiresIn))) s unless renewed): two processes cannot share a node id; give this one its own --node-id ([cluster] node_id), or stop the other"
        )
    }
}
