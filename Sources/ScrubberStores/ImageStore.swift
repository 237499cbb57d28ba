import ScrubberCore

/// A storage backend the scrubber can delete image data from.
///
/// Implementations must be idempotent: deleting data that is already gone returns
/// ``LocationOutcome/notFound`` (a successful delete, DESIGN §3.4), never an error.
public protocol ImageStore: Sendable {
    /// Deletes the data at `url`, if `permit` still holds immediately before the irreversible
    /// step (the node's membership: a process paused after an earlier check must not delete
    /// once the store counts it dead, DESIGN §3.3).
    /// - Returns: ``LocationOutcome/deleted`` or ``LocationOutcome/notFound``.
    /// - Throws: an error whose description tells the operator why the data may still exist
    ///   (``LocationError`` for URLs this store refuses, ``StoreError`` for backend failures,
    ///   ``StoreError/permitWithdrawn`` when `permit` said no).
    func delete(_ url: LocationURL, permit: @escaping @Sendable () -> Bool) async throws -> LocationOutcome

    /// ``delete(_:permit:)``, also telling how many bytes of data it removed when the backend
    /// knows (for the `scrubber_deleted_bytes_total` metric); nil when it does not.
    func deleteMeasuring(
        _ url: LocationURL,
        permit: @escaping @Sendable () -> Bool
    ) async throws -> (outcome: LocationOutcome, bytes: Int64?)

    /// Whether data exists at `url` (restore refuses to bring back a location whose data is gone).
    func exists(_ url: LocationURL) async throws -> Bool
}

/// A backend failure: the data may still exist. Its description is `"CLASS: MESSAGE"`, as the
/// operator reads it in `scrub_assignments.last_error` and the audit table.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public var failureClass: FailureClass
    public var message: String
    /// What pins the data, where the store can list it (RBD clones as `pool/image`).
    public var dependents: [String]

    public init(_ failureClass: FailureClass, _ message: String, dependents: [String] = []) {
        self.failureClass = failureClass
        self.message = message
        self.dependents = dependents
    }

    public var description: String { "\(failureClass.rawValue): \(message)" }

    /// The delete's permit was withdrawn before the data was touched.
    public static let permitWithdrawn = StoreError(.transient, "node membership lapsed before the delete; not deleted")
}

extension ImageStore {
    /// A backend that cannot tell sizes reports none.
    public func deleteMeasuring(
        _ url: LocationURL,
        permit: @escaping @Sendable () -> Bool
    ) async throws -> (outcome: LocationOutcome, bytes: Int64?) {
        (try await delete(url, permit: permit), nil)
    }

    /// Deletes the data at `url` unconditionally (tools and tests; nodes pass a permit).
    public func delete(_ url: LocationURL) async throws -> LocationOutcome {
        try await delete(url, permit: { true })
    }
}
