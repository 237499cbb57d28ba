import Foundation

/// `[database] connection` as an SQLAlchemy URL, or `--db`.
public enum DatabaseURL: Sendable, Hashable, CustomStringConvertible {
    /// A SQLite file (the embedded default). The path is as written: relative to the working directory or absolute.
    case sqlite(path: String)
    /// A PostgreSQL database (Glance's production database).
    case postgresql(PostgresEndpoint)

    /// Parses `sqlite:///relative.db`, `sqlite:////absolute.db`, `postgresql://…`,
    /// `postgresql+psycopg2://…` (any `+driver`), or a plain file path (SQLite).
    /// - Throws: a ``ConfigError`` message (the caller adds file and line).
    public init(parsing text: String) throws(ConfigError) {
        let text = text.trimmingWhitespace()
        guard let sep = text.range(of: "://") else {
            guard !text.isEmpty else { throw ConfigError(message: "empty database URL") }
            self = .sqlite(path: text)
            return
        }
        let scheme = text[..<sep.lowerBound].lowercased()
        let dialect = scheme.split(separator: "+", maxSplits: 1).first.map(String.init) ?? scheme
        var rest = String(text[sep.upperBound...])
        switch dialect {
        case "sqlite":
            guard rest.hasPrefix("/") else {
                throw ConfigError(message: "SQLite URL \(text) must be sqlite:///relative/path or sqlite:////absolute/path")
            }
            rest.removeFirst()
            if let q = rest.firstIndex(of: "?") { rest = String(rest[..<q]) }
            guard !rest.isEmpty else {
                throw ConfigError(message: "SQLite URL \(text) names no file (an in-memory database cannot be shared by scrubber nodes)")
            }
            self = .sqlite(path: rest)
        case "postgresql", "postgres":
            self = .postgresql(try PostgresEndpoint(parsing: rest, url: text))
        default:
            throw ConfigError(message: "unsupported database URL scheme \(scheme) in \(text): use sqlite:/// or postgresql://")
        }
    }

    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:///\(path)"
        case .postgresql(let c): c.description
        }
    }

    /// The URL to write in a config file (the password included).
    public var connectionString: String {
        switch self {
        case .sqlite(let path): "sqlite:///\(path)"
        case .postgresql(let c): c.url
        }
    }
}

/// The parts of a `postgresql://user:password@host:port/database?…` URL.
public struct PostgresEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var user: String?
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var parameters: [String: String]

    init(parsing rest: String, url: String) throws(ConfigError) {
        var rest = Substring(rest)
        var parameters: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                parameters[String(kv[0]).percentDecoded] = kv.count > 1 ? String(kv[1]).percentDecoded : ""
            }
            rest = rest[..<q]
        }
        var database = ""
        if let slash = rest.firstIndex(of: "/") {
            database = String(rest[rest.index(after: slash)...]).percentDecoded
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            if let colon = credentials.firstIndex(of: ":") {
                user = String(credentials[..<colon]).percentDecoded
                password = String(credentials[credentials.index(after: colon)...]).percentDecoded
            } else {
                user = String(credentials).percentDecoded
            }
            rest = rest[rest.index(after: at)...]
        }
        port = 5432
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw ConfigError(message: "bad port in database URL \(Self.redacted(url))")
            }
            port = p
            rest = rest[..<colon]
        }
        host = rest.isEmpty ? (parameters["host"] ?? "localhost") : String(rest).trimmingCharacters(in: ["[", "]"])
        guard !database.isEmpty else {
            throw ConfigError(message: "database URL \(Self.redacted(url)) names no database")
        }
        self.database = database
        self.parameters = parameters
    }

    /// The server's Unix socket when `host` is a directory (`?host=/var/run/postgresql`, as libpq allows).
    public var unixSocketPath: String? {
        host.hasPrefix("/") ? "\(host)/.s.PGSQL.\(port)" : nil
    }

    /// The URL itself, the password included.
    public var url: String {
        func encoded(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }
        var s = "postgresql://"
        if let user { s += encoded(user) + (password.map { ":" + encoded($0) } ?? "") + "@" }
        if !host.hasPrefix("/") { s += (host.contains(":") ? "[\(host)]" : host) + ":\(port)" }
        s += "/\(encoded(database))"
        let query = parameters.sorted { $0.key < $1.key }.map { "\(encoded($0.key))=\(encoded($0.value))" }.joined(separator: "&")
        return query.isEmpty ? s : s + "?" + query
    }

    /// The URL with its password hidden, for logs and errors.
    public var description: String {
        var s = "postgresql://"
        if let user { s += user + (password == nil ? "" : ":***") + "@" }
        return s + "\(host):\(port)/\(database)"
    }

    static func redacted(_ url: String) -> String {
        guard let sep = url.range(of: "://"), let at = url[sep.upperBound...].lastIndex(of: "@"),
            let colon = url[sep.upperBound..<at].firstIndex(of: ":")
        else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }
}

extension String {
    var percentDecoded: String { removingPercentEncoding ?? self }
}
