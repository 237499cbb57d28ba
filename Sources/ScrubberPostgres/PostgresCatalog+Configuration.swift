import Foundation
import NIOSSL
import PostgresNIO
import ScrubberCore

extension PostgresCatalog {
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
            let tls: PostgresClient.Configuration.TLS =
                switch mode {
                case .disable: .disable
                case .prefer: .prefer(settings)
                case .require: .require(settings)
                }
            config = .init(
                host: e.host,
                port: e.port,
                username: e.user ?? Self.defaultUser,
                password: e.password,
                database: e.database,
                tls: tls
            )
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
            let tls: PostgresConnection.Configuration.TLS =
                switch mode {
                case .disable: .disable
                case .prefer: .prefer(try NIOSSLContext(configuration: settings))
                case .require: .require(try NIOSSLContext(configuration: settings))
                }
            config = .init(
                host: e.host,
                port: e.port,
                username: e.user ?? Self.defaultUser,
                password: e.password,
                database: e.database,
                tls: tls
            )
        }
        config.options.connectTimeout = .seconds(Int64(max(1, timeout)))
        return config
    }

    static var defaultUser: String { ProcessInfo.processInfo.environment["USER"] ?? "postgres" }
}
