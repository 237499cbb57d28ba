import ArgumentParser
import Foundation
import Logging
import ScrubberCore
import ScrubberPostgres
import ScrubberRemote
import ScrubberSQLite
import ScrubberStores

/// Options every command that touches the catalog shares. Precedence: flags, then environment
/// (`SCRUBBER_DB`, `SCRUBBER_NODE_ID`), then the `--config-file`s in order, then defaults.
struct CommonOptions: ParsableArguments {
    @Option(name: .customLong("config-file"), help: "An oslo.config INI file such as glance-scrubber.conf; repeatable, later files win.")
    var configFiles: [String] = []

    @Option(
        help: "Database URL (sqlite:///path, sqlite:////abs/path, postgresql://…) or a SQLite file path; overrides [database] connection."
    )
    var db: String?

    @Option(
        help:
            "Coordinate through a lease service (scrubber serve) at http(s)://HOST:PORT instead of the database; overrides [cluster] coordinator_url."
    )
    var coordinator: String?

    @Option(name: .customLong("token-file"), help: "The lease service's bearer token file; overrides [cluster] token_file.")
    var tokenFile: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .customLong("log-format"), help: "text, or json: every line on stderr is one JSON object.")
    var logFormat: LogFormat = .text

    /// Parsing a command ends here: from now on the errors `Entry` prints at exit take the
    /// command's `--log-format` too, so that with `json` every line on stderr is JSON.
    func validate() throws {
        StandardError.shared.errorFormat = logFormat
    }

    /// Reads and merges the config files, then applies environment and flags.
    func configuration(overrides: (inout ScrubberConfiguration) throws -> Void = { _ in }) throws -> ScrubberConfiguration {
        var ini = INIDocument()
        for file in configFiles {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ConfigError(file: file, message: "cannot read config file: \((error as NSError).localizedDescription)")
            }
            ini.merge(try INIDocument(parsing: text, file: file))
        }
        var config = try ScrubberConfiguration(ini: ini)
        let env = ProcessInfo.processInfo.environment
        if let url = env["SCRUBBER_DB"], !url.isEmpty { config.database = try Self.database(url, source: "SCRUBBER_DB") }
        if let id = env["SCRUBBER_NODE_ID"], !id.isEmpty { config.cluster.nodeID = id }
        if let db { config.database = try Self.database(db, source: "--db") }
        if let coordinator {
            if let problem = ClusterConfiguration.coordinatorURLProblem(coordinator) {
                throw ConfigError(section: "cluster", option: "coordinator_url", message: "--coordinator " + problem)
            }
            config.cluster.coordinatorURL = coordinator
        }
        if let tokenFile { config.cluster.tokenFile = tokenFile }
        try overrides(&config)
        return config
    }

    private static func database(_ text: String, source: String) throws -> DatabaseURL {
        do throws(ConfigError) {
            return try DatabaseURL(parsing: text)
        } catch {
            throw ConfigError(option: source, message: error.message)
        }
    }

    func makeLogger(label: String = "scrubber") -> Logger {
        var logger =
            switch logFormat {
            case .text: Logger(label: label) { StreamLogHandler(label: $0, stream: StandardErrorStream()) }
            case .json: Logger(label: label) { JSONLogHandler(label: $0) }
            }
        logger.logLevel = logLevel
        return logger
    }
}

/// `--log-format`.
enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// The configured database's catalog, upgraded: our tables exist.
enum DatabaseCatalog {
    case sqlite(SQLiteCatalog)
    case postgresql(PostgresCatalog)

    /// What `run`, `status`, `restore` and `serve` use: the protocol, nothing more.
    var catalog: any ScrubCatalog {
        switch self {
        case .sqlite(let catalog): catalog
        case .postgresql(let catalog): catalog
        }
    }

    static func open(_ config: ScrubberConfiguration, logger: Logger) async throws -> DatabaseCatalog {
        guard let database = config.database else {
            throw ConfigError(
                section: "database",
                option: "connection",
                message: "no database configured: set [database] connection in a --config-file, SCRUBBER_DB, or --db"
            )
        }
        switch database {
        case .sqlite(let path):
            let catalog = try SQLiteCatalog(path: path, busyTimeout: config.cluster.busyTimeout) { attempt, error in
                if attempt == 1 || attempt % 20 == 0 {
                    logger.warning("database is locked by another process; retrying (attempt \(attempt)): \(error)")
                }
            }
            try await catalog.upgrade()
            return .sqlite(catalog)
        case .postgresql(let endpoint):
            // Heartbeat, claims, completions, election and leader rounds each hold one connection.
            let catalog = PostgresCatalog(
                endpoint: endpoint,
                connections: config.databasePoolSize ?? 6,
                operationTimeout: config.databaseTimeout,
                logger: logger
            )
            try await catalog.connect(timeout: config.databaseTimeout)
            try await catalog.upgrade()
            return .postgresql(catalog)
        }
    }
}

/// Opens the configured database's catalog and makes sure our tables exist.
func openCatalog(_ config: ScrubberConfiguration, logger: Logger) async throws -> any ScrubCatalog {
    try await DatabaseCatalog.open(config, logger: logger).catalog
}

/// What nodes, `status` and `restore` coordinate through: the lease service when a
/// coordinator is configured, else the database.
func openCoordination(_ config: ScrubberConfiguration, logger: Logger) async throws -> any ScrubCatalog {
    guard let url = config.cluster.coordinatorURL else { return try await openCatalog(config, logger: logger) }
    guard let file = config.cluster.tokenFile else {
        throw ConfigError(
            section: "cluster",
            option: "token_file",
            message: "a coordinator (\(url)) needs its bearer token: set [cluster] token_file or --token-file"
        )
    }
    let catalog = try RemoteCatalog(
        url: url,
        token: try TokenFile.read(file),
        tokenSource: file,
        operationTimeout: config.databaseTimeout,
        caFile: config.cluster.coordinatorCAFile,
        logger: logger
    )
    try await catalog.connect()
    return catalog
}

func makeRouter(_ config: ScrubberConfiguration) throws -> StoreRouter {
    try StoreRouter(configuration: config.stores, encryptionKey: config.metadataEncryptionKey)
}
