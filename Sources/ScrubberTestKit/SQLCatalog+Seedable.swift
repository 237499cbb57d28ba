import ScrubberCore
import ScrubberPostgres
import ScrubberSQL
import ScrubberSQLite

/// Seeding and the benchmark's unchecked writes, written once for every SQL catalog over its
/// connections (``SQLCatalog/withConnection(_:_:_:)``).
extension SQLCatalog {
    var seedQueries: SeedQueries { SeedQueries.shared(for: queries.dialect) }

    public func seed(_ spec: SeedSpec) async throws -> [SeededImage] {
        let q = seedQueries
        return try await spec.seed { batch in
            try await withConnection(.write, "seed") { c in
                for chunk in batch.images.chunks(of: CatalogQueries.rowsPerStatement(columns: 9)) {
                    var values: [any SQLBindable] = []
                    for image in chunk {
                        values +=
                            [
                                image.seeded.id, image.name, batch.size, batch.status, batch.created, batch.updated,
                                batch.deletedAt, batch.deleted, batch.visibility,
                            ] as [any SQLBindable]
                    }
                    try await c.execute(q.seedImages(chunk.count), values)
                }
                let locations = batch.images.flatMap { image in image.values.map { (image.seeded.id, $0) } }
                for chunk in locations.chunks(of: CatalogQueries.rowsPerStatement(columns: 8)) {
                    var values: [any SQLBindable] = []
                    for (image, value) in chunk {
                        values +=
                            [
                                image, value, batch.created, batch.updated, batch.deletedAt, batch.deleted,
                                batch.metaData, batch.locationStatus,
                            ] as [any SQLBindable]
                    }
                    try await c.execute(q.seedLocations(chunk.count), values)
                }
            }
        }
    }

    public func markDeletedUnchecked(imageIDs: [String]) async throws {
        let q = seedQueries
        let lists = queries
        try await withConnection(.write, "markDeletedUnchecked") { c in
            for ids in imageIDs.chunks(of: CatalogQueries.maxListLength) {
                try await c.execute(q.referenceLocationsDeleted(ids.count), lists.list(ids))
                try await c.execute(q.referenceImagesDeleted(ids.count), lists.list(ids))
            }
        }
    }

    public func forgetSweep() async throws {
        try await withConnection(.write, "forgetSweep") { c in _ = try await c.execute(SeedQueries.forgetSweep) }
    }

    /// Rows of `images` read by scans and index fetches: PostgreSQL counts them, SQLite does not (nil).
    public func imagesRowsRead() async throws -> Int? {
        guard queries.dialect.engine == .postgresql else { return nil }
        return try await withConnection(.read, "imagesRowsRead") { c in try await c.scalar(SeedQueries.imagesRowsRead) }
    }

    public func imageStates(_ ids: [String]) async throws -> [String: ImageState] {
        let q = seedQueries
        let lists = queries
        var states: [String: ImageState] = [:]
        for page in ids.chunks(of: CatalogQueries.maxListLength) {
            let rows = try await withConnection(.read, "imageStates") { c in
                try await c.rows(q.imageStates(page.count), lists.list(page))
            }
            for row in rows { states[try row[0]] = ImageState(status: try row[1], pendingLocations: try row[2]) }
        }
        return states
    }
}

extension SQLiteCatalog: SeedableCatalog {}
extension PostgresCatalog: SeedableCatalog {}
