import PostgresNIO
import ScrubberCore

// The protocol's operations, statement for statement those of the SQLite catalog, on the
// same `CatalogQueries` shapes.

extension PostgresCatalog {
    // MARK: Schema

    public func upgrade() async throws {
        let endpoint = endpoint
        try await transaction { tx in
            try await tx.execute("SELECT pg_advisory_xact_lock($1)", [PostgresSchema.upgradeLock])
            try await tx.execute("CREATE TABLE IF NOT EXISTS scrub_migrations (name text PRIMARY KEY, applied_at double precision NOT NULL)")
            let tables = try await tx.rows("""
                SELECT to_regclass('images') IS NOT NULL, to_regclass('image_locations') IS NOT NULL
                """)[0].decode((Bool, Bool).self)
            switch tables {
            case (false, false):
                for statement in PostgresSchema.glanceTables { try await tx.execute(statement) }
            case (true, true):
                break
            default:
                throw CatalogError.unavailable("database \(endpoint) has only one of Glance's images/image_locations tables: it is not a Glance database")
            }
            let applied = Set(try await tx.rows("SELECT name FROM scrub_migrations").map { try $0.decode(String.self) })
            for migration in PostgresSchema.migrations where !applied.contains(migration.name) {
                for statement in migration.statements { try await tx.execute(statement) }
                try await tx.execute("INSERT INTO scrub_migrations (name, applied_at) VALUES ($1, \(SQLDialect.postgresql.now))",
                                     [migration.name])
            }
        }
    }

    // MARK: Membership

    public func join(_ node: NodeRegistration, ttl: Double) async throws -> JoinAnswer {
        let q = queries
        return try await transaction { tx in
            let row = try await Self.member(node.nodeID, tx, q.memberIdentityForUpdate)
            let incarnation = MemberRow.incarnation(joining: node.incarnation, row: row)
            let joined = try await tx.execute(q.join, [
                node.nodeID, incarnation, node.host, node.pid, node.version, node.capacity, node.leaderEligible, node.leaderPriority,
                ttl, node.incarnation,
            ])
            guard joined == 1 else {
                // Another join of a new id won the race since the read: read what it left.
                let now = try await Self.member(node.nodeID, tx, q.memberIdentity) ?? row
                throw (now ?? MemberRow(incarnation: nil, host: "?", pid: 0, expiresIn: ttl, state: "active")).joinRefusal(node.nodeID)
            }
            // The id's previous incarnation (or this one's before its membership lapsed) is
            // gone: its claims are stale, and their outcomes will be lost.
            try await tx.execute(q.resetOwnClaims, [node.nodeID])
            if incarnation != node.incarnation { try await tx.execute(q.forgetStepDown, [node.nodeID]) }
            return JoinAnswer(incarnation: incarnation, storeTime: try await tx.rows(q.storeNow)[0].decode(Double.self))
        }
    }

    /// The membership row of `nodeID`, read (and locked) with `sql`.
    static func member(_ nodeID: String, _ tx: SQLTransaction, _ sql: String) async throws -> MemberRow? {
        guard let row = try await tx.rows(sql, [nodeID]).first else { return nil }
        let (incarnation, host, pid, expiresIn, state) = try row.decode((String?, String, Int, Double, String).self)
        return MemberRow(incarnation: incarnation, host: host, pid: pid, expiresIn: expiresIn, state: state)
    }

    /// Refuses a node-scoped operation of any incarnation but the membership's (DESIGN §3.3),
    /// and share-locks the membership so no join replaces it before the operation commits; an
    /// operation that then writes the membership row (`updating`) locks it exclusively at once,
    /// since two that share-locked it and then both wrote it would deadlock.
    static func checkIdentity(_ node: NodeIdentity, _ tx: SQLTransaction, _ q: CatalogQueries, updating: Bool = false) async throws {
        try MemberRow.check(try await member(node.nodeID, tx, updating ? q.memberIdentityForUpdate : q.memberIdentity), node)
    }

    public func heartbeat(_ node: NodeIdentity, ttl: Double) async throws -> Bool {
        let q = queries
        return try await transaction { tx in
            try await Self.checkIdentity(node, tx, q, updating: true)
            return try await tx.execute(q.heartbeat, [ttl, node.nodeID]) == 1
        }
    }

    public func leave(_ node: NodeIdentity) async throws {
        let q = queries
        try await transaction { tx in
            try await Self.checkIdentity(node, tx, q, updating: true)
            try await tx.execute(q.handBackAll, [node.nodeID])
            try await tx.execute(q.markLeft, [node.nodeID])
        }
    }

    public func drain(_ node: NodeIdentity) async throws {
        let q = queries
        try await transaction { tx in
            try await Self.checkIdentity(node, tx, q, updating: true)
            try await tx.execute(q.markDraining, [node.nodeID])
            try await tx.execute(q.handBackAssigned, [node.nodeID])
        }
    }

    // MARK: Election

    public func campaign(_ node: NodeIdentity, ttl: Double) async throws -> LeaderLease {
        let q = queries
        let nodeID = node.nodeID
        return try await transaction { tx in
            try await Self.checkIdentity(node, tx, q)
            let won = try await tx.execute(q.takeLease, [nodeID, node.incarnation, ttl, nodeID, nodeID, node.incarnation, ttl]) == 1
            let lease = try await Self.lease(tx, q)
            if won {
                try await Self.insert([AuditEvent(nodeID: nodeID, term: lease.term, imageID: nil, action: .elected,
                                                  detail: "lease_ttl \(ttl) s")], tx, q)
            }
            return lease
        }
    }

    public func renewLeadership(_ node: NodeIdentity, term: Int64, ttl: Double) async throws -> Bool {
        let q = queries
        return try await transaction { tx in
            try await Self.checkIdentity(node, tx, q)
            return try await tx.execute(q.renewLease, [ttl, node.nodeID, node.incarnation, term]) == 1
        }
    }

    public func resign(_ node: NodeIdentity, term: Int64) async throws {
        let q = queries
        try await transaction { tx in
            try await Self.checkIdentity(node, tx, q)
            if try await tx.execute(q.resignLease, [node.nodeID, node.incarnation, term]) == 1 {
                try await Self.insert([AuditEvent(nodeID: node.nodeID, term: term, imageID: nil, action: .resigned)], tx, q)
            }
        }
    }

    static func lease(_ tx: SQLTransaction, _ q: CatalogQueries) async throws -> LeaderLease {
        guard let row = try await tx.rows(q.leaderLease).first else {
            return LeaderLease(holder: nil, term: 0, remaining: 0)
        }
        let (holder, term, remaining) = try row.decode((String?, Int64, Double).self)
        return LeaderLease(holder: holder, term: term, remaining: remaining)
    }

    // MARK: Leader

    public func leaderView(scrubTime: Double, limit: Int, scan: CandidateScan) async throws -> LeaderView {
        let q = queries
        let position = try scan.after.map { try ScanPosition(parsing: $0, recent: scan.isRecent) }
        return try await read { tx in
            let nodes = try await tx.rows(q.leaderNodes).map { row in
                let (id, capacity, state, alive, queued) = try row.decode((String, Int, String, Bool, Int).self)
                return LeaderView.Node(id: id, capacity: capacity, draining: state == "draining", alive: alive, queued: queued)
            }
            let orphans = try await tx.rows(q.orphans, [Self.orphanPage]).map { row in
                let (image, node, state) = try row.decode((String, String?, String).self)
                return LeaderView.Orphan(imageID: image, node: node, scrubbing: state == "scrubbing")
            }
            let storeNow = try await tx.rows(q.storeNow).first?.decode(Double.self) ?? 0
            let sweep = try await tx.rows(q.sweepState).first.map { row in
                let (mark, started, position, completed) = try row.decode((String?, Double?, String?, Double?).self)
                return SweepState(mark: mark, fullStartedAt: started, fullPosition: position, fullCompletedAt: completed)
            } ?? SweepState()
            // The scan key is the id: every id sorts after ''.
            var unassigned: [String] = []
            var next: String?
            if limit > 0 {
                switch scan {
                case .full:
                    var last: String?
                    for row in try await tx.rows(q.eligibleUnassigned, [scrubTime, position?.key ?? "", limit]) {
                        let (key, id) = try row.decode((String, String).self)
                        last = key
                        unassigned.append(id)
                    }
                    next = unassigned.count == limit ? last : nil
                case .recent(let since, _):
                    let ranges = try ScanPosition.recentRanges(since: since, now: storeNow, scrubTime: scrubTime)
                    let time = position?.time ?? ranges[0].after
                    var pages: [[(position: ScanPosition, id: String)]] = []
                    for range in ranges {
                        pages.append(try await tx.rows(q.recentUnassigned, [range.after, range.upTo, time, time, position?.key ?? "", scrubTime, limit])
                            .map { row in
                                let (updated, key, id) = try row.decode((String, String, String).self)
                                return (position: ScanPosition(time: updated, key: key), id: id)
                            })
                    }
                    (unassigned, next) = ScanPosition.joinRecent(pages, limit: limit)
                }
            }
            return LeaderView(nodes: nodes, orphans: orphans, unassigned: unassigned, next: next,
                              scannedTo: ScanPosition.stamp(storeNow), storeNow: storeNow, sweep: sweep,
                              paused: try await Self.pauseState(tx, q) != nil)
        }
    }

    /// Orphans returned per leader view, whatever `limit` asks of unassigned images.
    static let orphanPage = 1024

    public func apply(_ plan: LeaderPlan) async throws -> Bool {
        guard !plan.isEmpty else { return true }
        let q = queries
        return try await transaction { tx in
            // Share-locks the lease row: no campaign can take it before this round commits.
            guard try await !tx.rows(q.fence, [plan.leader, plan.incarnation, plan.term]).isEmpty else { return false }
            if let sweep = plan.sweep {
                try await tx.execute(q.recordSweep, [sweep.mark, sweep.fullStartedAt, sweep.fullPosition, sweep.fullCompletedAt])
            }
            for chunk in plan.assignments.chunks(of: CatalogQueries.rowsPerStatement(columns: 3)) {
                var values: [(any PostgresDynamicTypeEncodable)?] = []
                for (image, node) in chunk { values += [image, node, plan.term] }
                try await tx.execute(q.insertAssignments(chunk.count), values)
            }
            var events: [AuditEvent] = []
            for m in plan.moves where try await tx.execute(q.moveAssignment, [m.to, plan.term, m.imageID, m.from]) == 1 {
                events.append(AuditEvent(nodeID: plan.leader, term: plan.term, imageID: m.imageID, action: .reassigned,
                                         detail: "\(m.from.map { "from \($0)" } ?? "unheld") to \(m.to)"))
            }
            for r in plan.rebalances {
                let moved = try await tx.execute(q.rebalance, [r.to, plan.term, r.from, r.count])
                if moved > 0 {
                    events.append(AuditEvent(nodeID: plan.leader, term: plan.term, imageID: nil, action: .reassigned,
                                             detail: "rebalanced \(moved) unclaimed images from \(r.from) to idle \(r.to)"))
                }
            }
            try await Self.insert(events, tx, q)
            return true
        }
    }

    // MARK: Work

    public func claim(_ request: ClaimRequest) async throws -> [ClaimedImage] {
        let q = queries
        return try await transaction { tx in
            // A paused cluster claims nothing new. The gate first, waiting for a pause being
            // written: an operator's command locks the lease row and then a member's, so a claim
            // takes them in that order too (never the other way round: a deadlock).
            let paused = try await tx.rows(q.claimGate).first.map { try $0.decode(Double?.self) } ?? nil
            // Share-locked: the membership cannot change before the claim commits.
            let member = try MemberRow.checkClaimant(try await Self.member(request.nodeID, tx, q.memberIdentity), request.node)
            // A draining member claims nothing new either.
            let mayClaim = member && paused == nil
            // A retry of a claim that committed gets that claim back, and claims nothing more.
            var claimed: [(String, Int, Int64, String)] = []
            if let token = request.token {
                claimed = try await tx.rows(q.claimedUnderToken, [request.nodeID, token]).map {
                    try $0.decode((String, Int, Int64, String).self)
                }
            }
            if claimed.isEmpty, mayClaim {
                claimed = try await tx.rows(q.claim, [request.token, request.nodeID, request.retryClaimedBefore ?? 0, request.limit]).map {
                    try $0.decode((String, Int, Int64, String).self)
                }
                // Images restored meanwhile are never claimed, but would fill the node's window.
                if claimed.count < request.limit {
                    try await tx.execute(q.dropStaleAssignments, [request.nodeID])
                }
            }
            let locations = try await Self.pendingLocations(of: claimed.map(\.0), tx, q)
            return claimed.map { ClaimedImage(imageID: $0.0, claimToken: $0.3, attempts: $0.1, locations: locations[$0.0] ?? []) }
        }
    }

    static func pendingLocations(of images: [String], _ tx: SQLTransaction, _ q: CatalogQueries) async throws -> [String: [PendingLocation]] {
        var locations: [String: [PendingLocation]] = [:]
        for ids in images.chunks(of: CatalogQueries.maxListLength) {
            for row in try await tx.rows(q.pendingLocations(of: ids.count), ids.map { $0 }) {
                let (image, id, value, meta) = try row.decode((String, Int64, String, String?).self)
                locations[image, default: []].append(PendingLocation(id: id, value: value, metaData: meta))
            }
        }
        return locations
    }

    public func complete(_ outcomes: [ScrubOutcome], node: NodeIdentity, backoff: Backoff) async throws -> CompletionReport {
        guard !outcomes.isEmpty else { return CompletionReport() }
        let q = queries
        let nodeID = node.nodeID
        let batch = CompletionBatch(outcomes, nodeID: nodeID, backoff: backoff)
        let limit = CatalogQueries.maxListLength
        return try await transaction { tx in
            try await Self.checkIdentity(node, tx, q, updating: true)  // it adds to the node's counts
            var held: [String: CompletionBatch.HeldClaim] = [:]
            for ids in batch.imageIDs.chunks(of: limit) {
                for row in try await tx.rows(q.heldClaims(ids.count), [nodeID] + ids.map { $0 }) {
                    let (image, term, status, token) = try row.decode((String, Int64, String, String?).self)
                    held[image] = .init(term: term, imageStatus: status, claimToken: token)
                }
            }
            var changedLocations = Set<Int64>()
            for locations in batch.goneLocations.chunks(of: CatalogQueries.rowsPerStatement(columns: 2)) {
                var values: [(any PostgresDynamicTypeEncodable)?] = []
                for location in locations { values += [location.locationID, location.imageID] }
                for row in try await tx.rows(q.markLocationsDeleted(locations.count), values) {
                    changedLocations.insert(try row.decode(Int64.self))
                }
            }
            let decision = batch.decide(held: held)
            var deleted = Set<String>()
            for ids in decision.candidates.chunks(of: limit) {
                for row in try await tx.rows(q.markImagesDeleted(ids.count), ids.map { $0 }) {
                    deleted.insert(try row.decode(String.self))
                }
            }
            let finish = batch.finish(decision, held: held, deleted: deleted, changedLocations: changedLocations)
            for ids in finish.deleteAssignments.chunks(of: limit) {
                try await tx.execute(q.deleteAssignments(ids.count), ids.map { $0 })
            }
            for failure in finish.failures {
                try await tx.execute(q.failAssignment, [
                    failure.message, failure.failureClass.rawValue, failure.store, DependentsColumn.text(failure.dependents), failure.delay,
                    failure.imageID, nodeID, failure.claimToken,
                ])
            }
            try await Self.insert(finish.events, tx, q)
            try await tx.execute(q.countNodeWork, [finish.report.imagesDeleted.count, finish.report.imagesFailed.count, nodeID])
            return finish.report
        }
    }

    /// Writes audit rows, many per statement.
    static func insert(_ events: [AuditEvent], _ tx: SQLTransaction, _ q: CatalogQueries) async throws {
        for chunk in events.chunks(of: CatalogQueries.rowsPerStatement(columns: 8)) {
            var values: [(any PostgresDynamicTypeEncodable)?] = []
            values.reserveCapacity(chunk.count * 8)
            for e in chunk {
                values += [e.nodeID, e.term, e.imageID, e.locationID, e.store, e.action.rawValue, e.detail, e.failureClass?.rawValue]
            }
            try await tx.execute(q.insertEvents(chunk.count), values)
        }
    }

    public func release(_ claims: [ClaimID], node: NodeIdentity) async throws {
        guard !claims.isEmpty else { return }
        let q = queries
        try await transaction { tx in
            try await Self.checkIdentity(node, tx, q)
            for chunk in claims.chunks(of: CatalogQueries.rowsPerStatement(columns: 2)) {
                var values: [(any PostgresDynamicTypeEncodable)?] = [node.nodeID]
                for claim in chunk { values += [claim.imageID, claim.claimToken] }
                try await tx.execute(q.releaseClaims(chunk.count), values)
            }
        }
    }

    public func remainingWork(scrubTime: Double, node: NodeIdentity, runStartedAt: Double) async throws -> Int {
        let q = queries
        return try await transaction { tx in
            try await Self.checkIdentity(node, tx, q)
            return try await tx.rows(q.remainingWork, [scrubTime, node.nodeID, runStartedAt, node.nodeID])[0].decode(Int.self)
        }
    }

    // MARK: Restore

    public func restorePlan(imageID: String) async throws -> RestorePlan {
        let q = queries
        // A plan only: commitRestore checks everything again under the image's row lock.
        return try await read { tx in
            let status = try await tx.rows(q.imageStatus, [imageID]).first.map { try $0.decode(String.self) }
            let holder = try await tx.rows(q.scrubbingHolder, [imageID]).first.map { try $0.decode(String?.self) } ?? nil
            let locations = try await Self.pendingLocations(of: [imageID], tx, q)[imageID] ?? []
            let scrubbed = try await tx.rows(q.scrubbedLocations, [imageID]).map { try $0.decode(Int64.self) }
            return RestorePlan(imageID: imageID, status: status.flatMap(ImageStatus.init(rawValue:)),
                               scrubbingNode: holder, locations: locations, scrubbedLocations: scrubbed)
        }
    }

    public func commitRestore(_ request: RestoreRequest) async throws -> RestoreResult {
        let q = queries
        return try await transaction { tx in
            let id = request.imageID
            // Locks the image row: a claim skips it (SKIP LOCKED) until this decision commits.
            guard let raw = try await tx.rows(q.lockImage, [id]).first.map({ try $0.decode(String.self) }) else {
                throw RestoreRefusal.noSuchImage(id)
            }
            guard raw == ImageStatus.pendingDelete.rawValue else {
                throw RestoreRefusal.notPendingDelete(id, ImageStatus(rawValue: raw) ?? .active)
            }
            if let holder = try await tx.rows(q.scrubbingHolder, [id]).first.map({ try $0.decode(String?.self) }) {
                throw RestoreRefusal.beingScrubbed(id, node: holder ?? "an unknown node")
            }
            let pending = Set(try await tx.rows(q.pendingLocations, [id]).map { try $0.decode((Int64, String, String?).self).0 })
            guard pending == Set(request.keep).union(request.lost) else { throw RestoreRefusal.changedDuringRestore(id) }

            try await tx.execute(q.restoreImage, [id])
            for location in request.keep { try await tx.execute(q.restoreLocation, [location, id]) }
            for location in request.lost { try await tx.execute(q.markLocationDeleted, [location, id]) }
            try await tx.execute(q.deleteAssignment, [id])
            let detail = "restored by \(request.actor): \(request.keep.count) location(s) back"
                + (request.lost.isEmpty ? "" : ", \(request.lost.count) lost (data already gone): \(request.lost.map(String.init).joined(separator: ", "))")
            try await Self.insert([AuditEvent(nodeID: request.actor, term: 0, imageID: id, action: .restored, detail: detail)], tx, q)
            return RestoreResult(imageID: id, restoredLocations: request.keep, lostLocations: request.lost)
        }
    }

    // MARK: Status

    public func backlog(scrubTime: Double, failureLimit: Int) async throws -> BacklogSnapshot {
        let q = queries
        return try await read { tx in
            let (eligible, oldest) = try await tx.rows(q.eligibleCount, [scrubTime])[0].decode((Int, Double?).self)
            let waiting = try await tx.rows(q.waitingCount, [scrubTime])[0].decode(Int.self)
            let failing = try await tx.rows(q.failingCount)[0].decode(Int.self)
            let failures = try await tx.rows(q.failures, [failureLimit]).map { row in
                let (image, attempts, error, failureClass, store, dependents) = try row.decode((String, Int, String?, String?, String?, String?).self)
                return BacklogSnapshot.Failure(imageID: image, attempts: attempts, lastError: error,
                                               failureClass: failureClass.flatMap(FailureClass.init(rawValue:)), store: store,
                                               dependents: DependentsColumn.list(dependents))
            }
            let groups = try await tx.rows(q.failingGroups).map { row in
                let (failureClass, store, images) = try row.decode((String?, String?, Int).self)
                return FailingGroup(failureClass: failureClass.flatMap(FailureClass.init(rawValue:)) ?? .transient, store: store, images: images)
            }
            let stores = try await tx.rows(q.storeBacklog, [scrubTime]).map { row in
                let (store, images, bytes) = try row.decode((String?, Int, Int64).self)
                return StoreBacklog(store: store, images: images, bytes: bytes)
            }
            return BacklogSnapshot(eligible: eligible, waiting: waiting, oldestAgeSeconds: oldest, failing: failing, failures: failures,
                                   stores: stores, failingGroups: groups)
        }
    }

    public func status(scrubTime: Double, failureLimit: Int) async throws -> ClusterStatus {
        let q = queries
        let backlog = try await backlog(scrubTime: scrubTime, failureLimit: failureLimit)
        return try await read { tx in
            let assignments = try await tx.rows(q.assignmentCounts).map { row in
                let (node, state, count) = try row.decode((String?, String, Int).self)
                return (node: node, state: state, count: count)
            }
            let nodes = try await tx.rows(q.statusNodes).map { row in
                let (id, host, pid, state, age, alive, capacity, done, failed, eligible, uptime, drainedBy) =
                    try row.decode((String, String, Int, String, Double, Bool, Int, Int, Int, Bool, Double, String?).self)
                return ClusterStatus.NodeRow(nodeID: id, host: host, pid: pid, state: state, heartbeatAgeSeconds: age, alive: alive,
                                             capacity: capacity, done: done, failed: failed, leaderEligible: eligible, uptimeSeconds: uptime,
                                             drainedBy: drainedBy)
            }
            let minutes = try await tx.rows(q.history).map { row in
                let (ago, images, bytes) = try row.decode((Int, Int, Int64).self)
                return (ago: ago, images: images, bytes: bytes)
            }
            let changes = try await tx.rows(q.leaderChanges)[0].decode(Int.self)
            return ClusterStatus(lease: try await Self.lease(tx, q), nodes: nodes, assignments: assignments, backlog: backlog,
                                 paused: try await Self.pauseState(tx, q), history: .init(rows: minutes, leaderChanges: changes))
        }
    }

    static func pauseState(_ tx: SQLTransaction, _ q: CatalogQueries) async throws -> PauseState? {
        guard let row = try await tx.rows(q.pauseState).first else { return nil }
        let (since, host, user) = try row.decode((Double?, String?, String?).self)
        return since.map { PauseState(since: $0, by: Operator(host: host ?? "", user: user ?? "")) }
    }

    // MARK: Control

    public func control(_ request: ControlRequest) async throws -> ControlAnswer {
        let q = queries
        return try await transaction { tx in
            // The lease row first, locked: a campaign or renewal waits for the command.
            _ = try await tx.rows(q.lockLeaderRow)
            var control = ControlStep(request, lease: try await Self.lease(tx, q), paused: try await Self.pauseState(tx, q), queries: q)
            while let statement = control.next() {
                control.ran(changes: try await tx.execute(statement.sql, statement.arguments.map { $0 as (any PostgresDynamicTypeEncodable)? }))
            }
            let answer = control.answer(paused: try await Self.pauseState(tx, q))
            try await Self.insert(control.events, tx, q)
            return answer
        }
    }
}
