import GRDB
import ScrubberCore
import ScrubberSQL

/// One GRDB connection, lent for one operation (``SQLiteCatalog/withConnection(_:_:_:)``): it
/// must not outlive it. Statements are prepared once per connection and cached: with JSON list
/// parameters (``SQLDialect/jsonLists``) every statement has one shape whatever its list's length.
public struct SQLiteConnection: SQLExecutor, @unchecked Sendable {
    let db: Database

    init(_ db: Database) {
        self.db = db
    }

    /// Runs `body` with this connection on the calling thread (GRDB's), to its end.
    func run<T>(_ body: @escaping @Sendable (SQLiteConnection) async throws -> T) throws -> T {
        let connection = self
        return try InlineTaskExecutor.run { try await Self.$lent.withValue(true) { try await body(connection) } }
    }

    /// Set while an operation holds a connection: an operation that called the catalog again
    /// would wait for GRDB's thread, which is blocked running it (GRDB itself stops a
    /// synchronous re-entry; here it would hang). ``SQLiteCatalog/withConnection(_:_:_:)`` refuses.
    @TaskLocal static var lent = false

    @discardableResult
    public func execute(_ sql: String, _ arguments: [any SQLBindable]) async throws -> Int {
        try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
        return db.changesCount
    }

    public func rows(_ sql: String, _ arguments: [any SQLBindable]) async throws -> [SQLRow] {
        let cursor = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: Self.arguments(arguments))
        var rows: [SQLRow] = []
        while let row = try cursor.next() {
            rows.append(SQLRow(row.databaseValues.map(Self.value)))
        }
        return rows
    }

    static func arguments(_ values: [any SQLBindable]) -> StatementArguments {
        StatementArguments(
            values.map { value -> DatabaseValue in
                switch value.sqlValue {
                case .null: .null
                case .integer(let integer): integer.databaseValue
                case .real(let real): real.databaseValue
                case .text(let text): text.databaseValue
                case .bool(let bool): bool.databaseValue
                }
            }
        )
    }

    static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: .null
        case .int64(let integer): .integer(integer)
        case .double(let real): .real(real)
        case .string(let text): .text(text)
        case .blob(let data): .text(String(decoding: data, as: UTF8.self))
        }
    }
}
