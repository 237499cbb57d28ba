extension CatalogWire {
    /// Every non-2xx answer, readable by peers of every version.
    ///
    /// - Version 1 (no `version` field): `kind`, `message`, and for a ``CatalogError`` the
    ///   error as a Swift enum's synthesised coding, `"catalogError":{"membershipExpired":{"_0":"node-a"}}`,
    ///   which a peer fails to read whole if it does not know the case.
    /// - Version 2 adds `"version":2` and the error's stable ``CatalogError/code``, its message
    ///   being the body's; it still writes `catalogError` for peers of version 1 (who ignore the
    ///   fields they do not know), a code they cannot know as `unavailable`.
    ///
    /// A reader takes `code` when present, else `catalogError`. A code it does not know (a newer
    /// peer's) becomes a ``CatalogError`` with that code and message which is not fatal: it is
    /// retried like ``CatalogError/unavailable(_:)``. A `kind` it does not know is kept too, so
    /// the rest of the body still reads.
    public struct ErrorBody: Codable, Sendable {
        /// The version this one writes.
        public static let currentVersion = 2

        /// What class of failure the answer is: open, so a newer peer's kind does not make the
        /// body unreadable.
        public struct Kind: RawRepresentable, Hashable, Codable, Sendable {
            public var rawValue: String
            public init(rawValue: String) { self.rawValue = rawValue }

            public static let badRequest = Kind(rawValue: "bad_request")
            public static let unauthorized = Kind(rawValue: "unauthorized")
            public static let tooLarge = Kind(rawValue: "too_large")
            public static let notFound = Kind(rawValue: "not_found")
            /// A ``CatalogError`` (other than the two below).
            public static let catalog = Kind(rawValue: "catalog")
            public static let restoreRefused = Kind(rawValue: "restore_refused")
            public static let serverError = Kind(rawValue: "internal")
            /// A join refused: the node id is live under another incarnation.
            public static let nodeIDInUse = Kind(rawValue: "node_id_in_use")
            /// A node-scoped request whose incarnation is not the membership's.
            public static let wrongIncarnation = Kind(rawValue: "wrong_incarnation")
        }

        public var kind: Kind
        public var message: String
        /// The format the body was read in (1: a peer that did not say); a body is written in
        /// ``currentVersion``.
        public var version: Int
        /// For ``Kind/catalog`` and the kinds of the catalog errors that have their own: the
        /// error to rethrow on the client.
        public var catalogError: CatalogError?
        /// For ``Kind/restoreRefused``.
        public var refusal: RestoreRefusal?

        public init(kind: Kind, message: String, catalogError: CatalogError? = nil, refusal: RestoreRefusal? = nil) {
            self.kind = kind
            self.message = message
            version = Self.currentVersion
            self.catalogError = catalogError
            self.refusal = refusal
        }

        /// The answer to a catalog error, of the kind older peers expect for it.
        public init(_ error: CatalogError) {
            let kind: Kind =
                switch error.code {
                case .nodeIDInUse: .nodeIDInUse
                case .wrongIncarnation: .wrongIncarnation
                default: .catalog
                }
            self.init(kind: kind, message: error.message, catalogError: error)
        }

        enum CodingKeys: String, CodingKey {
            case kind, message, version, code, catalogError, refusal
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try c.decode(Kind.self, forKey: .kind)
            message = try c.decode(String.self, forKey: .message)
            version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
            refusal = try c.decodeIfPresent(RestoreRefusal.self, forKey: .refusal)
            if let code = try c.decodeIfPresent(CatalogError.Code.self, forKey: .code) {
                catalogError = CatalogError(code: code, message: message)
            } else {
                // Lenient: a body is still read (as a refusal) if its error is not one we know.
                catalogError = (try? c.decodeIfPresent(CatalogError.Legacy.self, forKey: .catalogError))?.error
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(kind, forKey: .kind)
            try c.encode(message, forKey: .message)
            try c.encode(Self.currentVersion, forKey: .version)
            if let catalogError {
                try c.encode(catalogError.code, forKey: .code)
                try c.encodeIfPresent(catalogError.legacy, forKey: .catalogError)
            }
            try c.encodeIfPresent(refusal, forKey: .refusal)
        }
    }
}
