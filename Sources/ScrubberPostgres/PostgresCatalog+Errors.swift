import PostgresNIO
import ScrubberCore

extension PostgresCatalog {
    /// 40001 serialization_failure, 40P01 deadlock_detected.
    static func isTransient(_ error: PSQLError) -> Bool {
        ["40001", "40P01"].contains(error.serverInfo?[.sqlState] ?? "")
    }

    /// Turns driver errors into messages an operator can act on.
    static func explain(_ error: any Error, endpoint: PostgresEndpoint) -> any Error {
        if error is CatalogError || error is RestoreRefusal || error is CancellationError { return error }
        guard let error = error as? PSQLError else { return error }
        if let state = error.serverInfo?[.sqlState] {
            let message = error.serverInfo?[.message] ?? "\(error)"
            switch state {
            case "28P01", "28000":
                return CatalogError.unavailable(
                    "PostgreSQL at \(endpoint) refused the login: \(message); check the user and password in [database] connection"
                )
            case "3D000":
                return CatalogError.unavailable("PostgreSQL at \(endpoint): \(message); create the database or fix [database] connection")
            case "42501":
                return CatalogError.unavailable(
                    "PostgreSQL at \(endpoint): \(message); the scrubber's user needs read/write access to Glance's tables and CREATE for its own"
                )
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
