import ScrubberCore

extension SQLCatalog {
    public func join(_ node: NodeRegistration, ttl: Double) async throws -> JoinAnswer {
        let q = queries
        return try await write { c in
            let row = try await Self.member(node.nodeID, c, q.memberIdentityForUpdate)
            let incarnation = MemberRow.incarnation(joining: node.incarnation, row: row)
            let joined = try await c.execute(
                q.join,
                [
                    node.nodeID, incarnation, node.host, node.pid, node.version, node.capacity, node.leaderEligible, node.leaderPriority,
                    ttl, node.incarnation,
                ]
            )
            guard joined == 1 else {
                // Another join of a new id won the race since the read: read what it left.
                let now = try await Self.member(node.nodeID, c, q.memberIdentity) ?? row
                throw (now ?? MemberRow(incarnation: nil, host: "?", pid: 0, expiresIn: ttl, state: "active")).joinRefusal(node.nodeID)
            }
            // The id's previous incarnation (or this one's before its membership lapsed) is
            // gone: its claims are stale, and their outcomes will be lost.
            try await c.execute(q.resetOwnClaims, [node.nodeID])
            if incarnation != node.incarnation { try await c.execute(q.forgetStepDown, [node.nodeID]) }
            return JoinAnswer(incarnation: incarnation, storeTime: try await c.scalar(q.storeNow) ?? 0)
        }
    }

    public func heartbeat(_ node: NodeIdentity, ttl: Double) async throws -> Bool {
        let q = queries
        return try await write { c in
            try await Self.checkIdentity(node, c, q, updating: true)
            return try await c.execute(q.heartbeat, [ttl, node.nodeID]) == 1
        }
    }

    public func leave(_ node: NodeIdentity) async throws {
        let q = queries
        try await write { c in
            try await Self.checkIdentity(node, c, q, updating: true)
            try await c.execute(q.handBackAll, [node.nodeID])
            try await c.execute(q.markLeft, [node.nodeID])
        }
    }

    public func windDown(_ node: NodeIdentity) async throws {
        let q = queries
        try await write { c in
            try await Self.checkIdentity(node, c, q, updating: true)
            try await c.execute(q.markDraining, [node.nodeID])
            try await c.execute(q.handBackAssigned, [node.nodeID])
        }
    }

    /// The membership row of `nodeID`, read (and, on PostgreSQL, locked) with `sql`
    /// (``CatalogQueries/memberIdentity`` or ``CatalogQueries/memberIdentityForUpdate``).
    static func member(_ nodeID: String, _ c: Connection, _ sql: String) async throws -> MemberRow? {
        guard let row = try await c.row(sql, [nodeID]) else { return nil }
        return MemberRow(incarnation: try row[0], host: try row[1], pid: try row[2], expiresIn: try row[3], state: try row[4])
    }

    /// Refuses a node-scoped operation of any incarnation but the membership's (DESIGN §3.3),
    /// and (PostgreSQL) share-locks the membership so no join replaces it before the operation
    /// commits; an operation that then writes the membership row (`updating`) locks it
    /// exclusively at once, since two that share-locked it and then both wrote it would deadlock.
    static func checkIdentity(_ node: NodeIdentity, _ c: Connection, _ q: CatalogQueries, updating: Bool = false) async throws {
        try MemberRow.check(try await member(node.nodeID, c, updating ? q.memberIdentityForUpdate : q.memberIdentity), node)
    }

    /// Writes audit rows, many per statement.
    static func insert(_ events: [AuditEvent], _ c: Connection, _ q: CatalogQueries) async throws {
        for chunk in events.chunks(of: CatalogQueries.rowsPerStatement(columns: 8)) {
            let rows: [[SQLValue]] = chunk.map { e in
                [
                    e.nodeID.sqlValue, .integer(e.term), e.imageID.sqlValue, e.locationID.sqlValue, e.store.sqlValue,
                    .text(e.action.rawValue), e.detail.sqlValue, e.failureClass?.rawValue.sqlValue ?? .null,
                ]
            }
            try await c.execute(q.insertEvents(chunk.count), q.rows(rows))
        }
    }
}
