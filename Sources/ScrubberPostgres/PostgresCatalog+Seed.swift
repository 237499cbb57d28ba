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
