import GRDB
import ScrubberCore

extension SQLiteCatalog {
    public func claim(_ request: ClaimRequest) async throws -> [ClaimedImage] {
        let q = queries
        return try await write { db in
            guard try Row.fetchOne(db.cachedStatement(sql: q.liveMember), arguments: [request.nodeID]) != nil else {
                throw CatalogError.membershipExpired(request.nodeID)
            }
            try db.cachedStatement(sql: q.dropStaleAssignments).execute(arguments: [request.nodeID])
            let claimed = try Row.fetchAll(
                db.cachedStatement(sql: q.claim),
                arguments: [request.nodeID, request.retryClaimedBefore ?? 0, request.limit])
            let locations = try db.cachedStatement(sql: q.pendingLocations)
            return try claimed.map { row in
                let imageID: String = row[0]
                let pending = try Row.fetchAll(locations, arguments: [imageID]).map { loc in
                    PendingLocation(id: loc[0], value: loc[1], metaData: loc[2])
                }
                return ClaimedImage(imageID: imageID, attempts: row[1], locations: pending)
            }
        }
    }

    public func complete(_ outcomes: [ScrubOutcome], nodeID: String, backoff: Backoff) async throws -> CompletionReport {
        guard !outcomes.isEmpty else { return CompletionReport() }
        let q = queries
        return try await write { db in
            var report = CompletionReport()
            let markLocation = try db.cachedStatement(sql: q.markLocationDeleted)
            let event = try db.cachedStatement(sql: q.insertEvent)
            let held = try db.cachedStatement(sql: q.heldClaim)
            for outcome in outcomes {
                let claim = try Row.fetchOne(held, arguments: [outcome.imageID, nodeID])
                let term: Int64 = claim?[0] ?? 0
                // Data that is gone is recorded as gone, claim or not: it must never be restored.
                for result in outcome.locations {
                    if result.outcome.isGone {
                        try markLocation.execute(arguments: [result.locationID, outcome.imageID])
                        report.locationsDeleted += db.changesCount
                    }
                    var detail: String?
                    if case .failed(let message) = result.outcome { detail = message }
                    try event.execute(arguments: [
                        nodeID, term, outcome.imageID, result.locationID, result.store, result.outcome.action.rawValue, detail,
                    ])
                }
                guard let claim, (claim[1] as String) == ImageStatus.pendingDelete.rawValue else {
                    if claim != nil { try db.cachedStatement(sql: q.deleteAssignment).execute(arguments: [outcome.imageID]) }
                    report.claimsLost.append(outcome.imageID)
                    continue
                }
                if let error = outcome.firstError {
                    let delay = backoff.delay(afterAttempts: outcome.previousAttempts + 1)
                    try db.cachedStatement(sql: q.failAssignment).execute(arguments: [error, delay, outcome.imageID, nodeID])
                    report.imagesFailed.append(outcome.imageID)
                    continue
                }
                try db.cachedStatement(sql: q.markImageDeleted).execute(arguments: [outcome.imageID])
                if db.changesCount == 1 {
                    try db.cachedStatement(sql: q.deleteAssignment).execute(arguments: [outcome.imageID])
                    try event.execute(arguments: [nodeID, term, outcome.imageID, nil, nil, ScrubAction.imageDeleted.rawValue, nil])
                    report.imagesDeleted.append(outcome.imageID)
                } else {
                    // A pending location appeared while we scrubbed: go round again at once.
                    let message = "a pending_delete location appeared while the image was being scrubbed; retrying"
                    try db.cachedStatement(sql: q.failAssignment).execute(arguments: [message, 0.0, outcome.imageID, nodeID])
                    report.imagesFailed.append(outcome.imageID)
                }
            }
            try db.cachedStatement(sql: q.countNodeWork).execute(arguments: [
                report.imagesDeleted.count, report.imagesFailed.count, nodeID,
            ])
            return report
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
            let statement = try db.cachedStatement(sql: q.releaseClaim)
            for id in imageIDs { try statement.execute(arguments: [id, nodeID]) }
        }
    }
}
