import GRDB
import ScrubberCore

/// The read-only look at the backlog behind `scrubber run --once --dry-run`.
public enum SQLiteBacklogPreview {
    /// Calls `visit` with every eligible image, its pending locations and its size (Glance's
    /// `images.size`, nil when unknown), a page at a time
    /// (by image id), through a read-only connection: no migration, no journal-mode change, no
    /// membership, no audit row. The database file is left byte for byte as it was.
    public static func forEachEligible(path: String, scrubTime: Double, pageSize: Int = 500,
                                       _ visit: (ClaimedImage, Int64?) async throws -> Void) async throws {
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
            let page: [(ClaimedImage, Int64?)] = try await queue.read { db in
                let rows = try Row.fetchAll(db.cachedStatement(sql: q.eligiblePage), arguments: [scrubTime, cursor, pageSize])
                return try rows.map { row in
                    let id: String = row[0]
                    let locations = try Row.fetchAll(db.cachedStatement(sql: q.pendingLocations), arguments: [id]).map {
                        PendingLocation(id: $0[0], value: $0[1], metaData: $0[2])
                    }
                    return (ClaimedImage(imageID: id, claimToken: "", attempts: 0, locations: locations), row[1])  // a preview: no claim
                }
            }
            guard let last = page.last else { return }
            for (image, size) in page { try await visit(image, size) }
            after = last.0.imageID
        }
    }
}
