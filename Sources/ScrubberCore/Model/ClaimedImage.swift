/// A `pending_delete` location of a claimed image, as read from `image_locations`.
public struct PendingLocation: Sendable, Hashable, Codable {
    /// `image_locations.id`.
    public var id: Int64
    /// `image_locations.value`: the URL, or its ciphertext when `metadata_encryption_key` is set.
    public var value: String
    /// `image_locations.meta_data`: JSON text, possibly NULL, `{}` or garbage.
    public var metaData: String?

    public init(id: Int64, value: String, metaData: String?) {
        self.id = id
        self.value = value
        self.metaData = metaData
    }
}

/// An image this node has claimed (its assignment moved to `scrubbing` under this node's
/// unexpired membership while the image was still `pending_delete`), with the locations
/// whose data it must delete.
///
/// An image with no pending location left is still claimed: completing it marks it `deleted`
/// (upstream leaves such images stuck forever).
public struct ClaimedImage: Sendable, Hashable, Codable {
    public var imageID: String
    /// This claim's identity, fresh for every claim of the row (DESIGN §3.3): the completion,
    /// failure or release of this claim names it, so an outcome of an earlier claim of the same
    /// image can never be applied to this one.
    public var claimToken: String
    /// Failed attempts before this claim.
    public var attempts: Int
    public var locations: [PendingLocation]

    public init(imageID: String, claimToken: String, attempts: Int, locations: [PendingLocation]) {
        self.imageID = imageID
        self.claimToken = claimToken
        self.attempts = attempts
        self.locations = locations
    }

    /// The claim, as ``ScrubCatalog/release(_:node:)`` names it.
    public var claim: ClaimID { ClaimID(imageID: imageID, claimToken: claimToken) }
}

/// One claim of one image: the image and the token its claim was given.
public struct ClaimID: Sendable, Hashable, Codable {
    public var imageID: String
    public var claimToken: String

    public init(imageID: String, claimToken: String) {
        self.imageID = imageID
        self.claimToken = claimToken
    }
}
