import PostgresNIO
import ScrubberCore

extension PostgresCatalog {
    /// Calls `visit` with every eligible image, its pending locations and its size (nil when
    /// unknown), a page at a time (by
    /// image id), each page in a `READ ONLY` transaction: no migration, no membership, no
    /// audit row. Needs only ``connect(timeout:)``, not ``upgrade()``.
    public func forEachEligible(scrubTime: Double, pageSize: Int = 500, _ visit: (ClaimedImage, Int64?) async throws -> Void) async throws {
        let q = queries
        var after = ""
        while true {
            let cursor = after
            let page: [(ClaimedImage, Int64?)] = try await transaction { tx in
                try await tx.execute("SET TRANSACTION READ ONLY")
                let rows = try await tx.rows(q.eligiblePage, [scrubTime, cursor, pageSize]).map { try $0.decode((String, Int64?).self) }
                let locations = try await Self.pendingLocations(of: rows.map(\.0), tx, q)
                return rows.map { id, size in
                    (ClaimedImage(imageID: id, claimToken: "", attempts: 0, locations: locations[id] ?? []), size)  // a preview: no claim
                }
            }
            guard let last = page.last else { return }
            for (image, size) in page { try await visit(image, size) }
            after = last.0.imageID
        }
    }
}
