import GRDB
import ScrubberCore

extension SQLiteCatalog {
    public func restorePlan(imageID: String) async throws -> RestorePlan {
        let q = queries
        return try await read { db in
            let status = try String.fetchOne(db.cachedStatement(sql: q.imageStatus), arguments: [imageID])
            let holder = try String.fetchOne(db.cachedStatement(sql: q.scrubbingHolder), arguments: [imageID])
            let locations = try Row.fetchAll(db.cachedStatement(sql: q.pendingLocations), arguments: [imageID]).map {
                PendingLocation(id: $0[0], value: $0[1], metaData: $0[2])
            }
            let scrubbed = try Int64.fetchAll(db.cachedStatement(sql: q.scrubbedLocations), arguments: [imageID])
            return RestorePlan(imageID: imageID, status: status.flatMap(ImageStatus.init(rawValue:)),
                               scrubbingNode: holder, locations: locations, scrubbedLocations: scrubbed)
        }
    }

    public func commitRestore(_ request: RestoreRequest) async throws -> RestoreResult {
        let q = queries
        return try await write { db in
            let id = request.imageID
            guard let raw = try String.fetchOne(db.cachedStatement(sql: q.lockImage), arguments: [id]) else {
                throw RestoreRefusal.noSuchImage(id)
            }
            guard raw == ImageStatus.pendingDelete.rawValue else {
                throw RestoreRefusal.notPendingDelete(id, ImageStatus(rawValue: raw) ?? .active)
            }
            if let holder = try String.fetchOne(db.cachedStatement(sql: q.scrubbingHolder), arguments: [id]) {
                throw RestoreRefusal.beingScrubbed(id, node: holder)
            }
            let pending = try Set(Int64.fetchAll(db.cachedStatement(sql: q.pendingLocations), arguments: [id]))
            guard pending == Set(request.keep).union(request.lost) else { throw RestoreRefusal.changedDuringRestore(id) }

            try db.cachedStatement(sql: q.restoreImage).execute(arguments: [id])
            for location in request.keep {
                try db.cachedStatement(sql: q.restoreLocation).execute(arguments: [location, id])
            }
            for location in request.lost {
                try db.cachedStatement(sql: q.markLocationDeleted).execute(arguments: [location, id])
            }
            try db.cachedStatement(sql: q.deleteAssignment).execute(arguments: [id])
            let detail = "restored by \(request.actor): \(request.keep.count) location(s) back"
                + (request.lost.isEmpty ? "" : ", \(request.lost.count) lost (data already gone): \(request.lost.map(String.init).joined(separator: ", "))")
            try db.cachedStatement(sql: q.insertEvent).execute(arguments: [
                request.actor, 0, id, nil, nil, ScrubAction.restored.rawValue, detail,
            ])
            return RestoreResult(imageID: id, restoredLocations: request.keep, lostLocations: request.lost)
        }
    }

    public func backlog(scrubTime: Double, failureLimit: Int) async throws -> BacklogSnapshot {
        let q = queries
        return try await read { db in
            let eligible = try Row.fetchOne(db.cachedStatement(sql: q.eligibleCount), arguments: [scrubTime])
            let waiting = try Int.fetchOne(db.cachedStatement(sql: q.waitingCount), arguments: [scrubTime]) ?? 0
            let failing = try Int.fetchOne(db.cachedStatement(sql: q.failingCount)) ?? 0
            let failures = try Row.fetchAll(db.cachedStatement(sql: q.failures), arguments: [failureLimit]).map {
                BacklogSnapshot.Failure(imageID: $0[0], attempts: $0[1], lastError: $0[2],
                                        failureClass: ($0[3] as String?).flatMap(FailureClass.init(rawValue:)), store: $0[4],
                                        dependents: DependentsColumn.list($0[5]))
            }
            let groups = try Row.fetchAll(db.cachedStatement(sql: q.failingGroups)).map {
                FailingGroup(failureClass: ($0[0] as String?).flatMap(FailureClass.init(rawValue:)) ?? .transient, store: $0[1],
                             images: $0[2])
            }
            let stores = try Row.fetchAll(db.cachedStatement(sql: q.storeBacklog), arguments: [scrubTime]).map {
                StoreBacklog(store: $0[0], images: $0[1], bytes: $0[2])
            }
            return BacklogSnapshot(eligible: eligible?[0] ?? 0, waiting: waiting, oldestAgeSeconds: eligible?[1],
                                   failing: failing, failures: failures, stores: stores, failingGroups: groups)
        }
    }
}
