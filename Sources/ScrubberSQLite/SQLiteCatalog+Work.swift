import GRDB
import ScrubberCore

extension SQLiteCatalog {
    public func claim(_ request: ClaimRequest) async throws -> [ClaimedImage] {
        let q = queries
        return try await write { db in
            // A paused cluster, or a draining member, claims nothing new.
            let paused = try Double.fetchOne(db.cachedStatement(sql: q.claimGate)) != nil
            let mayClaim = try MemberRow.checkClaimant(Self.member(request.nodeID, db, q.memberIdentity), request.node) && !paused
            // A retry of a claim that committed gets that claim back, and claims nothing more.
            var claimed: [Row] = []
            if let token = request.token {
                claimed = try Row.fetchAll(db.cachedStatement(sql: q.claimedUnderToken), arguments: [request.nodeID, token])
            }
            if claimed.isEmpty, mayClaim {
                claimed = try Row.fetchAll(
                    db.cachedStatement(sql: q.claim),
                    arguments: [request.token, request.nodeID, request.retryClaimedBefore ?? 0, request.limit])
                // Images restored meanwhile are never claimed, but would fill the node's window.
                if claimed.count < request.limit {
                    try db.cachedStatement(sql: q.dropStaleAssignments).execute(arguments: [request.nodeID])
                }
            }
            var locations: [String: [PendingLocation]] = [:]
            for ids in claimed.map({ $0[0] as String }).chunks(of: CatalogQueries.maxListLength) {
                let rows = try Row.fetchAll(db.cachedStatement(sql: q.pendingLocations(of: ids.count)),
                                            arguments: [JSONList(ids).text])
                for row in rows {
                    locations[row[0], default: []].append(PendingLocation(id: row[1], value: row[2], metaData: row[3]))
                }
            }
            return claimed.map { row in
                let imageID: String = row[0]
                return ClaimedImage(imageID: imageID, claimToken: row[3], attempts: row[1], locations: locations[imageID] ?? [])
            }
        }
    }

    public func complete(_ outcomes: [ScrubOutcome], node: NodeIdentity, backoff: Backoff) async throws -> CompletionReport {
        guard !outcomes.isEmpty else { return CompletionReport() }
        let q = queries
        let nodeID = node.nodeID
        let batch = CompletionBatch(outcomes, nodeID: nodeID, backoff: backoff)
        let limit = CatalogQueries.maxListLength
        return try await write { db in
            try Self.checkIdentity(node, db, q)
            var held: [String: CompletionBatch.HeldClaim] = [:]
            for ids in batch.imageIDs.chunks(of: limit) {
                for row in try Row.fetchAll(db.cachedStatement(sql: q.heldClaims(ids.count)), arguments: [nodeID, JSONList(ids).text]) {
                    held[row[0]] = .init(term: row[1], imageStatus: row[2], claimToken: row[3])
                }
            }
            var changedLocations = Set<Int64>()
            for locations in batch.goneLocations.chunks(of: limit) {
                var pairs = JSONList(capacity: locations.count * 56)
                for location in locations {
                    pairs.appendRow { row in
                        row.append(location.locationID)
                        row.append(location.imageID)
                    }
                }
                changedLocations.formUnion(try Int64.fetchAll(db.cachedStatement(sql: q.markLocationsDeleted(locations.count)),
                                                              arguments: [pairs.text]))
            }
            let decision = batch.decide(held: held)
            var deleted = Set<String>()
            for ids in decision.candidates.chunks(of: limit) {
                deleted.formUnion(try String.fetchAll(db.cachedStatement(sql: q.markImagesDeleted(ids.count)), arguments: [JSONList(ids).text]))
            }
            let finish = batch.finish(decision, held: held, deleted: deleted, changedLocations: changedLocations)
            for ids in finish.deleteAssignments.chunks(of: limit) {
                try db.cachedStatement(sql: q.deleteAssignments(ids.count)).execute(arguments: [JSONList(ids).text])
            }
            let fail = try db.cachedStatement(sql: q.failAssignment)
            for failure in finish.failures {
                try fail.execute(arguments: [
                    failure.message, failure.failureClass.rawValue, failure.store, DependentsColumn.text(failure.dependents), failure.delay,
                    failure.imageID, nodeID, failure.claimToken,
                ])
            }
            try Self.insert(finish.events, db, q)
            try db.cachedStatement(sql: q.countNodeWork).execute(arguments: [
                finish.report.imagesDeleted.count, finish.report.imagesFailed.count, nodeID,
            ])
            return finish.report
        }
    }

    /// Writes audit rows, all in one statement.
    static func insert(_ events: [AuditEvent], _ db: Database, _ q: CatalogQueries) throws {
        guard !events.isEmpty else { return }
        var rows = JSONList(capacity: events.count * 96)
        for e in events {
            rows.appendRow { row in
                row.append(e.nodeID)
                row.append(e.term)
                row.append(e.imageID)
                row.append(e.locationID)
                row.append(e.store)
                row.append(e.action.rawValue)
                row.append(e.detail)
                row.append(e.failureClass?.rawValue)
            }
        }
        try db.cachedStatement(sql: q.insertEvents(events.count)).execute(arguments: [rows.text])
    }

    public func drain(_ node: NodeIdentity) async throws {
        let q = queries
        try await write { db in
            try Self.checkIdentity(node, db, q)
            try db.cachedStatement(sql: q.markDraining).execute(arguments: [node.nodeID])
            try db.cachedStatement(sql: q.handBackAssigned).execute(arguments: [node.nodeID])
        }
    }

    public func remainingWork(scrubTime: Double, node: NodeIdentity, runStartedAt: Double) async throws -> Int {
        let q = queries
        return try await read { db in
            try Self.checkIdentity(node, db, q)
            return try Int.fetchOne(db.cachedStatement(sql: q.remainingWork), arguments: [scrubTime, node.nodeID, runStartedAt, node.nodeID]) ?? 0
        }
    }

    public func release(_ claims: [ClaimID], node: NodeIdentity) async throws {
        guard !claims.isEmpty else { return }
        let q = queries
        try await write { db in
            try Self.checkIdentity(node, db, q)
            for chunk in claims.chunks(of: CatalogQueries.maxListLength) {
                var pairs = JSONList(capacity: chunk.count * 80)
                for claim in chunk {
                    pairs.appendRow { row in
                        row.append(claim.imageID)
                        row.append(claim.claimToken)
                    }
                }
                try db.cachedStatement(sql: q.releaseClaims(chunk.count)).execute(arguments: [node.nodeID, pairs.text])
            }
        }
    }
}
