import Foundation
import Logging
import PostgresNIO
import ScrubberSQL

/// One pooled connection, lent for one operation (``PostgresCatalog/withConnection(_:_:_:)``):
/// statements run with their parameters bound (`$1…`), in the transaction the catalog opened
/// or autocommitted.
public struct PostgresExecutor: SQLExecutor {
    let connection: PostgresConnection
    let logger: Logger

    @discardableResult
    public func execute(_ sql: String, _ arguments: [any SQLBindable]) async throws -> Int {
        try await run(sql, arguments).changed
    }

    public func rows(_ sql: String, _ arguments: [any SQLBindable]) async throws -> [SQLRow] {
        try await run(sql, arguments).rows.map(Self.row)
    }

    /// Runs `sql`; returns its rows and the count of rows it changed.
    private func run(_ sql: String, _ arguments: [any SQLBindable]) async throws -> (rows: [PostgresRow], changed: Int) {
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument.sqlValue {
            case .null: binds.appendNull()
            case .integer(let integer): binds.append(integer)
            case .real(let real): binds.append(real)
            case .text(let text): binds.append(text)
            case .bool(let bool): binds.append(bool)
            }
        }
        let started = ContinuousClock.now
        let future: EventLoopFuture<PostgresQueryResult> = connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        let result = try await future.get()
        logger.trace("statement", metadata: ["sql": "\(sql.prefix(40))", "seconds": "\((ContinuousClock.now - started).seconds)"])
        return (result.rows, result.metadata.rows ?? 0)
    }

    /// A row's cells by their type: the catalog's queries return booleans, integers, reals and
    /// text (timestamps are cast to text in the SQL).
    static func row(_ row: PostgresRow) throws -> SQLRow {
        var values: [SQLValue] = []
        for (index, cell) in row.enumerated() {
            guard cell.bytes != nil else {
                values.append(.null)
                continue
            }
            switch cell.dataType {
            case .bool: values.append(.bool(try cell.decode(Bool.self)))
            case .int2, .int4, .int8: values.append(.integer(try cell.decode(Int64.self)))
            case .float4, .float8: values.append(.real(try cell.decode(Double.self)))
            case .numeric:
                // Sent in binary: PostgreSQL's digits, which postgres-nio reads as a Decimal.
                values.append(.real(NSDecimalNumber(decimal: try cell.decode(Decimal.self)).doubleValue))
            case .text, .varchar, .bpchar, .name, .uuid:
                values.append(.text(try cell.decode(String.self)))
            default:
                // postgres-nio would read any type as a String (a timestamp's bytes): the query
                // must cast it (`CAST(updated_at AS TEXT)`).
                throw SQLColumnError(index: index, value: .text("a value of PostgreSQL type \(cell.dataType)"), type: SQLValue.self)
            }
        }
        return SQLRow(values)
    }
}
