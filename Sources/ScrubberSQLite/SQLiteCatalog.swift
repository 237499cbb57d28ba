import Foundation
import GRDB
import ScrubberCore

/// The catalog and coordination protocol on one SQLite file shared by every node process on
/// the host: WAL mode, `BEGIN IMMEDIATE` write transactions, a busy timeout, and a retry of
/// any write that still meets a lock, so a locked database delays work and never loses it.
///
/// The store clock is SQLite's `'now'` (the host's clock), read inside each statement; a
/// simulation may inject its own (``init(path:busyTimeout:onBusy:clock:)``).
public final class SQLiteCatalog: ScrubCatalog {
    /// The file, as given.
    public let path: String
    let pool: DatabasePool
    let queries: CatalogQueries
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
    public init(path: String, busyTimeout: Double = 5, onBusy: @escaping @Sendable (Int, any Error) -> Void = { _, _ in },
                clock: (@Sendable () -> Double)? = nil) throws {
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
    private static func open(_ path: String, _ config: Configuration, busyTimeout: Double,
                             onBusy: @Sendable (Int, any Error) -> Void) throws -> DatabasePool {
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

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction, retrying (with capped backoff, until the
    /// task is cancelled) while another process holds the lock past the busy timeout.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await pool.write(body)
            } catch let error as DatabaseError where Self.isBusy(error) {
                attempt += 1
                onBusy(attempt, error)
                try await Task.sleep(for: .milliseconds(min(1000, 10 << min(attempt, 7))))
            } catch {
                throw Self.explain(error, path: path)
            }
        }
    }

    /// Runs `body` on a read snapshot, with the same retry as ``write(_:)``.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await pool.read(body)
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
            return CatalogError.unavailable("database \(path) is not a SQLite database or is corrupt (\(error.message ?? "\(error)")); restore it from a backup")
        case .SQLITE_READONLY:
            return CatalogError.unavailable("database \(path) is read-only (\(error.message ?? "\(error)")); the scrubber must be able to write it and its directory (WAL files)")
        case .SQLITE_CANTOPEN:
            return CatalogError.unavailable("cannot open database \(path) (\(error.message ?? "\(error)")); check that the file and its directory exist and are writable")
        case .SQLITE_PERM, .SQLITE_AUTH:
            return CatalogError.unavailable("permission denied on database \(path) (\(error.message ?? "\(error)"))")
        default:
            return error
        }
    }

    // MARK: Schema

    public func upgrade() async throws {
        let now = queries.dialect.now
        try await write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS scrub_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            let hasImages = try db.tableExists("images")
            let hasLocations = try db.tableExists("image_locations")
            switch (hasImages, hasLocations) {
            case (false, false): try db.execute(sql: Schema.glanceTables)
            case (true, true): break
            default:
                throw CatalogError.unavailable("database \(self.path) has only one of Glance's images/image_locations tables: it is not a Glance database")
            }
            let applied = try Set(String.fetchAll(db, sql: "SELECT name FROM scrub_migrations"))
            for migration in Schema.migrations where !applied.contains(migration.name) {
                try db.execute(sql: migration.sql)
                try db.execute(
                    sql: "INSERT INTO scrub_migrations (name, applied_at) VALUES (?, \(now))",
                    arguments: [migration.name])
            }
        }
    }

    // MARK: Membership

    public func join(_ node: NodeRegistration, ttl: Double) async throws -> JoinAnswer {
        let q = queries
        return try await write { db in
            let row = try Self.member(node.nodeID, db, q.memberIdentityForUpdate)
            let incarnation = MemberRow.incarnation(joining: node.incarnation, row: row)
            try db.cachedStatement(sql: q.join).execute(arguments: [
                node.nodeID, incarnation, node.host, node.pid, node.version, node.capacity, node.leaderEligible, node.leaderPriority,
                ttl, node.incarnation,
            ])
            guard db.changesCount == 1 else {
                throw (row ?? MemberRow(incarnation: nil, host: "?", pid: 0, expiresIn: ttl, state: "active")).joinRefusal(node.nodeID)
            }
            // The id's previous incarnation (or this one's before its membership lapsed) is
            // gone: its claims are stale, and their outcomes will be lost.
            try db.cachedStatement(sql: q.resetOwnClaims).execute(arguments: [node.nodeID])
            if incarnation != node.incarnation { try db.cachedStatement(sql: q.forgetStepDown).execute(arguments: [node.nodeID]) }
            return JoinAnswer(incarnation: incarnation, storeTime: try Double.fetchOne(db.cachedStatement(sql: q.storeNow)) ?? 0)
        }
    }

    /// The membership row of `nodeID`, read with `sql` (``CatalogQueries/memberIdentity`` or its join variant).
    static func member(_ nodeID: String, _ db: Database, _ sql: String) throws -> MemberRow? {
        try Row.fetchOne(db.cachedStatement(sql: sql), arguments: [nodeID]).map { row in
            MemberRow(incarnation: row[0], host: row[1], pid: row[2], expiresIn: row[3], state: row[4])
        }
    }

    /// Refuses a node-scoped operation of any incarnation but the membership's (DESIGN §3.3).
    static func checkIdentity(_ node: NodeIdentity, _ db: Database, _ q: CatalogQueries) throws {
        try MemberRow.check(member(node.nodeID, db, q.memberIdentity), node)
    }

    public func heartbeat(_ node: NodeIdentity, ttl: Double) async throws -> Bool {
        let q = queries
        return try await write { db in
            try Self.checkIdentity(node, db, q)
            try db.cachedStatement(sql: q.heartbeat).execute(arguments: [ttl, node.nodeID])
            return db.changesCount == 1
        }
    }

    public func leave(_ node: NodeIdentity) async throws {
        let q = queries
        try await write { db in
            try Self.checkIdentity(node, db, q)
            try db.cachedStatement(sql: q.handBackAll).execute(arguments: [node.nodeID])
            try db.cachedStatement(sql: q.markLeft).execute(arguments: [node.nodeID])
        }
    }
}
