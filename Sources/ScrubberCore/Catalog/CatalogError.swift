/// Why a catalog operation could not proceed.
///
/// A struct around a private enum, so a new kind of error is not a breaking change: callers
/// match on ``code`` (`catch let error as CatalogError where error.code == .membershipExpired`),
/// and a code from a newer lease service that this version does not know arrives as itself,
/// with its message, and is retried like ``unavailable(_:)`` (see ``CatalogWire/ErrorBody``).
public struct CatalogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a stable string: the wire carries it, and new ones may be added.
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The node's membership lapsed (store clock): it must stop deleting and rejoin.
        public static let membershipExpired = Code(rawValue: "membership_expired")
        /// The database cannot be used (corrupt, read-only, unreachable…); the message says which.
        public static let unavailable = Code(rawValue: "unavailable")
        /// The lease service refused this node's credentials: retrying cannot help, so the node
        /// stops at once (the message says how to fix it).
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// The lease service refused the request as malformed, unknown or too large: a version
        /// mismatch between node and service or a batch over its body limit, not an outage;
        /// retrying cannot help, so the node stops (the message says which).
        public static let rejected = Code(rawValue: "rejected")
        /// A join was refused: the node id is a live member under another incarnation (another
        /// process runs under this id). The message names the other member.
        public static let nodeIDInUse = Code(rawValue: "node_id_in_use")
        /// A node-scoped operation named an incarnation that is not the one the node's membership
        /// holds: another process joined under this id, or the caller is not the node it names.
        public static let wrongIncarnation = Code(rawValue: "wrong_incarnation")

        public var description: String { rawValue }
    }

    private enum Kind: Sendable, Hashable {
        /// The node is kept for the wire form older peers read (``CatalogWire/ErrorBody``); nil
        /// when the error came from a peer that did not send it.
        case membershipExpired(node: String?)
        case unavailable, unauthorized, rejected, nodeIDInUse, wrongIncarnation
        /// A code this version does not know (a newer peer's): retried as ``unavailable``.
        case unrecognised(Code)
    }

    private let kind: Kind
    /// What happened, for people: the whole of the error's ``description``.
    public let message: String

    private init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var code: Code {
        switch kind {
        case .membershipExpired: .membershipExpired
        case .unavailable: .unavailable
        case .unauthorized: .unauthorized
        case .rejected: .rejected
        case .nodeIDInUse: .nodeIDInUse
        case .wrongIncarnation: .wrongIncarnation
        case .unrecognised(let code): code
        }
    }

    public var description: String { message }

    /// Errors no retry can fix: a node stops rather than retrying forever.
    public var isFatal: Bool {
        switch kind {
        case .unauthorized, .rejected, .nodeIDInUse, .wrongIncarnation: true
        case .membershipExpired, .unavailable, .unrecognised: false
        }
    }

    /// For loops that retry whatever fails: lets only the errors no retry can fix through.
    public static func rethrowIfFatal(_ error: any Error) throws {
        if let error = error as? CatalogError, error.isFatal { throw error }
    }

    /// Two errors are the same when their code and message are.
    public static func == (lhs: CatalogError, rhs: CatalogError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }

    // MARK: Making one

    /// ``Code/membershipExpired``: the membership of `node` lapsed.
    public static func membershipExpired(_ node: String) -> CatalogError {
        CatalogError(
            .membershipExpired(node: node),
            "membership of node \(node) has expired (no heartbeat within node_ttl); its work may have been reassigned"
        )
    }

    /// ``Code/unavailable``.
    public static func unavailable(_ message: String) -> CatalogError { CatalogError(.unavailable, message) }

    /// ``Code/unauthorized``.
    public static func unauthorized(_ message: String) -> CatalogError { CatalogError(.unauthorized, message) }

    /// ``Code/rejected``.
    public static func rejected(_ message: String) -> CatalogError { CatalogError(.rejected, message) }

    /// ``Code/nodeIDInUse``.
    public static func nodeIDInUse(_ message: String) -> CatalogError { CatalogError(.nodeIDInUse, message) }

    /// ``Code/wrongIncarnation``.
    public static func wrongIncarnation(_ message: String) -> CatalogError { CatalogError(.wrongIncarnation, message) }
}

// MARK: On the wire (CatalogWire.ErrorBody)

extension CatalogError {
    /// The error a peer named by `code`: any code this version does not know is kept as it came.
    init(code: Code, message: String) {
        let kind: Kind =
            switch code {
            case .membershipExpired: .membershipExpired(node: nil)
            case .unavailable: .unavailable
            case .unauthorized: .unauthorized
            case .rejected: .rejected
            case .nodeIDInUse: .nodeIDInUse
            case .wrongIncarnation: .wrongIncarnation
            default: .unrecognised(code)
            }
        self.init(kind, message)
    }

    /// The form of error body version 1, a Swift enum's synthesised coding with one unlabelled
    /// value (`{"membershipExpired":{"_0":"node-a"}}`), as nodes and services before version 2
    /// read and write it. Its cases can never grow: such a peer cannot read the whole body then.
    struct Legacy: Codable, Sendable {
        enum Case: String, CodingKey, CaseIterable {
            case membershipExpired, unavailable, unauthorized, rejected, nodeIDInUse, wrongIncarnation
        }

        enum ValueKey: String, CodingKey {
            case value = "_0"
        }

        var `case`: Case
        var value: String

        init(_ case: Case, _ value: String) {
            self.case = `case`
            self.value = value
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Case.self)
            guard container.allKeys.count == 1, let key = container.allKeys.first else {
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: container.codingPath,
                        debugDescription: "a catalog error has exactly one case"
                    )
                )
            }
            self.case = key
            value = try container.nestedContainer(keyedBy: ValueKey.self, forKey: key).decode(String.self, forKey: .value)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Case.self)
            var nested = container.nestedContainer(keyedBy: ValueKey.self, forKey: self.case)
            try nested.encode(value, forKey: .value)
        }

        var error: CatalogError {
            switch self.case {
            case .membershipExpired: .membershipExpired(value)
            case .unavailable: .unavailable(value)
            case .unauthorized: .unauthorized(value)
            case .rejected: .rejected(value)
            case .nodeIDInUse: .nodeIDInUse(value)
            case .wrongIncarnation: .wrongIncarnation(value)
            }
        }
    }

    /// What a peer before version 2 is told: the same error where it has one; a code added
    /// since reads as unavailable (a retry, as a version-2 peer treats a code it does not know).
    /// Nil for a lapsed membership whose node is unknown (it came from a peer that did not say).
    var legacy: Legacy? {
        switch kind {
        case .membershipExpired(let node): node.map { Legacy(.membershipExpired, $0) }
        case .unavailable: Legacy(.unavailable, message)
        case .unauthorized: Legacy(.unauthorized, message)
        case .rejected: Legacy(.rejected, message)
        case .nodeIDInUse: Legacy(.nodeIDInUse, message)
        case .wrongIncarnation: Legacy(.wrongIncarnation, message)
        case .unrecognised: Legacy(.unavailable, message)
        }
    }
}
