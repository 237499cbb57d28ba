import ScrubberCore

extension SQLCatalog {
    public func leaderView(scrubTime: Double, limit: Int, scan: CandidateScan) async throws -> LeaderView {
        let q = queries
        let position = try scan.after.map { try ScanPosition(parsing: $0, recent: scan.isRecent) }
        let start = try q.scanStart(position?.key)
        return try await read { c in
            let nodes = try await c.rows(q.leaderNodes).map { row in
                LeaderView.Node(
                    id: try row[0],
                    capacity: try row[1],
                    draining: try row[2] as String == "draining",
                    alive: try row[3],
                    queued: try row[4]
                )
            }
            let orphans = try await c.rows(q.orphans, [Self.orphanPage]).map { row in
                LeaderView.Orphan(imageID: try row[0], node: try row[1], scrubbing: try row[2] as String == "scrubbing")
            }
            let storeNow: Double = try await c.scalar(q.storeNow) ?? 0
            let sweep =
                try await c.row(q.sweepState).map { row in
                    SweepState(mark: try row[0], fullStartedAt: try row[1], fullPosition: try row[2], fullCompletedAt: try row[3])
                } ?? SweepState()
            var unassigned: [String] = []
            var next: String?
            if limit > 0 {
                switch scan {
                case .full:
                    var last: String?
                    for row in try await c.rows(q.eligibleUnassigned, [scrubTime, start, limit]) {
                        last = try row[0]
                        unassigned.append(try row[1])
                    }
                    next = unassigned.count == limit ? last : nil
                case .recent(let since, _):
                    let ranges = try ScanPosition.recentRanges(since: since, now: storeNow, scrubTime: scrubTime)
                    let time = position?.time ?? ranges[0].after
                    var pages: [[(position: ScanPosition, id: String)]] = []
                    for range in ranges {
                        let rows = try await c.rows(q.recentUnassigned, [range.after, range.upTo, time, time, start, scrubTime, limit])
                        pages.append(try rows.map { row in (position: ScanPosition(time: try row[0], key: try row[1]), id: try row[2]) })
                    }
                    (unassigned, next) = ScanPosition.joinRecent(pages, limit: limit)
                }
            }
            return LeaderView(
                nodes: nodes,
                orphans: orphans,
                unassigned: unassigned,
                next: next,
                scannedTo: ScanPosition.stamp(storeNow),
                storeNow: storeNow,
                sweep: sweep,
                paused: try await Self.pauseState(c, q) != nil
            )
        }
    }

    /// Orphans returned per leader view, whatever `limit` asks of unassigned images.
    static var orphanPage: Int { 1024 }

    public func apply(_ plan: LeaderPlan) async throws -> Bool {
        guard !plan.isEmpty else { return true }
        let q = queries
        return try await write { c in
            // Share-locks the lease row (PostgreSQL): no campaign can take it before this round commits.
            guard try await c.row(q.fence, [plan.leader, plan.incarnation, plan.term]) != nil else { return false }
            if let sweep = plan.sweep {
                try await c.execute(q.recordSweep, [sweep.mark, sweep.fullStartedAt, sweep.fullPosition, sweep.fullCompletedAt])
            }
            for chunk in plan.assignments.chunks(of: CatalogQueries.rowsPerStatement(columns: 3)) {
                try await c.execute(
                    q.insertAssignments(chunk.count),
                    q.insertAssignmentsArguments(chunk.map { ($0.0, $0.1) }, term: plan.term)
                )
            }
            var events: [AuditEvent] = []
            for m in plan.moves where try await c.execute(q.moveAssignment, [m.to, plan.term, m.imageID, m.from]) == 1 {
                events.append(
                    AuditEvent(
                        nodeID: plan.leader,
                        term: plan.term,
                        imageID: m.imageID,
                        action: .reassigned,
                        detail: "\(m.from.map { "from \($0)" } ?? "unheld") to \(m.to)"
                    )
                )
            }
            for r in plan.rebalances {
                let moved = try await c.execute(q.rebalance, [r.to, plan.term, r.from, r.count])
                if moved > 0 {
                    events.append(
                        AuditEvent(
                            nodeID: plan.leader,
                            term: plan.term,
                            imageID: nil,
                            action: .reassigned,
                            detail: "rebalanced \(moved) unclaimed images from \(r.from) to idle \(r.to)"
                        )
                    )
                }
            }
            try await Self.insert(events, c, q)
            return true
        }
    }
}
