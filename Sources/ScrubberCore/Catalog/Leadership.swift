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

    public init(nodes: [Node], orphans: [Orphan], unassigned: [String], next: String? = nil, scannedTo: String = "",
                storeNow: Double = 0, sweep: SweepState = SweepState()) {
        self.nodes = nodes
        self.orphans = orphans
        self.unassigned = unassigned
        self.next = next
        self.scannedTo = scannedTo
        self.storeNow = storeNow
        self.sweep = sweep
    }

    enum CodingKeys: String, CodingKey { case nodes, orphans, unassigned, next, scannedTo, storeNow, sweep }

    /// A lease service of an earlier version sends no bound, clock or sweep: the leader then
    /// sweeps in full, as that version did.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(nodes: try c.decode([Node].self, forKey: .nodes), orphans: try c.decode([Orphan].self, forKey: .orphans),
                  unassigned: try c.decode([String].self, forKey: .unassigned), next: try c.decodeIfPresent(String.self, forKey: .next),
                  scannedTo: try c.decodeIfPresent(String.self, forKey: .scannedTo) ?? "",
                  storeNow: try c.decodeIfPresent(Double.self, forKey: .storeNow) ?? 0,
                  sweep: try c.decodeIfPresent(SweepState.self, forKey: .sweep) ?? SweepState())
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

/// Everything `scrubber status` shows; its JSON keys are a documented, stable contract.
public struct ClusterStatus: Sendable, Hashable, Codable {
    public struct Leader: Sendable, Hashable, Codable {
        public var nodeID: String
        public var term: Int64
        public var leaseRemainingSeconds: Double

        enum CodingKeys: String, CodingKey {
            case nodeID = "node_id", term, leaseRemainingSeconds = "lease_remaining_s"
        }

        public init(nodeID: String, term: Int64, leaseRemainingSeconds: Double) {
            self.nodeID = nodeID
            self.term = term
            self.leaseRemainingSeconds = leaseRemainingSeconds
        }
    }

    public struct Node: Sendable, Hashable, Codable {
        public var nodeID: String
        public var host: String
        public var pid: Int
        public var state: String
        public var heartbeatAgeSeconds: Double
        public var alive: Bool
        public var capacity: Int
        public var assigned: Int
        public var scrubbing: Int
        public var done: Int
        public var failed: Int
        public var leaderEligible: Bool
        /// Images deleted per second since the node joined.
        public var rate: Double

        enum CodingKeys: String, CodingKey {
            case nodeID = "node_id", host, pid, state, heartbeatAgeSeconds = "heartbeat_age_s", alive, capacity
            case assigned, scrubbing, done, failed, leaderEligible = "leader_eligible", rate
        }

        public init(nodeID: String, host: String, pid: Int, state: String, heartbeatAgeSeconds: Double, alive: Bool,
                    capacity: Int, assigned: Int, scrubbing: Int, done: Int, failed: Int, leaderEligible: Bool, rate: Double) {
            self.nodeID = nodeID
            self.host = host
            self.pid = pid
            self.state = state
            self.heartbeatAgeSeconds = heartbeatAgeSeconds
            self.alive = alive
            self.capacity = capacity
            self.assigned = assigned
            self.scrubbing = scrubbing
            self.done = done
            self.failed = failed
            self.leaderEligible = leaderEligible
            self.rate = rate
        }
    }

    public struct Backlog: Sendable, Hashable, Codable {
        public var eligible: Int
        public var waiting: Int
        public var oldestAgeSeconds: Double?
        public var failing: Int

        enum CodingKeys: String, CodingKey {
            case eligible, waiting, oldestAgeSeconds = "oldest_age_s", failing
        }

        public init(eligible: Int, waiting: Int, oldestAgeSeconds: Double?, failing: Int) {
            self.eligible = eligible
            self.waiting = waiting
            self.oldestAgeSeconds = oldestAgeSeconds
            self.failing = failing
        }

        /// Every key always, `null` when unknown (`oldest_age_s` with nothing eligible).
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(eligible, forKey: .eligible)
            try c.encode(waiting, forKey: .waiting)
            try c.encode(oldestAgeSeconds, forKey: .oldestAgeSeconds)
            try c.encode(failing, forKey: .failing)
        }
    }

    public struct Failure: Sendable, Hashable, Codable {
        public var imageID: String
        public var attempts: Int
        public var lastError: String?

        enum CodingKeys: String, CodingKey {
            case imageID = "image_id", attempts, lastError = "last_error"
        }

        public init(imageID: String, attempts: Int, lastError: String?) {
            self.imageID = imageID
            self.attempts = attempts
            self.lastError = lastError
        }

        /// Every key always, `null` when unknown.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(imageID, forKey: .imageID)
            try c.encode(attempts, forKey: .attempts)
            try c.encode(lastError, forKey: .lastError)
        }
    }

    public var leader: Leader?
    public var nodes: [Node]
    public var backlog: Backlog
    public var failures: [Failure]

    public init(leader: Leader?, nodes: [Node], backlog: Backlog, failures: [Failure]) {
        self.leader = leader
        self.nodes = nodes
        self.backlog = backlog
        self.failures = failures
    }

    public func encode(to encoder: any Encoder) throws {
        // `leader` is always present, as null when there is none.
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(leader, forKey: .leader)
        try container.encode(nodes, forKey: .nodes)
        try container.encode(backlog, forKey: .backlog)
        try container.encode(failures, forKey: .failures)
    }

    enum CodingKeys: String, CodingKey { case leader, nodes, backlog, failures }
}

extension ClusterStatus {
    /// One row of ``CatalogQueries/statusNodes``.
    public struct NodeRow: Sendable {
        public var nodeID: String, host: String, pid: Int, state: String, heartbeatAgeSeconds: Double, alive: Bool
        public var capacity: Int, done: Int, failed: Int, leaderEligible: Bool, uptimeSeconds: Double

        public init(nodeID: String, host: String, pid: Int, state: String, heartbeatAgeSeconds: Double, alive: Bool,
                    capacity: Int, done: Int, failed: Int, leaderEligible: Bool, uptimeSeconds: Double) {
            (self.nodeID, self.host, self.pid, self.state, self.heartbeatAgeSeconds, self.alive) = (nodeID, host, pid, state, heartbeatAgeSeconds, alive)
            (self.capacity, self.done, self.failed, self.leaderEligible, self.uptimeSeconds) = (capacity, done, failed, leaderEligible, uptimeSeconds)
        }
    }

    /// What `scrubber status` shows, from the rows every SQL backend reads: the lease, the nodes
    /// (``CatalogQueries/statusNodes``), the assignments per node and state
    /// (``CatalogQueries/assignmentCounts``) and the backlog.
    public init(lease: LeaderLease, nodes: [NodeRow], assignments: [(node: String?, state: String, count: Int)],
                backlog: BacklogSnapshot) {
        var counts: [String: (assigned: Int, scrubbing: Int)] = [:]
        for row in assignments {
            guard let node = row.node else { continue }
            if row.state == "scrubbing" { counts[node, default: (0, 0)].scrubbing += row.count } else { counts[node, default: (0, 0)].assigned += row.count }
        }
        self.init(
            leader: lease.liveHolder.map { Leader(nodeID: $0, term: lease.term, leaseRemainingSeconds: lease.remaining) },
            nodes: nodes.map { n in
                Node(nodeID: n.nodeID, host: n.host, pid: n.pid, state: n.state, heartbeatAgeSeconds: n.heartbeatAgeSeconds,
                     alive: n.alive, capacity: n.capacity, assigned: counts[n.nodeID]?.assigned ?? 0,
                     scrubbing: counts[n.nodeID]?.scrubbing ?? 0, done: n.done, failed: n.failed,
                     leaderEligible: n.leaderEligible, rate: n.uptimeSeconds > 0 ? Double(n.done) / n.uptimeSeconds : 0)
            },
            backlog: .init(eligible: backlog.eligible, waiting: backlog.waiting, oldestAgeSeconds: backlog.oldestAgeSeconds, failing: backlog.failing),
            failures: backlog.failures.map { .init(imageID: $0.imageID, attempts: $0.attempts, lastError: $0.lastError) })
    }
}
