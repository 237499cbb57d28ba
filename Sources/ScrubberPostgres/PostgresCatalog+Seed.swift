import PostgresNIO
import ScrubberCore
import ScrubberStores

extension PostgresCatalog: SeedableCatalog {
    public func seed(_ spec: SeedSpec) async throws -> [SeededImage] {
        let q = queries
        return try await spec.seed { batch in
            try await transaction { tx in
                for chunk in batch.images.chunks(of: CatalogQueries.rowsPerStatement(columns: 9)) {
                    var values: [(any PostgresDynamicTypeEncodable)?] = []
                    for image in chunk {
                        values += [image.seeded.id, image.name, batch.size, batch.status, batch.created, batch.updated,
                                   batch.deletedAt, batch.deleted, batch.visibility]
                    }
                    try await tx.execute(q.seedImages(chunk.count), values)
                }
                let locations = batch.images.flatMap { image in image.values.map { (image.seeded.id, $0) } }
                for chunk in locations.chunks(of: CatalogQueries.rowsPerStatement(columns: 8)) {
                    var values: [(any PostgresDynamicTypeEncodable)?] = []
                    for (image, value) in chunk {
                        values += [image, value, batch.created, batch.updated, batch.deletedAt, batch.deleted,
                                   batch.metaData, batch.locationStatus]
                    }
                    try await tx.execute(q.seedLocations(chunk.count), values)
                }
            }
        }
    }
}

extension PostgresCatalog {
    public func markDeletedUnchecked(imageIDs: [String]) async throws {
        let q = queries
        try await transaction { tx in
            for ids in imageIDs.chunks(of: CatalogQueries.maxListLength) {
                _ = try await tx.execute(q.referenceLocationsDeleted(ids.count), ids.map { $0 })
                _ = try await tx.execute(q.referenceImagesDeleted(ids.count), ids.map { $0 })
            }
        }
    }

    public func forgetSweep() async throws {
        try await transaction { tx in _ = try await tx.execute(CatalogQueries.forgetSweep) }
    }

    public func imagesRowsRead() async throws -> Int? {
        try await read { tx in try await tx.rows(CatalogQueries.imagesRowsRead).first?.decode(Int.self) }
    }

    public func imageStates(_ ids: [String]) async throws -> [String: ImageState] {
        let q = queries
        var states: [String: ImageState] = [:]
        for page in ids.chunks(of: CatalogQueries.maxListLength) {
            let rows = try await read { tx in
                try await tx.rows(q.imageStates(page.count), page.map { $0 }).map { try $0.decode((String, String, Int).self) }
            }
            for (id, status, pending) in rows { states[id] = ImageState(status: status, pendingLocations: pending) }
        }
        return states
    }
}
