import GRDB
import ScrubberCore
import ScrubberSQL

/// The read-only look at the backlog behind `scrubber run --once --dry-run`.
public enum SQLiteBacklogPreview {
    /// Calls `visit` with every eligible image, its pending locations and its size (Glance's
    /// `images.size`, nil when unknown), a page at a time (``EligiblePreview``), through a
    /// read-only connection: no migration, no journal-mode change, no membership, no audit row.
    /// The database file is left byte for byte as it was.
    public static func forEachEligible(
        path: String,
        scrubTime: Double,
        pageSize: Int = 500,
        _ visit: (ClaimedImage, Int64?) async throws -> Void
    ) async throws {
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
            let page = try await queue.read { db in
                try SQLiteConnection(db).run { c in
                    try await EligiblePreview.page(c, q, scrubTime: scrubTime, after: cursor, pageSize: pageSize)
                }
            }
            guard let last = page.last else { return }
            for (image, size) in page { try await visit(image, size) }
            after = last.image.imageID
        }
    }
}
