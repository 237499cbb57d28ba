import PostgresNIO
import ScrubberCore
import ScrubberSQL

extension PostgresCatalog {
    /// Calls `visit` with every eligible image, its pending locations and its size (nil when
    /// unknown), a page at a time (``EligiblePreview``), each page in a `READ ONLY`
    /// transaction: no migration, no membership, no audit row. Needs only
    /// ``connect(timeout:)``, not ``upgrade()``.
    public func forEachEligible(scrubTime: Double, pageSize: Int = 500, _ visit: (ClaimedImage, Int64?) async throws -> Void) async throws {
        let q = queries
        var after = ""
        while true {
            let cursor = after
            let page = try await withConnection(.write, "preview") { c in
                try await c.execute("SET TRANSACTION READ ONLY")
                return try await EligiblePreview.page(c, q, scrubTime: scrubTime, after: cursor, pageSize: pageSize)
            }
            guard let last = page.last else { return }
            for (image, size) in page { try await visit(image, size) }
            after = last.image.imageID
        }
    }
}
