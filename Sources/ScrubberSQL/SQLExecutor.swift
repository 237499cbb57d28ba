import ScrubberCore

/// What the catalog's operations need of a database connection inside one transaction: run a
/// statement, run a query. ``SQLCatalog`` gives it to an operation's body; the SQL is
/// ``CatalogQueries``', rendered for the connection's dialect, with `?` parameters (numbered
/// for PostgreSQL by the rendering).
public protocol SQLExecutor: Sendable {
    /// Runs a statement. - Returns: the count of rows it changed.
    @discardableResult
    func execute(_ sql: String, _ arguments: [any SQLBindable]) async throws -> Int

    /// Runs a query (or a statement with `RETURNING`). - Returns: its rows, in order.
    func rows(_ sql: String, _ arguments: [any SQLBindable]) async throws -> [SQLRow]
}

extension SQLExecutor {
    @discardableResult
    public func execute(_ sql: String) async throws -> Int {
        try await execute(sql, [])
    }

    public func rows(_ sql: String) async throws -> [SQLRow] {
        try await rows(sql, [])
    }

    /// The first row of a query, nil when it returned none.
    public func row(_ sql: String, _ arguments: [any SQLBindable] = []) async throws -> SQLRow? {
        try await rows(sql, arguments).first
    }

    /// The first column of the first row, nil when it returned no row (or NULL).
    public func scalar<T: SQLColumn>(_ sql: String, _ arguments: [any SQLBindable] = [], as type: T.Type = T.self) async throws -> T? {
        guard let row = try await row(sql, arguments) else { return nil }
        return try row[0] as T?
    }
}
