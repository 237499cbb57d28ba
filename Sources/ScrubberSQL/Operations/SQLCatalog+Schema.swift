import ScrubberCore

extension SQLCatalog {
    /// Creates Glance's tables in a database that has neither, then runs the migrations not yet
    /// recorded, in one transaction: several nodes may start at once (PostgreSQL: they queue on
    /// an advisory lock; SQLite: on `BEGIN IMMEDIATE`).
    public func upgrade() async throws {
        let engine = queries.dialect.engine
        let now = queries.dialect.now
        let name = databaseName
        try await write { c in
            switch engine {
            case .sqlite:
                try await c.execute("CREATE TABLE IF NOT EXISTS scrub_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            case .postgresql:
                try await c.execute("SELECT pg_advisory_xact_lock($1)", [Self.upgradeLock])
                try await c.execute(
                    "CREATE TABLE IF NOT EXISTS scrub_migrations (name text PRIMARY KEY, applied_at double precision NOT NULL)"
                )
            }
            let exists =
                switch engine {
                case .sqlite:
                    """
                    SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'images'),
                      EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'image_locations')
                    """
                case .postgresql: "SELECT to_regclass('images') IS NOT NULL, to_regclass('image_locations') IS NOT NULL"
                }
            guard let tables = try await c.row(exists) else { return }
            switch (try tables[0] as Bool, try tables[1] as Bool) {
            case (false, false):
                for statement in GlanceTables.statements(for: engine) { try await c.execute(statement) }
            case (true, true):
                break
            default:
                throw CatalogError.unavailable(
                    "database \(name) has only one of Glance's images/image_locations tables: it is not a Glance database"
                )
            }
            let applied = Set(try await c.rows("SELECT name FROM scrub_migrations").map { try $0[0] as String })
            let record =
                engine == .postgresql
                ? "INSERT INTO scrub_migrations (name, applied_at) VALUES ($1, \(now))"
                : "INSERT INTO scrub_migrations (name, applied_at) VALUES (?, \(now))"
            for migration in catalogMigrations where !applied.contains(migration.name) {
                for statement in migration.statements(for: engine) { try await c.execute(statement) }
                try await c.execute(record, [migration.name])
            }
        }
    }

    /// Serialises concurrent upgrades of a PostgreSQL catalog (`pg_advisory_xact_lock` key: "scrub").
    static var upgradeLock: Int64 { 0x7363_7275_62 }
}
