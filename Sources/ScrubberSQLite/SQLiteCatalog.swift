import Foundation
import GRDB
import ScrubberCore
import ScrubberSQL

/// The catalog and coordination protocol on one SQLite file shared by every node process on
/// the host: WAL mode, `BEGIN IMMEDIATE` write transactions, a busy timeout, and a retry of
/// any write that still meets a lock, so a locked database delays work and never loses it.
///
/// The store clock is SQLite's `'now'` (the host's clock), read inside each statement; a
/// simulation may inject its own (``init(path:busyTimeout:onBusy:clock:)``).
public final class SQLiteCatalog: SQLCatalog {
    /// The file, as given.
    public let path: String
    let pool: DatabasePool
    public let queries: CatalogQueries
    /// The SQL function a catalog with an injected clock reads it through.
    static let clockFunction = "scrub_clock"
    private let onBusy: @Sendable (Int, any Error) -> Void

    /// Opens (creating if needed) the SQLite catalog at `path`. Call ``upgrade()`` before use.
    ///
    /// - Parameters:
    ///   - busyTimeout: how long one statement waits on another process's lock before the whole
    ///     transaction is retried.
    ///   - onBusy: told of each retry (attempt number, error), for logging.
    ///   - clock: the store clock in seconds since 1970, for deterministic simulations; nil (the
    ///     default, always in production) reads the host's clock through SQLite's `'now'`. When
    ///     set, every statement reads it through the SQL function `scrub_clock()` instead, and
    ///     other processes sharing the file must not use the catalog (they lack the function).
    /// - Throws: ``CatalogError/unavailable(_:)`` when the file cannot be opened as a database.
    public init(
        path: String,
        busyTimeout: Double = 5,
        onBusy: @escaping @Sendable (Int, any Error) -> Void = { _, _ in },
        clock: (@Sendable () -> Double)? = nil
    ) throws {
        self.path = path
        self.onBusy = onBusy
        queries = CatalogQueries(dialect: clock == nil ? .sqlite : .sqlite(clockFunction: Self.clockFunction))
        let function = clock.map { clock in
            DatabaseFunction(Self.clockFunction, argumentCount: 0, pure: false) { _ in clock() }
        }
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.prepareDatabase { db in
            if let function { db.add(function: function) }
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // The writer's page cache holds the pages a batch's writes touch, so the next batch
            // (the neighbouring rows of the leader's sweep) finds them there: 32 MiB, a bound
            // whatever the backlog (readers keep SQLite's 2 MiB). No mmap: mapped pages count in
            // the process's RSS and grow with the file; a 1,000,000-image catalog is 700 MB.
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA cache_size = -32768")
            }
        }
        pool = try Self.open(path, config, busyTimeout: busyTimeout, onBusy: onBusy)
    }

    /// Opens the pool, which switches the file to WAL. Two processes opening a file still in
    /// rollback-journal mode at once (two nodes starting on a fresh Glance database) can be
    /// refused at once, the busy handler never called: SQLite will not let one wait for a lock
    /// the other holds while wanting one it holds (seen: `database is locked` from
    /// `PRAGMA journal_mode = WAL`, one node in three exiting). So a busy open is retried, for
    /// up to `busyTimeout`, as a busy statement is.
    private static func open(
        _ path: String,
        _ config: Configuration,
        busyTimeout: Double,
        onBusy: @Sendable (Int, any Error) -> Void
    ) throws -> DatabasePool {
        let deadline = ContinuousClock.now + .seconds(busyTimeout)
        var attempt = 0
        while true {
            do {
                return try DatabasePool(path: path, configuration: config)
            } catch let error as DatabaseError where isBusy(error) && ContinuousClock.now < deadline {
                attempt += 1
                onBusy(attempt, error)
                Thread.sleep(forTimeInterval: min(0.5, 0.01 * Double(1 << min(attempt, 6))))
            } catch {
                throw explain(error, path: path)
            }
        }
    }

    public var databaseName: String { path }

    /// Runs `body` on the writer in a `BEGIN IMMEDIATE` transaction (``SQLAccess/write``) or on
    /// a read snapshot, retrying it whole (with capped backoff, until the task is cancelled)
    /// while another process holds the lock past the busy timeout.
    ///
    /// GRDB hands out a connection only inside a synchronous closure, on its own thread; the
    /// operation (async, shared with PostgreSQL) runs there to its end on an
    /// ``InlineTaskExecutor``. None of its awaits suspends: SQLite's calls are synchronous.
    public func withConnection<T: Sendable>(
        _ access: SQLAccess,
        _ operation: String,
        _ body: @escaping @Sendable (SQLiteConnection) async throws -> T
    ) async throws -> T {
        precondition(!SQLiteConnection.lent, "a SQLite catalog operation called the catalog again: it would wait for itself")
        var attempt = 0
        while true {
            do {
                switch access {
                case .write: return try await pool.write { db in try SQLiteConnection(db).run(body) }
                case .read: return try await pool.read { db in try SQLiteConnection(db).run(body) }
                }
            } catch let error as DatabaseError where Self.isBusy(error) {
                attempt += 1
                onBusy(attempt, error)
                try await Task.sleep(for: .milliseconds(min(1000, 10 << min(attempt, 7))))
            } catch {
                throw Self.explain(error, path: path)
            }
        }
    }

    static func isBusy(_ error: DatabaseError) -> Bool {
        error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED
    }

    /// Turns SQLite's errors about the file itself into messages an operator can act on.
    static func explain(_ error: any Error, path: String) -> any Error {
        guard let error = error as? DatabaseError else { return error }
        switch error.resultCode {
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return CatalogError.unavailable(
                "database \(path) is not a SQLite database or is corrupt (\(error.message ?? "\(error)")); restore it from a backup"
            )
        case .SQLITE_READONLY:
            return CatalogError.unavailable(
                "database \(path) is read-only (\(error.message ?? "\(error)")); the scrubber must be able to write it and its directory (WAL files)"
            )
        case .SQLITE_CANTOPEN:
            return CatalogError.unavailable(
                "cannot open database \(path) (\(error.message ?? "\(error)")); check that the file and its directory exist and are writable"
            )
        case .SQLITE_PERM, .SQLITE_AUTH:
            return CatalogError.unavailable("permission denied on database \(path) (\(error.message ?? "\(error)"))")
        default:
            return error
        }
    }
}
