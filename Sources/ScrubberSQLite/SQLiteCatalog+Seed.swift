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
