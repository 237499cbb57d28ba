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

    public init(
        leader: NodeIdentity,
        term: Int64,
        assignments: [(image: String, node: String)],
        moves: [Move],
        rebalances: [Rebalance] = [],
        sweep: SweepState? = nil
    ) {
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
        a.leader == b.leader && a.incarnation == b.incarnation && a.term == b.term && a.moves == b.moves && a.rebalances == b.rebalances
            && a.sweep == b.sweep
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
        self.init(
            leader: NodeIdentity(
                nodeID: try c.decode(String.self, forKey: .leader),
                incarnation: try c.decode(String.self, forKey: .incarnation)
            ),
            term: try c.decode(Int64.self, forKey: .term),
            assignments: try c.decode([Assignment].self, forKey: .assignments).map { ($0.image, $0.node) },
            moves: try c.decode([Move].self, forKey: .moves),
            rebalances: try c.decode([Rebalance].self, forKey: .rebalances),
            sweep: try c.decodeIfPresent(SweepState.self, forKey: .sweep)
        )
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
