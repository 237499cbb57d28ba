/// What a completion batch did.
public struct CompletionReport: Sendable, Hashable, Codable {
    /// Images marked `deleted`.
    public var imagesDeleted: [String] = []
    /// Images that stay `pending_delete` with their error, attempts and backoff recorded.
    public var imagesFailed: [String] = []
    /// Images whose named claim this node no longer held (reset by a rejoin, reassigned after
    /// its membership lapsed, claimed anew, restored or deleted meanwhile, or no token named):
    /// their gone locations were recorded, nothing else.
    public var claimsLost: [String] = []
    /// Locations this batch marked `deleted` (not those already marked).
    public var locationsDeleted = 0

    public init() {}
}
