import Foundation
import Logging
import PostgresNIO
import ScrubberCore
import ScrubberSQL
import Synchronization

/// The catalog and coordination protocol on PostgreSQL, Glance's production database, for
/// nodes on many hosts: a small connection pool (postgres-nio's `PostgresClient`),
/// READ COMMITTED transactions with row locks where two nodes could meet (`FOR UPDATE`,
/// `SKIP LOCKED`, `FOR SHARE` on the fencing rows), and the server's `clock_timestamp()` as the
/// only clock.
///
/// Every operation has a deadline: postgres-nio waits forever for a connection while the server
/// is down or refuses the password, so an operation that cannot finish in time throws
/// ``CatalogError/unavailable(_:)`` and the node's loops retry it. Serialization failures and
/// deadlocks are retried here.
public final class PostgresCatalog: SQLCatalog {
    public let endpoint: PostgresEndpoint
    let client: PostgresClient
    public let queries: CatalogQueries
    let logger: Logger
    /// How long one operation (a transaction, with waiting for a connection) may take.
    let operationTimeout: Duration
    private let retries = Atomic<Int>(0)
    private let runner: Mutex<Task<Void, Never>?> = Mutex(nil)

    /// - Parameters:
    ///   - connections: the pool's size: a node runs its heartbeat, claims, completions and
    ///     leader rounds concurrently, one connection each.
    ///   - operationTimeout: seconds one operation may take before it counts as failed.
    ///   - logger: for the driver's background messages (connection loss, reconnects).
    /// - Parameter clockFunction: the SQL function the store clock is read through, for
    ///   deterministic simulations (``SQLDialect/postgresql(clockFunction:)``); nil (the default,
    ///   always in production) reads the server's clock.
    public init(
        endpoint: PostgresEndpoint,
        connections: Int = 6,
        operationTimeout: Double = 10,
        logger: Logger,
        clockFunction: String? = nil
    ) {
        self.endpoint = endpoint
        queries = CatalogQueries(dialect: clockFunction.map { SQLDialect.postgresql(clockFunction: $0) } ?? .postgresql)
        self.logger = logger
        self.operationTimeout = .seconds(operationTimeout)
        var config = Self.clientConfiguration(endpoint, operationTimeout: operationTimeout)
        config.options.minimumConnections = 1
        config.options.maximumConnections = max(2, connections)
        config.options.connectionIdleTimeout = .seconds(60)
        // The driver reports each failed reconnect at info: an outage would flood the log.
        var driverLogger = logger
        driverLogger.logLevel = max(logger.logLevel, .warning)
        client = PostgresClient(configuration: config, backgroundLogger: driverLogger)
    }

    deinit {
        runner.withLock { $0?.cancel() }
    }

    /// Checks that the server answers and accepts the credentials, within `timeout` seconds,
    /// with one direct connection (the pool would wait forever), then starts the pool.
    /// - Throws: ``CatalogError/unavailable(_:)`` saying what is wrong.
    public func connect(timeout: Double = 10) async throws {
        let endpoint = endpoint
        let logger = logger
        let config = try Self.connectionConfiguration(endpoint, timeout: timeout)
        try await withDeadline(.seconds(timeout), "no answer from PostgreSQL at \(endpoint) within \(timeout) s") {
            do {
                let connection = try await PostgresConnection.connect(configuration: config, id: 0, logger: logger)
                try? await connection.close()
            } catch {
                throw Self.explain(error, endpoint: endpoint)
            }
        }
        runner.withLock { task in
            guard task == nil else { return }
            let client = client
            task = Task { await client.run() }
        }
    }

    /// Stops the pool (in-flight operations fail).
    public func shutdown() {
        runner.withLock { task in
            task?.cancel()
            task = nil
        }
    }

    public var databaseName: String { "\(endpoint)" }

    // MARK: Running SQL

    /// Transactions retried after a serialization failure or a deadlock, since the catalog was
    /// made: each is a wait PostgreSQL imposed (a deadlock costs its 1 s `deadlock_timeout`).
    public var transientRetries: Int { retries.load(ordering: .relaxed) }

    /// Runs `body` on a pooled connection within the operation deadline: in one transaction
    /// (postgres-nio's `withTransaction`) for ``SQLAccess/write``, retried after a
    /// serialization failure or a deadlock; autocommitted statements for ``SQLAccess/read``.
    public func withConnection<T: Sendable>(
        _ access: SQLAccess,
        _ operation: String,
        _ body: @escaping @Sendable (PostgresExecutor) async throws -> T
    ) async throws -> T {
        let client = client
        let logger = logger
        let endpoint = endpoint
        let timeout = operationTimeout
        let started = ContinuousClock.now
        defer {
            let took = ContinuousClock.now - started
            if took > .seconds(1) {
                logger.warning("slow database operation", metadata: ["operation": "\(operation)", "seconds": "\(took.seconds)"])
            } else {
                logger.trace("database operation", metadata: ["operation": "\(operation)", "seconds": "\(took.seconds)"])
            }
        }
        var attempt = 0
        while true {
            do {
                return try await withDeadline(timeout, "PostgreSQL at \(endpoint) did not answer within \(timeout)") {
                    try await client.withConnection { connection in
                        let executor = PostgresExecutor(connection: connection, logger: logger)
                        switch access {
                        case .read:
                            return try await body(executor)
                        case .write:
                            do {
                                return try await connection.withTransaction(logger: logger) { _ in try await body(executor) }
                            } catch let error as PostgresTransactionError {
                                // What failed: BEGIN, the body, or COMMIT (a failed ROLLBACK
                                // means the connection is broken; the pool replaces it).
                                throw error.beginError ?? error.closureError ?? error.commitError ?? error
                            }
                        }
                    }
                }
            } catch let error as PSQLError where access == .write && Self.isTransient(error) && attempt < 20 {
                attempt += 1
                retries.add(1, ordering: .relaxed)
                try await Task.sleep(for: .milliseconds(5 << min(attempt, 6)))
            } catch {
                throw Self.explain(error, endpoint: endpoint)
            }
        }
    }
}
