import ScrubberCore
import ScrubberSQL
import Testing

/// One list of migrations, read by both databases (``catalogMigrations``): its two columns must
/// say the same thing, and each database must record every name once upgraded.
@Suite struct MigrationTests {
    @Test func namesAreNumberedInOrderOnceEach() {
        let names = catalogMigrations.map(\.name)
        #expect(Set(names).count == names.count)
        for (index, name) in names.enumerated() {
            #expect(name.hasPrefix(String(format: "%03d_", index + 1)), "\(name) out of order")
        }
    }

    /// Statement by statement, both databases make the same change: the same verb on the same
    /// object (`CREATE TABLE scrub_nodes`, `ALTER TABLE scrub_leader ADD COLUMN paused_at`),
    /// only the column types differ.
    @Test func bothDatabasesRunTheSameStatementsInEachMigration() {
        func head(_ sql: String) -> [String] {
            let words = sql.lowercased().split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "(" }).map(String.init)
            // `alter table T add column C`, `create table T (first_column`, `create index I on T`.
            return Array(words.prefix(words.first == "alter" ? 6 : 4))
        }
        for migration in catalogMigrations {
            #expect(!migration.sqlite.isEmpty, "\(migration.name)")
            #expect(migration.sqlite.count == migration.postgresql.count, "\(migration.name)")
            for (sqlite, postgresql) in zip(migration.sqlite, migration.postgresql) {
                #expect(head(sqlite) == head(postgresql), "\(migration.name): \(sqlite) / \(postgresql)")
            }
        }
    }

    @Test(arguments: [CatalogBackend.sqlite, .postgresql])
    func anUpgradedCatalogRecordsEveryMigrationByName(_ backend: CatalogBackend) async throws {
        let fixture = try await backend.make()
        let names = catalogMigrations.map { "'\($0.name)'" }.joined(separator: ", ")
        #expect(try fixture.count("SELECT count(*) FROM scrub_migrations") == catalogMigrations.count)
        #expect(try fixture.count("SELECT count(*) FROM scrub_migrations WHERE name IN (\(names))") == catalogMigrations.count)
        // A second upgrade (another node starting) runs nothing again.
        try await fixture.catalog.upgrade()
        #expect(try fixture.count("SELECT count(*) FROM scrub_migrations") == catalogMigrations.count)
    }
}
