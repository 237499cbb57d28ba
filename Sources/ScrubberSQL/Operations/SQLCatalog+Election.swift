import ScrubberCore

extension SQLCatalog {
    public func campaign(_ node: NodeIdentity, ttl: Double) async throws -> LeaderLease {
        let q = queries
        let nodeID = node.nodeID
        return try await write { c in
            try await Self.checkIdentity(node, c, q)
            let won = try await c.execute(q.takeLease, [nodeID, node.incarnation, ttl, nodeID, nodeID, node.incarnation, ttl]) == 1
            let lease = try await Self.lease(c, q)
            if won {
                try await Self.insert(
                    [AuditEvent(nodeID: nodeID, term: lease.term, imageID: nil, action: .elected, detail: "lease_ttl \(ttl) s")],
                    c,
                    q
                )
            }
            return lease
        }
    }

    public func renewLeadership(_ node: NodeIdentity, term: Int64, ttl: Double) async throws -> Bool {
        let q = queries
        return try await write { c in
            try await Self.checkIdentity(node, c, q)
            return try await c.execute(q.renewLease, [ttl, node.nodeID, node.incarnation, term]) == 1
        }
    }

    public func resign(_ node: NodeIdentity, term: Int64) async throws {
        let q = queries
        try await write { c in
            try await Self.checkIdentity(node, c, q)
            if try await c.execute(q.resignLease, [node.nodeID, node.incarnation, term]) == 1 {
                try await Self.insert([AuditEvent(nodeID: node.nodeID, term: term, imageID: nil, action: .resigned)], c, q)
            }
        }
    }

    public func elections(withinLast seconds: Double, limit: Int) async throws -> [Election] {
        let q = queries
        return try await read { c in
            try await c.rows(q.elections, [seconds, limit]).map { row in
                Election(at: try row[0], ageSeconds: try row[1], nodeID: try row[2], term: try row[3], detail: try row[4])
            }
        }
    }

    static func lease(_ c: Connection, _ q: CatalogQueries) async throws -> LeaderLease {
        guard let row = try await c.row(q.leaderLease) else { return LeaderLease(holder: nil, term: 0, remaining: 0) }
        return LeaderLease(holder: try row[0], term: try row[1], remaining: try row[2])
    }
}
