import GRDB
import ScrubberCore

extension SQLiteCatalog {
    public func claim(_ request: ClaimRequest) async throws -> [ClaimedImage] {
        let q = queries
        return try await write { db in
            guard try Row.fetchOne(db.cachedStatement(sql: q.liveMember), arguments: [request.nodeID]) != nil else {
                throw CatalogError.membershipExpired(request.nodeID)
            }
            // A retry of a claim that committed gets that claim back, and claims nothing more.
            var claimed: [Row] = []
            if let token = request.token {
                claimed = try Row.fetchAll(db.cachedStatement(sql: q.claimedUnderToken), arguments: [request.nodeID, token])
            }
            if claimed.isEmpty {
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
                return ClaimedImage(imageID: imageID, attempts: row[1], locations: locations[imageID] ?? [])
            }
        }
    }

    public func complete(_ outcomes: [ScrubOutcome], nodeID: String, backoff: Backoff) async throws -> CompletionReport {
        guard !outcomes.isEmpty else { return CompletionReport() }
        let q = queries
        let batch = CompletionBatch(outcomes, nodeID: nodeID, backoff: backoff)
        let limit = CatalogQueries.maxListLength
        return try await write { db in
            var held: [String: CompletionBatch.HeldClaim] = [:]
            for ids in batch.imageIDs.chunks(of: limit) {
                for row in try Row.fetchAll(db.cachedStatement(sql: q.heldClaims(ids.count)), arguments: [nodeID, JSONList(ids).text]) {
                    held[row[0]] = .init(term: row[1], imageStatus: row[2])
                }
            }
            var locationsDeleted = 0
            for locations in batch.goneLocationIDs.chunks(of: limit) {
                try db.cachedStatement(sql: q.markLocationsDeleted(locations.count)).execute(arguments: [JSONList(locations).text])
                locationsDeleted += db.changesCount
            }
            let decision = batch.decide(held: held)
            var deleted = Set<String>()
            for ids in decision.candidates.chunks(of: limit) {
                deleted.formUnion(try String.fetchAll(db.cachedStatement(sql: q.markImagesDeleted(ids.count)), arguments: [JSONList(ids).text]))
            }
            let finish = batch.finish(decision, held: held, deleted: deleted, locationsDeleted: locationsDeleted)
            for ids in finish.deleteAssignments.chunks(of: limit) {
                try db.cachedStatement(sql: q.deleteAssignments(ids.count)).execute(arguments: [JSONList(ids).text])
            }
            let fail = try db.cachedStatement(sql: q.failAssignment)
            for failure in finish.failures {
                try fail.execute(arguments: [failure.message, failure.delay, failure.imageID, nodeID])
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
            }
        }
        try db.cachedStatement(sql: q.insertEvents(events.count)).execute(arguments: [rows.text])
    }

    public func drain(nodeID: String) async throws {
        let q = queries
        try await write { db in
            try db.cachedStatement(sql: q.markDraining).execute(arguments: [nodeID])
            try db.cachedStatement(sql: q.handBackAssigned).execute(arguments: [nodeID])
        }
    }

    public func remainingWork(scrubTime: Double, nodeID: String, runStartedAt: Double) async throws -> Int {
        let q = queries
        return try await read { db in
            try Int.fetchOne(db.cachedStatement(sql: q.remainingWork), arguments: [scrubTime, nodeID, runStartedAt]) ?? 0
        }
    }

    public func release(imageIDs: [String], nodeID: String) async throws {
        guard !imageIDs.isEmpty else { return }
        let q = queries
        try await write { db in
            for ids in imageIDs.chunks(of: CatalogQueries.maxListLength) {
                try db.cachedStatement(sql: q.releaseClaims(ids.count)).execute(arguments: [nodeID, JSONList(ids).text])
            }
        }
    }
}
