import ScrubberCore

extension SQLCatalog {
    public func claim(_ request: ClaimRequest) async throws -> [ClaimedImage] {
        let q = queries
        return try await write { c in
            // A paused cluster claims nothing new. The gate first, waiting (PostgreSQL) for a
            // pause being written: an operator's command locks the lease row and then a
            // member's, so a claim takes them in that order too (never the other way round: a
            // deadlock).
            let paused = try await c.row(q.claimGate).map { try $0[0] as Double? } ?? nil
            // Share-locked: the membership cannot change before the claim commits.
            let member = try MemberRow.checkClaimant(try await Self.member(request.nodeID, c, q.memberIdentity), request.node)
            // A draining member claims nothing new either.
            let mayClaim = member && paused == nil
            // A retry of a claim that committed gets that claim back, and claims nothing more.
            var claimed: [SQLRow] = []
            if let token = request.token {
                claimed = try await c.rows(q.claimedUnderToken, [request.nodeID, token])
            }
            if claimed.isEmpty, mayClaim {
                claimed = try await c.rows(q.claim, [request.token, request.nodeID, request.retryClaimedBefore ?? 0, request.limit])
                // Images restored meanwhile are never claimed, but would fill the node's window.
                if claimed.count < request.limit {
                    try await c.execute(q.dropStaleAssignments, [request.nodeID])
                }
            }
            let ids: [String] = try claimed.map { try $0[0] }
            let locations = try await c.pendingLocations(of: ids, q)
            return try claimed.map { row in
                let imageID: String = try row[0]
                return ClaimedImage(imageID: imageID, claimToken: try row[3], attempts: try row[1], locations: locations[imageID] ?? [])
            }
        }
    }

    public func complete(_ outcomes: [ScrubOutcome], node: NodeIdentity, backoff: Backoff) async throws -> CompletionReport {
        guard !outcomes.isEmpty else { return CompletionReport() }
        let q = queries
        let nodeID = node.nodeID
        let batch = CompletionBatch(outcomes, nodeID: nodeID, backoff: backoff)
        let limit = CatalogQueries.maxListLength
        return try await write { c in
            try await Self.checkIdentity(node, c, q, updating: true)  // it adds to the node's counts
            var held: [String: CompletionBatch.HeldClaim] = [:]
            for ids in batch.imageIDs.chunks(of: limit) {
                for row in try await c.rows(q.heldClaims(ids.count), [nodeID] + q.list(ids)) {
                    held[try row[0]] = .init(term: try row[1], imageStatus: try row[2], claimToken: try row[3])
                }
            }
            var changedLocations = Set<Int64>()
            for locations in batch.goneLocations.chunks(of: CatalogQueries.rowsPerStatement(columns: 2)) {
                let pairs = q.rows(locations.map { [.integer($0.locationID), .text($0.imageID)] })
                for row in try await c.rows(q.markLocationsDeleted(locations.count), pairs) {
                    changedLocations.insert(try row[0])
                }
            }
            let decision = batch.decide(held: held)
            var deleted = Set<String>()
            for ids in decision.candidates.chunks(of: limit) {
                for row in try await c.rows(q.markImagesDeleted(ids.count), q.list(ids)) {
                    deleted.insert(try row[0])
                }
            }
            let finish = batch.finish(decision, held: held, deleted: deleted, changedLocations: changedLocations)
            for ids in finish.deleteAssignments.chunks(of: limit) {
                try await c.execute(q.deleteAssignments(ids.count), q.list(ids))
            }
            for failure in finish.failures {
                try await c.execute(
                    q.failAssignment,
                    [
                        failure.message, failure.failureClass.rawValue, failure.store, DependentsColumn.text(failure.dependents),
                        failure.delay,
                        failure.imageID, nodeID, failure.claimToken,
                    ]
                )
            }
            try await Self.insert(finish.events, c, q)
            try await c.execute(q.countNodeWork, [finish.report.imagesDeleted.count, finish.report.imagesFailed.count, nodeID])
            return finish.report
        }
    }

    public func release(_ claims: [ClaimID], node: NodeIdentity) async throws {
        guard !claims.isEmpty else { return }
        let q = queries
        try await write { c in
            try await Self.checkIdentity(node, c, q)
            for chunk in claims.chunks(of: CatalogQueries.rowsPerStatement(columns: 2)) {
                try await c.execute(
                    q.releaseClaims(chunk.count),
                    [node.nodeID] + q.rows(chunk.map { [.text($0.imageID), .text($0.claimToken)] })
                )
            }
        }
    }

    public func remainingWork(scrubTime: Double, node: NodeIdentity, runStartedAt: Double) async throws -> Int {
        let q = queries
        return try await read { c in
            try await Self.checkIdentity(node, c, q)
            return try await c.scalar(q.remainingWork, [scrubTime, node.nodeID, runStartedAt, node.nodeID]) ?? 0
        }
    }
}

extension SQLExecutor {
    /// The `pending_delete` locations of `images`, by image.
    func pendingLocations(of images: [String], _ q: CatalogQueries) async throws -> [String: [PendingLocation]] {
        var locations: [String: [PendingLocation]] = [:]
        for ids in images.chunks(of: CatalogQueries.maxListLength) {
            for row in try await rows(q.pendingLocations(of: ids.count), q.list(ids)) {
                locations[try row[0], default: []].append(PendingLocation(id: try row[1], value: try row[2], metaData: try row[3]))
            }
        }
        return locations
    }
}
