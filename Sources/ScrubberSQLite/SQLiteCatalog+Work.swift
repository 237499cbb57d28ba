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
                try db.cachedStatement(sql: q.dropStaleAssignments).execute(arguments: [request.nodeID])
                claimed = try Row.fetchAll(
                    db.cachedStatement(sql: q.claim),
                    arguments: [request.token, request.nodeID, request.retryClaimedBefore ?? 0, request.limit])
            }
            var locations: [String: [PendingLocation]] = [:]
            for ids in claimed.map({ $0[0] as String }).chunks(of: CatalogQueries.maxListLength) {
                let rows = try Row.fetchAll(db.makeStatement(sql: q.pendingLocations(of: ids.count)),
                                            arguments: StatementArguments(Array(ids)))
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
                for row in try Row.fetchAll(db.makeStatement(sql: q.heldClaims(ids.count)), arguments: StatementArguments([nodeID] + Array(ids))) {
                    held[row[0]] = .init(term: row[1], imageStatus: row[2])
                }
            }
            var locationsDeleted = 0
            for locations in batch.goneLocationIDs.chunks(of: limit) {
                try db.makeStatement(sql: q.markLocationsDeleted(locations.count)).execute(arguments: StatementArguments(Array(locations)))
                locationsDeleted += db.changesCount
            }
            let decision = batch.decide(held: held)
            var deleted = Set<String>()
            for ids in decision.candidates.chunks(of: limit) {
                deleted.formUnion(try String.fetchAll(db.makeStatement(sql: q.markImagesDeleted(ids.count)), arguments: StatementArguments(Array(ids))))
            }
            let finish = batch.finish(decision, held: held, deleted: deleted, locationsDeleted: locationsDeleted)
            for ids in finish.deleteAssignments.chunks(of: limit) {
                try db.makeStatement(sql: q.deleteAssignments(ids.count)).execute(arguments: StatementArguments(Array(ids)))
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

    /// Writes audit rows, many per statement.
    static func insert(_ events: [AuditEvent], _ db: Database, _ q: CatalogQueries) throws {
        for chunk in events.chunks(of: CatalogQueries.rowsPerStatement(columns: 7)) {
            var arguments = StatementArguments()
            for e in chunk {
                arguments += [e.nodeID, e.term, e.imageID, e.locationID, e.store, e.action.rawValue, e.detail]
            }
            try db.makeStatement(sql: q.insertEvents(chunk.count)).execute(arguments: arguments)
        }
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
                try db.makeStatement(sql: q.releaseClaims(ids.count)).execute(arguments: StatementArguments([nodeID] + Array(ids)))
            }
        }
    }
}
