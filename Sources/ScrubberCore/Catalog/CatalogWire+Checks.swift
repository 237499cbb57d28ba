extension CatalogWire {
    /// A well-formed request with a value out of range: 400 "invalid <operation> request".
    public struct InvalidRequest: Error, Sendable {
        public var message: String
        public init(_ message: String) { self.message = message }
    }

    // Values every backend must agree on (SQLite would read LIMIT -1 as "no limit").

    static func positive<T: Comparable & Numeric>(_ value: T, _ name: String) throws -> T {
        guard value > 0 else { throw InvalidRequest("\(name) must be positive, got \(value)") }
        return value
    }

    static func nonNegative<T: Comparable & Numeric>(_ value: T, _ name: String) throws -> T {
        guard value >= 0 else { throw InvalidRequest("\(name) must not be negative, got \(value)") }
        return value
    }

    /// A TTL in (0, ``maxTTL``].
    static func ttl(_ value: Double, _ name: String = "ttl") throws -> Double {
        guard value > 0, value <= maxTTL else { throw InvalidRequest("\(name) must be in (0, \(Int(maxTTL))] seconds, got \(value)") }
        return value
    }

    /// An optional field an operation needs, missing: as if the body had no such key.
    static func missing(_ key: String) -> DecodingError {
        .keyNotFound(AnyKey(key), .init(codingPath: [], debugDescription: "\(key) is required"))
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
