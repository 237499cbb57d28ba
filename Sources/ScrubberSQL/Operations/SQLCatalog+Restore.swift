import ScrubberCore

extension SQLCatalog {
    public func restorePlan(imageID: String) async throws -> RestorePlan {
        let q = queries
        // A plan only: commitRestore checks everything again under the image's row lock.
        return try await read { c in
            let status: String? = try await c.scalar(q.imageStatus, [imageID])
            let holder: String? = try await c.scalar(q.scrubbingHolder, [imageID])
            let locations = try await c.pendingLocations(of: [imageID], q)[imageID] ?? []
            let scrubbed: [Int64] = try await c.rows(q.scrubbedLocations, [imageID]).map { try $0[0] }
            return RestorePlan(
                imageID: imageID,
                status: status.flatMap(ImageStatus.init(rawValue:)),
                scrubbingNode: holder,
                locations: locations,
                scrubbedLocations: scrubbed
            )
        }
    }

    public func commitRestore(_ request: RestoreRequest) async throws -> RestoreResult {
        let q = queries
        return try await write { c in
            let id = request.imageID
            // Locks the image row (PostgreSQL): a claim skips it (SKIP LOCKED) until this decision commits.
            guard let raw: String = try await c.scalar(q.lockImage, [id]) else {
                throw RestoreRefusal.noSuchImage(id)
            }
            guard raw == ImageStatus.pendingDelete.rawValue else {
                throw RestoreRefusal.notPendingDelete(id, ImageStatus(rawValue: raw) ?? .active)
            }
            if let holder = try await c.row(q.scrubbingHolder, [id]) {
                throw RestoreRefusal.beingScrubbed(id, node: try holder[0] as String? ?? "an unknown node")
            }
            let pending: Set<Int64> = Set(try await c.rows(q.pendingLocations, [id]).map { try $0[0] })
            guard pending == Set(request.keep).union(request.lost) else { throw RestoreRefusal.changedDuringRestore(id) }

            try await c.execute(q.restoreImage, [id])
            for location in request.keep { try await c.execute(q.restoreLocation, [location, id]) }
            for location in request.lost { try await c.execute(q.markLocationDeleted, [location, id]) }
            try await c.execute(q.deleteAssignment, [id])
            let lost =
                request.lost.isEmpty
                ? "" : ", \(request.lost.count) lost (data already gone): \(request.lost.map(String.init).joined(separator: ", "))"
            let detail = "restored by \(request.actor): \(request.keep.count) location(s) back" + lost
            try await Self.insert([AuditEvent(nodeID: request.actor, term: 0, imageID: id, action: .restored, detail: detail)], c, q)
            return RestoreResult(imageID: id, restoredLocations: request.keep, lostLocations: request.lost)
        }
    }
}
