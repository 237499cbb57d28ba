import ScrubberCore

/// The read-only look at the backlog behind `scrubber run --once --dry-run`: no migration, no
/// membership, no audit row; each backend reads it through a read-only connection or transaction.
public enum EligiblePreview {
    /// One page of eligible images after the id `after`, by image id: each with its pending
    /// locations (a preview: no claim token) and its size (Glance's `images.size`, nil when unknown).
    public static func page(
        _ c: some SQLExecutor,
        _ q: CatalogQueries,
        scrubTime: Double,
        after: String,
        pageSize: Int
    )
        async throws -> [(image: ClaimedImage, size: Int64?)]
    {
        let rows = try await c.rows(q.eligiblePage, [scrubTime, after, pageSize])
        let ids: [String] = try rows.map { try $0[0] }
        let locations = try await c.pendingLocations(of: ids, q)
        return try rows.map { row in
            let id: String = try row[0]
            return (ClaimedImage(imageID: id, claimToken: "", attempts: 0, locations: locations[id] ?? []), try row[1])
        }
    }
}
