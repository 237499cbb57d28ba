import Foundation
import Logging
import ScrubberCore
import ScrubberPostgres
import ScrubberSQLite
import ScrubberStores

/// `run --once --dry-run`: what a run would delete, read through a read-only connection, with
/// each location routed (store, decrypted URL, root checks) exactly as a real run routes it.
/// Nothing is written: not the catalog, not membership, not the audit table, not the store.
struct DryRun {
    let config: ScrubberConfiguration
    let logger: Logger

    /// The eligible backlog, read without writing anything.
    private func forEachEligible(_ database: DatabaseURL, _ visit: (ClaimedImage, Int64?) async throws -> Void) async throws {
        switch database {
        case .sqlite(let path):
            try await SQLiteBacklogPreview.forEachEligible(path: path, scrubTime: config.scrubTime, visit)
        case .postgresql(let endpoint):
            let catalog = PostgresCatalog(endpoint: endpoint, connections: 2, operationTimeout: config.databaseTimeout, logger: logger)
            defer { catalog.shutdown() }
            try await catalog.connect(timeout: config.databaseTimeout)
            try await catalog.forEachEligible(scrubTime: config.scrubTime, visit)
        }
    }

    func run() async throws {
        guard let database = config.database else {
            throw ConfigError(
                section: "database",
                option: "connection",
                message: "no database configured: set [database] connection in a --config-file, SCRUBBER_DB, or --db"
            )
        }
        let router = try makeRouter(config)
        var images = 0
        var deletions = 0
        var gone = 0
        var failures = 0
        // Bytes the run would free: an image's size (Glance's `images.size`) for each location
        // whose data exists and would be deleted (each location holds a whole copy).
        var bytes: Int64 = 0
        var unsized = 0
        try await forEachEligible(database) { image, size in
            images += 1
            if image.locations.isEmpty {
                print("\(image.imageID)\t-\t-\t-\twould mark deleted (no pending location left)")
            }
            for location in image.locations {
                let (store, routed) = router.route(location)
                var action: String
                var url = "-"
                switch routed {
                case .failure(let error):
                    action = "would fail: \(error)"
                    failures += 1
                case .success(let (backend, target)):
                    url = target.redacted
                    do {
                        if try await backend.exists(target) {
                            action = "would delete" + (size.map { " (\(ByteCount.text($0)))" } ?? " (size unknown)")
                            deletions += 1
                            if let size { bytes += size } else { unsized += 1 }
                        } else {
                            action = "already gone (would record not_found)"
                            gone += 1
                        }
                    } catch {
                        action = "would fail: \(error)"
                        failures += 1
                    }
                }
                print("\(image.imageID)\t\(location.id)\t\(store)\t\(url)\t\(action)")
            }
        }
        let freed = "\(ByteCount.text(bytes)) (\(bytes) bytes)" + (unsized > 0 ? " plus \(unsized) location(s) of unknown size" : "")
        print(
            "dry run: \(images) eligible images; \(deletions) locations would be deleted, freeing \(freed); "
                + "\(gone) already gone, \(failures) would fail; nothing was changed"
        )
    }
}
