import PostgresNIO
import ScrubberCore

extension PostgresCatalog {
    /// Calls `visit` with every eligible image and its pending locations, a page at a time (by
    /// image id), each page in a `READ ONLY` transaction: no migration, no membership, no
    /// audit row. Needs only ``connect(timeout:)``, not ``upgrade()``.
    public func forEachEligible(scrubTime: Double, pageSize: Int = 500, _ visit: (ClaimedImage) async throws -> Void) async throws {
        let q = queries
        var after = ""
        while true {
            let cursor = after
            let page: [ClaimedImage] = try await transaction { tx in
                try await tx.execute("SET TRANSACTION READ ONLY")
                let ids = try await tx.rows(q.eligiblePage, [scrubTime, cursor, pageSize]).map { try $0.decode(String.self) }
                let locations = try await Self.pendingLocations(of: ids, tx, q)
                return ids.map { ClaimedImage(imageID: $0, claimToken: "", attempts: 0, locations: locations[$0] ?? []) }  // a preview: no claim
            }
            guard let last = page.last else { return }
            for image in page { try await visit(image) }
            after = last.imageID
        }
    }
}
