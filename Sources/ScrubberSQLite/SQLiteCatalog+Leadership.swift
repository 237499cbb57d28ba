import GRDB
import ScrubberCore

extension SQLiteCatalog {
    public func campaign(_ node: NodeIdentity, ttl: Double) async throws -> LeaderLease {
        let q = queries
        let nodeID = node.nodeID
        return try await write { db in
            try Self.checkIdentity(node, db, q)
            try db.cachedStatement(sql: q.takeLease).execute(arguments: [nodeID, node.incarnation, ttl, nodeID, nodeID, node.incarnation, ttl])
            let won = db.changesCount == 1
            let lease = try Self.lease(db, q)
            if won {
                try db.cachedStatement(sql: q.insertEvent).execute(arguments: [
                    nodeID, lease.term, nil, nil, nil, ScrubAction.elected.rawValue, "lease_ttl \(ttl) s",
                ])
            }
            return lease
        }
    }

    public func renewLeadership(_ node: NodeIdentity, term: Int64, ttl: Double) async throws -> Bool {
        let q = queries
        return try await write { db in
            try Self.checkIdentity(node, db, q)
            try db.cachedStatement(sql: q.renewLease).execute(arguments: [ttl, node.nodeID, node.incarnation, term])
            return db.changesCount == 1
        }
    }

    public func resign(_ node: NodeIdentity, term: Int64) async throws {
        let q = queries
        try await write { db in
            try Self.checkIdentity(node, db, q)
            try db.cachedStatement(sql: q.resignLease).execute(arguments: [node.nodeID, node.incarnation, term])
            if db.changesCount == 1 {
                try db.cachedStatement(sql: q.insertEvent).execute(arguments: [
                    node.nodeID, term, nil, nil, nil, ScrubAction.resigned.rawValue, nil,
                ])
            }
        }
    }

    static func lease(_ db: Database, _ q: CatalogQueries) throws -> LeaderLease {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: q.leaderLease)) else {
            return LeaderLease(holder: nil, term: 0, remaining: 0)
        }
        return LeaderLease(holder: row[0], term: row[1], remaining: row[2])
    }

    public func leaderView(scrubTime: Double, limit: Int, scan: CandidateScan) async throws -> LeaderView {
        let q = queries
        // The scan key is the rowid.
        func rowid(_ text: String) throws -> Int64 {
            guard let rowid = Int64(text) else { throw CatalogError.rejected("scan position \(text) is not a rowid of this SQLite catalog") }
            return rowid
        }
        let position = try scan.after.map { try ScanPosition(parsing: $0, recent: scan.isRecent) }
        let start = try position.map { try rowid($0.key) } ?? .min
        return try await read { db in
            let nodes = try Row.fetchAll(db.cachedStatement(sql: q.leaderNodes)).map { row in
                LeaderView.Node(id: row[0], capacity: row[1], draining: (row[2] as String) == "draining", alive: row[3], queued: row[4])
            }
            let orphans = try Row.fetchAll(db.cachedStatement(sql: q.orphans), arguments: [Self.orphanPage]).map { row in
                LeaderView.Orphan(imageID: row[0], node: row[1], scrubbing: (row[2] as String) == "scrubbing")
            }
            let storeNow = try Double.fetchOne(db.cachedStatement(sql: q.storeNow)) ?? 0
            let sweep = try Row.fetchOne(db.cachedStatement(sql: q.sweepState)).map { row in
                SweepState(mark: row[0], fullStartedAt: row[1], fullPosition: row[2], fullCompletedAt: row[3])
            } ?? SweepState()
            var unassigned: [String] = []
            var next: String?
            if limit > 0 {
                switch scan {
                case .full:
                    var last: Int64?
                    let rows = try Row.fetchCursor(db.cachedStatement(sql: q.eligibleUnassigned), arguments: [scrubTime, start, limit])
                    while let row = try rows.next() {
                        last = row[0]
                        unassigned.append(row[1])
                    }
                    next = unassigned.count == limit ? last.map(String.init) : nil
                case .recent(let since, _):
                    let ranges = try ScanPosition.recentRanges(since: since, now: storeNow, scrubTime: scrubTime)
                    let time = position?.time ?? ranges[0].after
                    let pages = try ranges.map { range in
                        try Row.fetchAll(db.cachedStatement(sql: q.recentUnassigned),
                                         arguments: [range.after, range.upTo, time, time, start, scrubTime, limit]).map { row in
                            (position: ScanPosition(time: row[0], key: String(row[1] as Int64)), id: row[2] as String)
                        }
                    }
                    (unassigned, next) = ScanPosition.joinRecent(pages, limit: limit)
                }
            }
            return LeaderView(nodes: nodes, orphans: orphans, unassigned: unassigned, next: next,
                              scannedTo: ScanPosition.stamp(storeNow), storeNow: storeNow, sweep: sweep,
                              paused: try Self.pauseState(db, q) != nil)
        }
    }

    /// Orphans returned per leader view, whatever `limit` asks of unassigned images.
    static let orphanPage = 1024

    public func apply(_ plan: LeaderPlan) async throws -> Bool {
        guard !plan.isEmpty else { return true }
        let q = queries
        return try await write { db in
            guard try Row.fetchOne(db.cachedStatement(sql: q.fence), arguments: [plan.leader, plan.incarnation, plan.term]) != nil else {
                return false
            }
            if let sweep = plan.sweep {
                try db.cachedStatement(sql: q.recordSweep).execute(arguments: [
                    sweep.mark, sweep.fullStartedAt, sweep.fullPosition, sweep.fullCompletedAt,
                ])
            }
            if !plan.assignments.isEmpty {
                var rows = JSONList(capacity: plan.assignments.count * 64)
                for (image, node) in plan.assignments {
                    rows.appendRow { row in
                        row.append(image)
                        row.append(node)
                    }
                }
                try db.cachedStatement(sql: q.insertAssignments(plan.assignments.count)).execute(arguments: [plan.term, rows.text])
            }
            let move = try db.cachedStatement(sql: q.moveAssignment)
            let event = try db.cachedStatement(sql: q.insertEvent)
            for m in plan.moves {
                try move.execute(arguments: [m.to, plan.term, m.imageID, m.from])
                if db.changesCount == 1 {
                    try event.execute(arguments: [
                        plan.leader, plan.term, m.imageID, nil, nil, ScrubAction.reassigned.rawValue,
                        "\(m.from.map { "from \($0)" } ?? "unheld") to \(m.to)",
                    ])
                }
            }
            for r in plan.rebalances {
                try db.cachedStatement(sql: q.rebalance).execute(arguments: [r.to, plan.term, r.from, r.count])
                let moved = db.changesCount
                if moved > 0 {
                    try event.execute(arguments: [
                        plan.leader, plan.term, nil, nil, nil, ScrubAction.reassigned.rawValue,
                        "rebalanced \(moved) unclaimed images from \(r.from) to idle \(r.to)",
                    ])
                }
            }
            return true
        }
    }

    public func status(scrubTime: Double, failureLimit: Int) async throws -> ClusterStatus {
        let q = queries
        let backlog = try await backlog(scrubTime: scrubTime, failureLimit: failureLimit)
        return try await read { db in
            let assignments = try Row.fetchAll(db.cachedStatement(sql: q.assignmentCounts)).map { row in
                (node: row[0] as String?, state: row[1] as String, count: row[2] as Int)
            }
            let nodes = try Row.fetchAll(db.cachedStatement(sql: q.statusNodes)).map { row in
                ClusterStatus.NodeRow(nodeID: row[0], host: row[1], pid: row[2], state: row[3], heartbeatAgeSeconds: row[4],
                                      alive: row[5], capacity: row[6], done: row[7], failed: row[8], leaderEligible: row[9],
                                      uptimeSeconds: row[10], drainedBy: row[11])
            }
            let minutes = try Row.fetchAll(db.cachedStatement(sql: q.history)).map { row in
                (ago: row[0] as Int, images: row[1] as Int, bytes: row[2] as Int64)
            }
            let changes = try Int.fetchOne(db.cachedStatement(sql: q.leaderChanges)) ?? 0
            return ClusterStatus(lease: try Self.lease(db, q), nodes: nodes, assignments: assignments, backlog: backlog,
                                 paused: try Self.pauseState(db, q), history: .init(rows: minutes, leaderChanges: changes))
        }
    }

    static func pauseState(_ db: Database, _ q: CatalogQueries) throws -> PauseState? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: q.pauseState)), let since = row[0] as Double? else { return nil }
        return PauseState(since: since, by: Operator(host: row[1] ?? "", user: row[2] ?? ""))
    }

    public func control(_ request: ControlRequest) async throws -> ControlAnswer {
        let q = queries
        return try await write { db in
            let lease = try Self.lease(db, q)
            var control = ControlStep(request, lease: lease, paused: try Self.pauseState(db, q), queries: q)
            while let statement = control.next() {
                try db.cachedStatement(sql: statement.sql).execute(arguments: StatementArguments(statement.arguments))
                control.ran(changes: db.changesCount)
            }
            let answer = control.answer(paused: try Self.pauseState(db, q))
            try Self.insert(control.events, db, q)
            return answer
        }
    }
}
