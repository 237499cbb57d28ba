import Logging
import ScrubberCore
import ScrubberTestKit

extension DatabaseCatalog {
    /// The catalog with the test kit's seeding and unchecked writes: for `seed`, `demo` and `bench` only.
    var seedable: any SeedableCatalog {
        switch self {
        case .sqlite(let catalog): catalog
        case .postgresql(let catalog): catalog
        }
    }
}

/// Opens the configured database's catalog for seeding or a benchmark, upgraded.
func openSeedableCatalog(_ config: ScrubberConfiguration, logger: Logger) async throws -> any SeedableCatalog {
    try await DatabaseCatalog.open(config, logger: logger).seedable
}

/// How `bench` and `demo` open their throwaway catalog: as a node opens it, with default settings.
@Sendable func openBenchCatalog(_ database: DatabaseURL) async throws -> any SeedableCatalog {
    var config = ScrubberConfiguration()
    config.database = database
    return try await openSeedableCatalog(config, logger: Logger(label: "rehearsal") { _ in SwiftLogNoOpLogHandler() })
}
