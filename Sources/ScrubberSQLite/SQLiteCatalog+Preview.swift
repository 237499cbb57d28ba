import GRDB
import ScrubberCore

/// The read-only look at the backlog behind `scrubber run --once --dry-run`.
public enum SQLiteBacklogPreview {
    /// Calls `visit` with every eligible image and its pending locations, a page at a time
    /// (by image id), through a read-only connection: no migration, no journal-mode change, no
    /// membership, no audit row. The database file is left byte for byte as it was.
    public static func forEachEligible(path: String, scrubTime: Double, pageSize: Int = 500,
                                       _ visit: (ClaimedImage) async throws -> Void) async throws {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
        } catch {
            throw SQLiteCatalog.explain(error, path: path)
        }
        let q = CatalogQueries(dialect: .sqlite)
        var after = ""
        while true {
            let cursor = after
            let page: [ClaimedImage] = try await queue.read { db in
                let ids = try String.fetchAll(db.cachedStatement(sql: q.eligiblePage), arguments: [scrubTime, cursor, pageSize])
                return try ids.map { id in
                    let locations = try Row.fetchAll(db.cachedStatement(sql: q.pendingLocations), arguments: [id]).map {
                        PendingLocation(id: $0[0], value: $0[1], metaData: $0[2])
                    }
                    return ClaimedImage(imageID: id, claimToken: "", attempts: 0, locations: locations)  // a preview: no claim
                }
            }
            guard let last = page.last else { return }
            for image in page { try await visit(image) }
            after = last.imageID
        }
    }
}
