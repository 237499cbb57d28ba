/// What ``ScrubCatalog/leaderView(scrubTime:limit:scan:)`` returns: one round's input.
public struct LeaderView: Sendable, Hashable, Codable {
    public struct Node: Sendable, Hashable, Codable {
        public var id: String
        public var capacity: Int
        public var draining: Bool
        public var alive: Bool
        /// Unclaimed images assigned to it.
        public var queued: Int

        public init(id: String, capacity: Int, draining: Bool, alive: Bool, queued: Int) {
            self.id = id
            self.capacity = capacity
            self.draining = draining
            self.alive = alive
            self.queued = queued
        }
    }

    /// Work whose holder is gone, dead, or draining (unclaimed).
    public struct Orphan: Sendable, Hashable, Codable {
        public var imageID: String
        public var node: String?
        public var scrubbing: Bool

        public init(imageID: String, node: String?, scrubbing: Bool) {
            self.imageID = imageID
            self.node = node
            self.scrubbing = scrubbing
        }
    }

    public var nodes: [Node]
    public var orphans: [Orphan]
    /// Eligible images with no assignment, in the scan's order (one page of the leader's sweep).
    public var unassigned: [String]
    /// Where the scan's next page starts (an opaque scan position), or nil when this page
    /// reached the end of the scan.
    public var next: String?
    /// The store clock as a Glance timestamp: a ``CandidateScan/recent(since:after:)`` scan
    /// read what was updated up to it (and up to `scrub_time` before it); the next one starts here.
    public var scannedTo: String
    /// The store clock when the view was read (seconds since 1970).
    public var storeNow: Double
    /// The sweep as the catalog keeps it (``ScrubCatalog/apply(_:)`` writes it).
    public var sweep: SweepState
    /// The cluster is paused (`scrubber pause`): the leader assigns and moves nothing.
    public var paused: Bool

    public init(
        nodes: [Node],
        orphans: [Orphan],
        unassigned: [String],
        next: String? = nil,
        scannedTo: String = "",
        storeNow: Double = 0,
        sweep: SweepState = SweepState(),
        paused: Bool = false
    ) {
        self.nodes = nodes
        self.orphans = orphans
        self.unassigned = unassigned
        self.next = next
        self.scannedTo = scannedTo
        self.storeNow = storeNow
        self.sweep = sweep
        self.paused = paused
    }

    enum CodingKeys: String, CodingKey { case nodes, orphans, unassigned, next, scannedTo, storeNow, sweep, paused }

    /// A lease service of an earlier version sends no bound, clock or sweep: the leader then
    /// sweeps in full, as that version did.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            nodes: try c.decode([Node].self, forKey: .nodes),
            orphans: try c.decode([Orphan].self, forKey: .orphans),
            unassigned: try c.decode([String].self, forKey: .unassigned),
            next: try c.decodeIfPresent(String.self, forKey: .next),
            scannedTo: try c.decodeIfPresent(String.self, forKey: .scannedTo) ?? "",
            storeNow: try c.decodeIfPresent(Double.self, forKey: .storeNow) ?? 0,
            sweep: try c.decodeIfPresent(SweepState.self, forKey: .sweep) ?? SweepState(),
            paused: try c.decodeIfPresent(Bool.self, forKey: .paused) ?? false
        )
    }
}
