/// What ``ScrubCatalog/restorePlan(imageID:)`` found.
public struct RestorePlan: Sendable, Hashable, Codable {
    public var imageID: String
    /// The image's status, or nil when there is no such image.
    public var status: ImageStatus?
    /// The node scrubbing the image right now, if any: restore must refuse.
    public var scrubbingNode: String?
    /// Its `pending_delete` locations: the ones restore would bring back.
    public var locations: [PendingLocation]
    /// Its locations the scrubber already deleted while the image stayed `pending_delete` (a
    /// node deleted their data, then found its claim gone): their data is gone, restore refuses.
    public var scrubbedLocations: [Int64]

    public init(
        imageID: String,
        status: ImageStatus?,
        scrubbingNode: String?,
        locations: [PendingLocation],
        scrubbedLocations: [Int64] = []
    ) {
        self.imageID = imageID
        self.status = status
        self.scrubbingNode = scrubbingNode
        self.locations = locations
        self.scrubbedLocations = scrubbedLocations
    }
}

/// Parameters of ``ScrubCatalog/commitRestore(_:)``.
public struct RestoreRequest: Sendable, Hashable, Codable {
    public var imageID: String
    /// Pending locations whose data exists: they go back to `active`.
    public var keep: [Int64]
    /// Pending locations whose data is gone (only with `--force`): they are marked `deleted`.
    public var lost: [Int64]
    /// Who restores, for the audit row.
    public var actor: String

    public init(imageID: String, keep: [Int64], lost: [Int64], actor: String) {
        self.imageID = imageID
        self.keep = keep
        self.lost = lost
        self.actor = actor
    }
}

/// A restore that was done.
public struct RestoreResult: Sendable, Hashable, Codable {
    public var imageID: String
    public var restoredLocations: [Int64]
    public var lostLocations: [Int64]

    public init(imageID: String, restoredLocations: [Int64], lostLocations: [Int64]) {
        self.imageID = imageID
        self.restoredLocations = restoredLocations
        self.lostLocations = lostLocations
    }
}

/// Why a restore was refused (the CLI exits 4). Nothing was changed.
public enum RestoreRefusal: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    case noSuchImage(String)
    case notPendingDelete(String, ImageStatus)
    case beingScrubbed(String, node: String)
    case dataGone(String, locations: [String])
    case cannotVerify(String, problems: [String])
    case changedDuringRestore(String)

    public var description: String {
        switch self {
        case .noSuchImage(let id):
            "image \(id) does not exist"
        case .notPendingDelete(let id, let status):
            "image \(id) is \(status.rawValue), not pending_delete: nothing to restore"
        case .beingScrubbed(let id, let node):
            "image \(id) is being scrubbed by node \(node) right now; try again when it finishes or fails"
        case .dataGone(let id, let locations):
            "image \(id) has locations whose data is already gone (\(locations.joined(separator: ", "))); use --force to restore what remains"
        case .cannotVerify(let id, let problems):
            "image \(id) has locations whose data cannot be checked (\(problems.joined(separator: "; "))); use --force to restore anyway"
        case .changedDuringRestore(let id):
            "image \(id) changed while it was being restored (a scrub claimed or completed it); nothing was changed, try again"
        }
    }
}
