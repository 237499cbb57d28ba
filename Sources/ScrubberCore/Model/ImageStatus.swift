/// An image's `images.status` as Glance writes it.
///
/// The scrubber only ever moves an image from ``pendingDelete`` to ``deleted`` (scrub) or
/// from ``pendingDelete`` to ``active`` (restore).
public enum ImageStatus: String, Sendable, Codable, CaseIterable {
    case queued, saving, active, killed, deleted, deactivated, uploading, importing
    case pendingDelete = "pending_delete"
}

/// An image location's `image_locations.status` as Glance writes it.
public enum LocationStatus: String, Sendable, Codable, CaseIterable {
    case active, deleted
    case pendingDelete = "pending_delete"
}

/// `images.visibility`. Every visibility is scrubbed (upstream skips `community`: a bug).
public enum ImageVisibility: String, Sendable, Codable, CaseIterable {
    case `public`, `private`, shared, community
}
