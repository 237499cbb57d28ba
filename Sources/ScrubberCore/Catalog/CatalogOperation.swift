import Foundation

/// One ``ScrubCatalog`` operation on the wire (``CatalogWire``): its name, its request and its
/// answer, and what it runs on the catalog the lease service fronts. The service's routes and
/// the client (``CatalogTransport``) are derived from these declarations, listed once in
/// ``CatalogWire/operations``; the types are in ``CatalogOperations``.
///
/// Adding an operation: the ``ScrubCatalog`` requirement, a declaration in ``CatalogOperations``
/// with its ``CatalogTransport`` default beside it, an entry in ``CatalogWire/operations``, and
/// its SQL.
public protocol CatalogOperation: Sendable {
    /// The JSON body (a struct of ``CatalogWire``, or the model value that is the parameter).
    associatedtype Request: Codable & Sendable
    /// The JSON answer (a model value, ``CatalogWire/Value`` for a scalar, ``CatalogWire/Empty``).
    associatedtype Answer: Codable & Sendable

    /// Its path is `/v1/<name>`; also the replay cache's key and the logs' word for it.
    static var name: String { get }

    /// Whether a retry must be answered from the first attempt rather than applied again
    /// (default: true; reads say false).
    static var isWrite: Bool { get }

    /// How the client picks the request id its retries share (default: one per call).
    static var requestID: CatalogWire.RequestIDPolicy { get }

    /// Gives the request the id it is sent under, for an operation the store itself makes
    /// idempotent with it (a claim's ``ClaimRequest/token``). Default: nothing.
    static func stamp(_ request: inout Request, requestID: String)

    /// Reads a request body (default: JSON; an operation without parameters ignores the body).
    /// - Throws: `DecodingError`: 400.
    static func decode(_ body: Data) throws -> Request

    /// Runs the request on `catalog`, after checking what every backend must agree on.
    /// - Throws: ``CatalogWire/InvalidRequest`` or `DecodingError` (400), or what the catalog throws.
    static func perform(_ request: Request, on catalog: any ScrubCatalog) async throws -> Answer
}

extension CatalogOperation {
    /// `/v1/<name>`.
    public static var path: String { "/v1/" + name }

    public static var isWrite: Bool { true }

    public static var requestID: CatalogWire.RequestIDPolicy { .perCall }

    public static func stamp(_ request: inout Request, requestID: String) {}

    public static func decode(_ body: Data) throws -> Request {
        try JSONDecoder().decode(Request.self, from: body)
    }
}

extension CatalogOperation where Request == CatalogWire.Empty {
    /// An operation without parameters reads no body: whatever is sent is fine.
    public static func decode(_ body: Data) throws -> Request { CatalogWire.Empty() }
}

extension CatalogWire {
    /// How a call's request id is chosen: the service answers a repeated id from its first try.
    public enum RequestIDPolicy: Sendable {
        /// A new id per call: its retries within the deadline share it.
        case perCall
        /// Derived from the request's bytes: a caller that sends the same request again (a
        /// retried batch) gets the first answer.
        case content
    }

    /// The operation named `name`, if it is one.
    public static func operation(named name: String) -> (any CatalogOperation.Type)? {
        operations.first { $0.name == name }
    }
}
