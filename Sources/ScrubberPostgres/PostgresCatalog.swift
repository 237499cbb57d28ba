import Foundation
import Logging
import PostgresNIO
import ScrubberCore
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
public final class PostgresCatalog: ScrubCatalog {
    public let endpoint: PostgresEndpoint
    let client: PostgresClient
    let queries: CatalogQueries
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
    public init(endpoint: PostgresEndpoint, connections: Int = 6, operationTimeout: Double = 10, logger: Logger,
                clockFunction: String? = nil) {
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
        let endpoint = endpoint, logger = logger
        let config = try Self.connectionConfiguration(endpoint, timeout: timeout)
        try await Self.withDeadline(.seconds(timeout), "no answer from PostgreSQL at \(endpoint) within \(timeout) s") {
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

    // MARK: Configuration

    /// Session settings every connection starts with: a paused or partitioned node must not
    /// hold row locks (other nodes' claims, the leader row) longer than a lease lasts.
    static func sessionParameters(operationTimeout: Double) -> [(String, String)] {
        let ms = Int(operationTimeout * 1000)
        return [
            ("application_name", "scrubber"),
            ("idle_in_transaction_session_timeout", "\(ms)"),
            ("statement_timeout", "\(ms)"),
            ("lock_timeout", "\(ms)"),
            ("TimeZone", "UTC"),
        ]
    }

    enum TLSMode { case disable, prefer, require }

    /// libpq's `sslmode`: `disable`; `allow`/`prefer` (the default: TLS when the server offers
    /// it); `require` (TLS, any certificate); `verify-ca`; `verify-full`.
    static func tls(_ endpoint: PostgresEndpoint) -> (mode: TLSMode, configuration: TLSConfiguration) {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch endpoint.parameters["sslmode"]?.lowercased() {
        case "disable":
            return (.disable, tls)
        case "require":
            tls.certificateVerification = .none
            return (.require, tls)
        case "verify-ca":
            tls.certificateVerification = .noHostnameVerification
            return (.require, tls)
        case "verify-full":
            return (.require, tls)
        default:
            tls.certificateVerification = .none
            return (.prefer, tls)
        }
    }

    static func clientConfiguration(_ e: PostgresEndpoint, operationTimeout: Double) -> PostgresClient.Configuration {
        var config: PostgresClient.Configuration
        if let socket = e.unixSocketPath {
            config = .init(unixSocketPath: socket, username: e.user ?? Self.defaultUser, password: e.password, database: e.database)
        } else {
            let (mode, settings) = tls(e)
            let tls: PostgresClient.Configuration.TLS = switch mode {
            case .disable: .disable
            case .prefer: .prefer(settings)
            case .require: .require(settings)
            }
            config = .init(host: e.host, port: e.port, username: e.user ?? Self.defaultUser, password: e.password,
                           database: e.database, tls: tls)
        }
        config.options.connectTimeout = .seconds(Int64(max(1, operationTimeout)))
        config.options.additionalStartupParameters = sessionParameters(operationTimeout: operationTimeout)
        return config
    }

    static func connectionConfiguration(_ e: PostgresEndpoint, timeout: Double) throws -> PostgresConnection.Configuration {
        var config: PostgresConnection.Configuration
        if let socket = e.unixSocketPath {
            config = .init(unixSocketPath: socket, username: e.user ?? Self.defaultUser, password: e.password, database: e.database)
        } else {
            let (mode, settings) = tls(e)
            let tls: PostgresConnection.Configuration.TLS = switch mode {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: settings))
            case .require: .require(try NIOSSLContext(configuration: settings))
            }
            config = .init(host: e.host, port: e.port, username: e.user ?? Self.defaultUser, password: e.password,
                           database: e.database, tls: tls)
        }
        config.options.connectTimeout = .seconds(Int64(max(1, timeout)))
        return config
    }

    static var defaultUser: String { ProcessInfo.processInfo.environment["USER"] ?? "postgres" }

    // MARK: Running SQL

    /// Transactions retried after a serialization failure or a deadlock, since the catalog was
    /// made: each is a wait PostgreSQL imposed (a deadlock costs its 1 s `deadlock_timeout`).
    public var transientRetries: Int { retries.load(ordering: .relaxed) }

    /// Runs `body` in one transaction on a pooled connection, within the operation deadline;
    /// retries serialization failures and deadlocks.
    func transaction<T: Sendable>(_ name: String = #function, _ body: @escaping @Sendable (SQLTransaction) async throws -> T) async throws -> T {
        let client = client, logger = logger, endpoint = endpoint
        var attempt = 0
        let started = ContinuousClock.now
        defer {
            let took = ContinuousClock.now - started
            if took > .seconds(1) {
                logger.warning("slow database operation", metadata: ["operation": "\(name)", "seconds": "\(took.seconds)"])
            } else {
                logger.trace("database operation", metadata: ["operation": "\(name)", "seconds": "\(took.seconds)"])
            }
        }
        while true {
            do {
                return try await Self.withDeadline(operationTimeout, "PostgreSQL at \(endpoint) did not answer within \(operationTimeout)") {
                    try await client.withConnection { connection in
                        try await SQLTransaction.run(on: connection, logger: logger, body)
                    }
                }
            } catch let error as PSQLError where Self.isTransient(error) && attempt < 20 {
                attempt += 1
                retries.add(1, ordering: .relaxed)
                try await Task.sleep(for: .milliseconds(5 << min(attempt, 6)))
            } catch {
                throw Self.explain(error, endpoint: endpoint)
            }
        }
    }

    /// Runs `body` outside a transaction (one statement sees one snapshot).
    func read<T: Sendable>(_ body: @escaping @Sendable (SQLTransaction) async throws -> T) async throws -> T {
        let client = client, logger = logger, endpoint = endpoint
        do {
            return try await Self.withDeadline(operationTimeout, "PostgreSQL at \(endpoint) did not answer within \(operationTimeout)") {
                try await client.withConnection { connection in
                    try await body(SQLTransaction(connection: connection, logger: logger))
                }
            }
        } catch {
            throw Self.explain(error, endpoint: endpoint)
        }
    }

    /// 40001 serialization_failure, 40P01 deadlock_detected.
    static func isTransient(_ error: PSQLError) -> Bool {
        ["40001", "40P01"].contains(error.serverInfo?[.sqlState] ?? "")
    }

    /// Runs `operation` in a task of its own and gives up on it after `timeout`: a query on a
    /// connection whose server vanished may never return, and the caller must get on (the
    /// abandoned operation may still finish; every operation is safe to repeat).
    static func withDeadline<T: Sendable>(_ timeout: Duration, _ message: @autoclosure () -> String,
                                          _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let message = message()
        let outcome = Outcome<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                outcome.start(continuation)
                let work = Task {
                    do { outcome.finish(.success(try await operation())) } catch { outcome.finish(.failure(error)) }
                }
                let timer = Task {
                    try? await Task.sleep(for: timeout)
                    if !Task.isCancelled, outcome.finish(.failure(CatalogError.unavailable(message))) { work.cancel() }
                }
                outcome.onFinish { timer.cancel() }
            }
        } onCancel: {
            outcome.finish(.failure(CancellationError()))
        }
    }

    /// Turns driver errors into messages an operator can act on.
    static func explain(_ error: any Error, endpoint: PostgresEndpoint) -> any Error {
        if error is CatalogError || error is RestoreRefusal || error is CancellationError { return error }
        guard let error = error as? PSQLError else { return error }
        if let state = error.serverInfo?[.sqlState] {
            let message = error.serverInfo?[.message] ?? "\(error)"
            switch state {
            case "28P01", "28000":
                return CatalogError.unavailable("PostgreSQL at \(endpoint) refused the login: \(message); check the user and password in [database] connection")
            case "3D000":
                return CatalogError.unavailable("PostgreSQL at \(endpoint): \(message); create the database or fix [database] connection")
            case "42501":
                return CatalogError.unavailable("PostgreSQL at \(endpoint): \(message); the scrubber's user needs read/write access to Glance's tables and CREATE for its own")
            case "57P01", "57P02", "57P03", "08000", "08003", "08006":
                return CatalogError.unavailable("PostgreSQL at \(endpoint) is unavailable: \(message)")
            default:
                return CatalogError.unavailable("PostgreSQL at \(endpoint) failed (SQLSTATE \(state)): \(message)")
            }
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown:
            let cause = error.underlying.map { "\($0)" } ?? "\(error.code)"
            return CatalogError.unavailable("cannot reach PostgreSQL at \(endpoint): \(cause)")
        default:
            return CatalogError.unavailable("PostgreSQL at \(endpoint) failed: \(String(reflecting: error))")
        }
    }
}

/// One continuation resumed once, by whichever of the work, the timer or a cancellation comes first.
private final class Outcome<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var early: Result<T, any Error>?
        var done = false
        var onFinish: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        let early: Result<T, any Error>? = state.withLock { state in
            if let early = state.early { return early }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func onFinish(_ body: @escaping @Sendable () -> Void) {
        let now = state.withLock { state in
            if state.done { return true }
            state.onFinish = body
            return false
        }
        if now { body() }
    }

    /// - Returns: whether this call decided the outcome.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        typealias Hand = (continuation: CheckedContinuation<T, any Error>?, hook: (@Sendable () -> Void)?)
        let hand: Hand? = state.withLock { state in
            guard !state.done else { return nil }
            state.done = true
            if state.continuation == nil { state.early = result }
            let hand = (state.continuation, state.onFinish)
            state.continuation = nil
            state.onFinish = nil
            return hand
        }
        guard let hand else { return false }
        hand.continuation?.resume(with: result)
        hand.hook?()
        return true
    }
}

/// Statements in one transaction (or, from ``PostgresCatalog/read(_:)``, autocommitted).
struct SQLTransaction: Sendable {
    let connection: PostgresConnection
    let logger: Logger

    static func run<T: Sendable>(on connection: PostgresConnection, logger: Logger,
                                 _ body: @Sendable (SQLTransaction) async throws -> T) async throws -> T {
        let tx = SQLTransaction(connection: connection, logger: logger)
        _ = try await tx.execute("BEGIN")
        do {
            let value = try await body(tx)
            _ = try await tx.execute("COMMIT")
            return value
        } catch {
            // A failed ROLLBACK means the connection is broken; the pool replaces it.
            _ = try? await tx.execute("ROLLBACK")
            throw error
        }
    }

    /// Runs `sql` with `values` bound to `$1…`; returns its rows and the count of rows it changed.
    func run(_ sql: String, _ values: [(any PostgresDynamicTypeEncodable)?] = []) async throws -> (rows: [PostgresRow], changed: Int) {
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            if let value { binds.append(value) } else { binds.appendNull() }
        }
        let started = ContinuousClock.now
        let future: EventLoopFuture<PostgresQueryResult> = connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        let result = try await future.get()
        logger.trace("statement", metadata: ["sql": "\(sql.prefix(40))", "seconds": "\((ContinuousClock.now - started).seconds)"])
        return (result.rows, result.metadata.rows ?? 0)
    }

    func rows(_ sql: String, _ values: [(any PostgresDynamicTypeEncodable)?] = []) async throws -> [PostgresRow] {
        try await run(sql, values).rows
    }

    @discardableResult
    func execute(_ sql: String, _ values: [(any PostgresDynamicTypeEncodable)?] = []) async throws -> Int {
        try await run(sql, values).changed
    }
}
