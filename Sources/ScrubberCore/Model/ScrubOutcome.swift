/// What happened to one location's data.
public enum LocationOutcome: Sendable, Hashable, Codable {
    /// The backend deleted the data.
    case deleted
    /// The backend had no data there: counts as deleted (a replayed delete is a success).
    case notFound
    /// The data may still exist; the message says why, for the operator.
    case failed(String)

    /// Whether the data is known to be gone.
    public var isGone: Bool {
        switch self {
        case .deleted, .notFound: true
        case .failed: false
        }
    }

    /// The audit action recorded in `scrub_events`.
    public var action: ScrubAction {
        switch self {
        case .deleted: .deleted
        case .notFound: .notFound
        case .failed: .failed
        }
    }
}

/// The result of scrubbing one location, carried to the batched completion.
public struct LocationResult: Sendable, Hashable, Codable {
    public var locationID: Int64
    /// The backend that handled it (`meta_data.store`, or the default), for the audit row.
    public var store: String?
    public var outcome: LocationOutcome
    /// The bytes of data the delete removed, when the backend knows (metrics only; never stored).
    public var bytes: Int64?
    /// For a failure, its class (nil otherwise).
    public var failureClass: FailureClass?
    /// For a failure, what pins the data where the store can tell (RBD clones as `pool/image`).
    public var dependents: [String]

    public init(
        locationID: Int64,
        store: String?,
        outcome: LocationOutcome,
        bytes: Int64? = nil,
        failureClass: FailureClass? = nil,
        dependents: [String] = []
    ) {
        self.locationID = locationID
        self.store = store
        self.outcome = outcome
        self.bytes = bytes
        if case .failed(let message) = outcome {
            self.failureClass = failureClass ?? FailureClass(classifying: message)
        } else {
            self.failureClass = nil
        }
        self.dependents = dependents
    }

    /// The failure's message and class (set for every failed result by ``init``), nil for data gone.
    public var failure: (message: String, failureClass: FailureClass)? {
        guard case .failed(let message) = outcome else { return nil }
        return (message, failureClass ?? .transient)
    }

    enum CodingKeys: String, CodingKey { case locationID, store, outcome, bytes, failureClass, dependents }

    /// A node of an earlier version sends no class: it is read from the message's first word.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            locationID: try c.decode(Int64.self, forKey: .locationID),
            store: try c.decodeIfPresent(String.self, forKey: .store),
            outcome: try c.decode(LocationOutcome.self, forKey: .outcome),
            bytes: try c.decodeIfPresent(Int64.self, forKey: .bytes),
            failureClass: try c.decodeIfPresent(FailureClass.self, forKey: .failureClass),
            dependents: try c.decodeIfPresent([String].self, forKey: .dependents) ?? []
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(locationID, forKey: .locationID)
        try c.encodeIfPresent(store, forKey: .store)
        try c.encode(outcome, forKey: .outcome)
        try c.encodeIfPresent(bytes, forKey: .bytes)
        try c.encodeIfPresent(failureClass, forKey: .failureClass)
        if !dependents.isEmpty { try c.encode(dependents, forKey: .dependents) }
    }
}

/// The result of scrubbing one claimed image: what its completion records.
public struct ScrubOutcome: Sendable, Hashable, Codable {
    public var imageID: String
    /// The token of the claim this outcome completes (``ClaimedImage/claimToken``). An outcome
    /// without one (sent by an older node) completes no claim: its claim counts as lost.
    public var claimToken: String?
    /// Failed attempts before this one (the backoff grows with it).
    public var previousAttempts: Int
    public var locations: [LocationResult]

    public init(imageID: String, claimToken: String?, previousAttempts: Int, locations: [LocationResult]) {
        self.imageID = imageID
        self.claimToken = claimToken
        self.previousAttempts = previousAttempts
        self.locations = locations
    }

    /// The outcome of scrubbing `image` under its claim.
    public init(_ image: ClaimedImage, locations: [LocationResult]) {
        self.init(imageID: image.imageID, claimToken: image.claimToken, previousAttempts: image.attempts, locations: locations)
    }

    /// The first failure's message, if any location failed.
    public var firstError: String? {
        firstFailure?.failure?.message
    }

    /// The first failed location, if any: its message, class, store and dependents are the image's.
    public var firstFailure: LocationResult? {
        locations.first { !$0.outcome.isGone }
    }

    /// Whether every location's data is gone, so the image can be marked `deleted`.
    public var succeeded: Bool { firstError == nil }
}

/// Audit actions in `scrub_events.action` (DESIGN §2).
public enum ScrubAction: String, Sendable, Codable, CaseIterable {
    case deleted
    case notFound = "not_found"
    case failed
    case imageDeleted = "image_deleted"
    case restored
    case reassigned
    case elected
    case resigned
    /// An operator paused the cluster (`scrubber pause`): no assignments, no claims.
    case paused
    case resumed
    /// An operator drained a node (`scrubber drain NODE`): it takes no new work.
    case drained
    case undrained
    /// An operator made the leader resign (`scrubber step-down`).
    case steppedDown = "stepped_down"
}
