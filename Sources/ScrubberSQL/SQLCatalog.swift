import ScrubberCore

/// How an operation uses the database.
public enum SQLAccess: Sendable {
    /// One transaction that may write: SQLite's `BEGIN IMMEDIATE` (it excludes every other
    /// writer), PostgreSQL's READ COMMITTED with the row locks the statements take
    /// (`{lock …}`). Retried whole after a busy database, a serialization failure or a deadlock.
    case write
    /// Reads only: a SQLite read snapshot, PostgreSQL statements outside a transaction.
    case read
}

/// A catalog on a SQL database: every ``ScrubCatalog`` operation is written once, in this
/// module, over ``SQLExecutor``; a backend (``ScrubberSQLite``, ``ScrubberPostgres``) gives
/// only connections, transactions, retries and deadlines.
///
/// Where the two databases differ, the difference is a ``SQLDialect`` token in
/// ``CatalogQueries`` (the clock, row locks, list parameters), never a second copy of an
/// operation.
public protocol SQLCatalog: ScrubCatalog {
    associatedtype Connection: SQLExecutor

    /// The catalog's statements, rendered for this database.
    var queries: CatalogQueries { get }

    /// The database, as an operator names it in a message ("database /var/lib/glance.sqlite").
    var databaseName: String { get }

    /// Runs `body` with a connection, in one transaction for ``SQLAccess/write``, within the
    /// backend's deadline, retrying what the database asks to be retried.
    /// - Parameter operation: names the operation in logs (slow operations).
    func withConnection<T: Sendable>(
        _ access: SQLAccess,
        _ operation: String,
        _ body: @escaping @Sendable (Connection) async throws -> T
    ) async throws -> T
}

extension SQLCatalog {
    func write<T: Sendable>(_ operation: String = #function, _ body: @escaping @Sendable (Connection) async throws -> T) async throws -> T {
        try await withConnection(.write, operation, body)
    }

    func read<T: Sendable>(_ operation: String = #function, _ body: @escaping @Sendable (Connection) async throws -> T) async throws -> T {
        try await withConnection(.read, operation, body)
    }
}
