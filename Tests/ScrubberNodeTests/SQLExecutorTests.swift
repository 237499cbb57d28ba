import Foundation
import Logging
import ScrubberCore
import ScrubberPostgres
import ScrubberSQL
import ScrubberSQLite
import TestSupport
import Testing

/// What the shared operations may rely on of each database's executor: the values a query
/// returns, read the same way on both, and a clear error for a type the catalog does not read.
@Suite(.tags(.startsServers)) struct SQLExecutorTests {
    static let row = "SELECT CAST(1.5 AS numeric), CAST('x' AS varchar), CAST(2 AS smallint), 2.5, 1 = 1, NULL"

    @Test func postgresqlValuesReadAsTheCatalogReadsThem() async throws {
        let server = try await PostgresTestServer.shared()
        let name = try await server.createEmptyDatabase()
        guard case .postgresql(let endpoint) = try DatabaseURL(parsing: server.url(database: name)) else { return }
        let catalog = PostgresCatalog(
            endpoint: endpoint,
            operationTimeout: 30,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
        defer { catalog.shutdown() }
        try await catalog.connect()
        let row = try await catalog.withConnection(.read, "test") { c in try await c.row(Self.row) }
        #expect(row?.values == [.real(1.5), .text("x"), .integer(2), .real(2.5), .bool(true), .null])
        // A type the catalog's queries cast first (a timestamp) is refused, never read as text.
        await #expect(throws: SQLColumnError.self) {
            _ = try await catalog.withConnection(.read, "test") { c in try await c.rows("SELECT now()") }
        }
    }

    @Test func sqliteValuesReadAsTheCatalogReadsThem() async throws {
        let box = try await Sandbox(fresh: true)
        let row = try await box.catalog.withConnection(.read, "test") { c in try await c.row(Self.row) }
        // SQLite has no numeric or boolean storage: 1.5 is a real, `1 = 1` the integer 1, which
        // `Bool` reads as true.
        #expect(row?.values == [.real(1.5), .text("x"), .integer(2), .real(2.5), .integer(1), .null])
        #expect(try row?[4] as Bool? == true)
    }

    /// An operation that called the catalog again would wait for itself (GRDB's thread runs it):
    /// it stops at once instead, as GRDB stops a synchronous re-entry.
    @Test func aSQLiteOperationThatCallsTheCatalogAgainStopsInsteadOfHanging() async {
        await #expect(processExitsWith: .signal(SIGILL)) {  // the precondition, not an error thrown
            let path = NSTemporaryDirectory() + "scrubber-reentry-\(UUID().uuidString).sqlite"
            let catalog = try SQLiteCatalog(path: path)
            _ = try await catalog.withConnection(.write, "outer") { _ in
                try await catalog.withConnection(.read, "inner") { c in try await c.row("SELECT 1") }
            }
        }
    }
}
