import GRDB
import ScrubberCore
import ScrubberStores

extension SQLiteCatalog: SeedableCatalog {
    public func seed(_ spec: SeedSpec) async throws -> [SeededImage] {
        let q = queries
        return try await spec.seed { batch in
            try await write { db in
                for chunk in batch.images.chunks(of: CatalogQueries.rowsPerStatement(columns: 9)) {
                    var arguments = StatementArguments()
                    for image in chunk {
                        arguments += [image.seeded.id, image.name, batch.size, batch.status, batch.created, batch.updated,
                                      batch.deletedAt, batch.deleted, batch.visibility]
                    }
                    try db.makeStatement(sql: q.seedImages(chunk.count)).execute(arguments: arguments)
                }
                let locations = batch.images.flatMap { image in image.values.map { (image.seeded.id, $0) } }
                for chunk in locations.chunks(of: CatalogQueries.rowsPerStatement(columns: 8)) {
                    var arguments = StatementArguments()
                    for (image, value) in chunk {
                        arguments += [image, value, batch.created, batch.updated, batch.deletedAt, batch.deleted,
                                      batch.metaData, batch.locationStatus]
                    }
                    try db.makeStatement(sql: q.seedLocations(chunk.count)).execute(arguments: arguments)
                }
            }
        }
    }
}

extension SQLiteCatalog {
    public func markDeletedUnchecked(imageIDs: [String]) async throws {
        let q = queries
        try await write { db in
            for ids in imageIDs.chunks(of: CatalogQueries.maxListLength) {
                let list = JSONList(ids).text
                try db.cachedStatement(sql: q.referenceLocationsDeleted(ids.count)).execute(arguments: [list])
                try db.cachedStatement(sql: q.referenceImagesDeleted(ids.count)).execute(arguments: [list])
            }
        }
    }

    public func forgetSweep() async throws {
        try await write { db in try db.execute(sql: CatalogQueries.forgetSweep) }
    }

    /// SQLite keeps no count of rows read.
    public func imagesRowsRead() async throws -> Int? { nil }

    public func imageStates(_ ids: [String]) async throws -> [String: ImageState] {
        let q = queries
        var states: [String: ImageState] = [:]
        for page in ids.chunks(of: 10_000) {
            let rows = try await read { db in
                try Row.fetchAll(db.cachedStatement(sql: q.imageStates(page.count)), arguments: [JSONList(page).text])
                    .map { row -> (String, ImageState) in (row[0], ImageState(status: row[1], pendingLocations: row[2])) }
            }
            for (id, state) in rows { states[id] = state }
        }
        return states
    }
}
