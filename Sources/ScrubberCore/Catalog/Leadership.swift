/// The leader lease as the store sees it.
public struct LeaderLease: Sendable, Hashable, Codable {
    /// The holder, or nil when vacant (resigned, never taken).
    public var holder: String?
    /// The current term: +1 at every change of holder. Never decreases.
    public var term: Int64
    /// Seconds until the lease expires by the store clock (≤ 0: expired).
    public var remaining: Double

    public init(holder: String?, term: Int64, remaining: Double) {
        self.holder = holder
        self.term = term
        self.remaining = remaining
    }

    /// The live leader, if any.
    public var liveHolder: String? { remaining > 0 ? holder : nil }
}

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

    public init(nodes: [Node], orphans: [Orphan], unassigned: [String], next: String? = nil, scannedTo: String = "",
                storeNow: Double = 0, sweep: SweepState = SweepState(), paused: Bool = false) {
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
        self.init(nodes: try c.decode([Node].self, forKey: .nodes), orphans: try c.decode([Orphan].self, forKey: .orphans),
                  unassigned: try c.decode([String].self, forKey: .unassigned), next: try c.decodeIfPresent(String.self, forKey: .next),
                  scannedTo: try c.decodeIfPresent(String.self, forKey: .scannedTo) ?? "",
                  storeNow: try c.decodeIfPresent(Double.self, forKey: .storeNow) ?? 0,
                  sweep: try c.decodeIfPresent(SweepState.self, forKey: .sweep) ?? SweepState(),
                  paused: try c.decodeIfPresent(Bool.self, forKey: .paused) ?? false)
    }
}

/// One leader round to write, fenced by ``term``.
public struct LeaderPlan: Sendable, Hashable {
    public struct Move: Sendable, Hashable, Codable {
        public var imageID: String
        public var from: String?
        public var to: String

        public init(imageID: String, from: String?, to: String) {
            self.imageID = imageID
            self.from = from
            self.to = to
        }
    }

    /// Moves up to `count` of `from`'s unclaimed images (its newest) to an idle node `to`, so
    /// no node idles while another has a backlog. Claimed images never move.
    public struct Rebalance: Sendable, Hashable, Codable {
        public var from: String
        public var to: String
        public var count: Int

        public init(from: String, to: String, count: Int) {
            self.from = from
            self.to = to
            self.count = count
        }
    }

    public var leader: String
    /// The leader's incarnation: only the incarnation that won the lease may write under it.
    public var incarnation: String
    public var term: Int64
    public var assignments: [(image: String, node: String)]
    public var moves: [Move]
    public var rebalances: [Rebalance]
    /// The sweep's state to keep, when it moved on (nil: leave it as it is).
    public var sweep: SweepState?

    public init(leader: NodeIdentity, term: Int64, assignments: [(image: String, node: String)], moves: [Move], rebalances: [Rebalance] = [],
                sweep: SweepState? = nil) {
        self.leader = leader.nodeID
        self.incarnation = leader.incarnation
        self.term = term
        self.assignments = assignments
        self.moves = moves
        self.rebalances = rebalances
        self.sweep = sweep
    }

    public var isEmpty: Bool { assignments.isEmpty && moves.isEmpty && rebalances.isEmpty && sweep == nil }

    public static func == (a: LeaderPlan, b: LeaderPlan) -> Bool {
        a.leader == b.leader && a.incarnation == b.incarnation && a.term == b.term && a.moves == b.moves && a.rebalances == b.rebalances && a.sweep == b.sweep
            && a.assignments.map(\.image) == b.assignments.map(\.image) && a.assignments.map(\.node) == b.assignments.map(\.node)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(leader)
        hasher.combine(incarnation)
        hasher.combine(term)
        hasher.combine(moves)
        hasher.combine(rebalances)
    }
}

extension LeaderPlan: Codable {
    private struct Assignment: Codable {
        var image: String
        var node: String
    }

    private enum CodingKeys: String, CodingKey { case leader, incarnation, term, assignments, moves, rebalances, sweep }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(leader: NodeIdentity(nodeID: try c.decode(String.self, forKey: .leader),
                                       incarnation: try c.decode(String.self, forKey: .incarnation)),
                  term: try c.decode(Int64.self, forKey: .term),
                  assignments: try c.decode([Assignment].self, forKey: .assignments).map { ($0.image, $0.node) },
                  moves: try c.decode([Move].self, forKey: .moves), rebalances: try c.decode([Rebalance].self, forKey: .rebalances),
                  sweep: try c.decodeIfPresent(SweepState.self, forKey: .sweep))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(leader, forKey: .leader)
        try c.encode(incarnation, forKey: .incarnation)
        try c.encode(term, forKey: .term)
        try c.encode(assignments.map { Assignment(image: $0.image, node: $0.node) }, forKey: .assignments)
        try c.encode(moves, forKey: .moves)
        try c.encode(rebalances, forKey: .rebalances)
        try c.encodeIfPresent(sweep, forKey: .sweep)
    }
}
