import Foundation
import GRDB
import Logging
import PostgresNIO
import ScrubberCore

/// A value crossing ``SimDatabase``: what the simulation binds and reads, on either database.
enum SimValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    /// Bound only: SQLite stores it as 0/1, PostgreSQL as a boolean; read back as ``integer(_:)``.
    case bool(Bool)

    var string: String? { if case .text(let value) = self { value } else { nil } }
    var int: Int64? {
        switch self {
        case .integer(let value): value
        case .bool(let value): value ? 1 : 0
        default: nil
        }
    }
    var double: Double? {
        switch self {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }
    var isTrue: Bool { (int ?? 0) != 0 }

    var description: String {
        switch self {
        case .null: "NULL"
        case .integer(let value): "\(value)"
        case .real(let value): "\(value)"
        case .text(let value): "\"\(value)\""
        case .bool(let value): "\(value)"
        }
    }
}

/// The database behind a simulated catalog: the simulation seeds it, reads the store's state
/// from it for its checks, and moves the store clock the catalog reads. SQL is written once,
/// with `?` parameters and ``SQLDialect`` tokens (`{true}`, `{timestamp}`), and rendered for
/// each database.
protocol SimDatabase: Sendable {
    func rows(_ sql: String, _ arguments: [SimValue]) async throws -> [[SimValue]]
    func execute(_ sql: String, _ arguments: [SimValue]) async throws
    /// Makes the store clock read `now` from here on.
    func setClock(_ now: Double) async throws
}

extension SimDatabase {
    func rows(_ sql: String) async throws -> [[SimValue]] { try await rows(sql, []) }
    func value(_ sql: String, _ arguments: [SimValue] = []) async throws -> SimValue {
        try await rows(sql, arguments).first?.first ?? .null
    }
}

/// SQLite: the catalog reads the simulation's clock itself (``SQLiteCatalog/init(path:busyTimeout:onBusy:clock:)``).
struct SQLiteSimDatabase: SimDatabase {
    let queue: DatabaseQueue

    static func bind(_ value: SimValue) -> DatabaseValue {
        switch value {
        case .null: .null
        case .integer(let v): v.databaseValue
        case .real(let v): v.databaseValue
        case .text(let v): v.databaseValue
        case .bool(let v): (v ? 1 : 0).databaseValue
        }
    }

    func rows(_ sql: String, _ arguments: [SimValue]) async throws -> [[SimValue]] {
        let sql = SQLDialect.sqlite.render(sql)
        return try await queue.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments.map(Self.bind))).map { row in
                row.databaseValues.map { value in
                    switch value.storage {
                    case .null: .null
                    case .int64(let v): .integer(v)
                    case .double(let v): .real(v)
                    case .string(let v): .text(v)
                    case .blob(let v): .text(String(decoding: v, as: UTF8.self))
                    }
                }
            }
        }
    }

    func execute(_ sql: String, _ arguments: [SimValue]) async throws {
        let sql = SQLDialect.sqlite.render(sql)
        try await queue.write { db in try db.execute(sql: sql, arguments: StatementArguments(arguments.map(Self.bind))) }
    }

    func setClock(_ now: Double) async throws {}
}

/// PostgreSQL: the catalog reads the store clock through `scrub_clock()`
/// (``SQLDialect/postgresql(clockFunction:)``), a function over the one-row table
/// `scrub_test_clock` of the simulation's own database (``StoreClock/postgresqlSchema``), which ``setClock(_:)`` updates.
final class PostgresSimDatabase: SimDatabase {

    private let connection: PostgresConnection
    private let logger = Logger(label: "sim-pg") { _ in SwiftLogNoOpLogHandler() }

    private init(connection: PostgresConnection) {
        self.connection = connection
    }

    static func connect(_ e: PostgresEndpoint) async throws -> PostgresSimDatabase {
        let config = PostgresConnection.Configuration(
            host: e.host,
            port: e.port,
            username: e.user ?? "postgres",
            password: e.password,
            database: e.database,
            tls: .disable
        )
        let logger = Logger(label: "sim-pg") { _ in SwiftLogNoOpLogHandler() }
        return PostgresSimDatabase(connection: try await PostgresConnection.connect(configuration: config, id: 1, logger: logger))
    }

    deinit {
        let connection = connection
        Task { try? await connection.close() }
    }

    private func query(_ sql: String, _ arguments: [SimValue]) throws -> PostgresQuery {
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            case .null: binds.appendNull()
            case .integer(let v): binds.append(v)
            case .real(let v): binds.append(v)
            case .text(let v): binds.append(v)
            case .bool(let v): binds.append(v)
            }
        }
        return PostgresQuery(unsafeSQL: SQLDialect.postgresql.render(sql), binds: binds)
    }

    func rows(_ sql: String, _ arguments: [SimValue]) async throws -> [[SimValue]] {
        var rows: [[SimValue]] = []
        for try await row in try await connection.query(query(sql, arguments), logger: logger) {
            rows.append(
                try row.map { cell in
                    guard cell.bytes != nil else { return .null }
                    switch cell.dataType {
                    case .bool: return .integer(try cell.decode(Bool.self, context: .default) ? 1 : 0)
                    case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self, context: .default))
                    case .float4, .float8, .numeric: return .real(try cell.decode(Double.self, context: .default))
                    default: return .text(try cell.decode(String.self, context: .default))
                    }
                }
            )
        }
        return rows
    }

    func execute(_ sql: String, _ arguments: [SimValue]) async throws {
        _ = try await rows(sql, arguments)
    }

    func setClock(_ now: Double) async throws {
        try await execute("UPDATE scrub_test_clock SET now = ?", [.real(now)])
    }
}
