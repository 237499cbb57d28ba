import Foundation

/// Backlog counts for `status`, the metrics and `--once` progress
/// (``ScrubCatalog/backlog(scrubTime:failureLimit:)``).
public struct BacklogSnapshot: Sendable, Hashable, Codable {
    /// `pending_delete` images past `scrub_time`.
    public var eligible: Int
    /// `pending_delete` images still inside `scrub_time`.
    public var waiting: Int
    /// Age in seconds of the oldest eligible image's `deleted_at`, store clock.
    public var oldestAgeSeconds: Double?
    /// Images with at least one failed attempt that are still pending.
    public var failing: Int
    /// The failing images, most attempts first.
    public var failures: [Failure]
    /// The eligible backlog by store: each image counted once per store it has a pending
    /// location in, with Glance's `images.size`.
    public var stores: [StoreBacklog]
    /// The failing images by class and store.
    public var failingGroups: [FailingGroup]

    public struct Failure: Sendable, Hashable, Codable {
        public var imageID: String
        public var attempts: Int
        public var lastError: String?
        public var failureClass: FailureClass?
        public var store: String?
        public var dependents: [String]

        public init(
            imageID: String,
            attempts: Int,
            lastError: String?,
            failureClass: FailureClass? = nil,
            store: String? = nil,
            dependents: [String] = []
        ) {
            self.imageID = imageID
            self.attempts = attempts
            self.lastError = lastError
            self.failureClass = failureClass ?? lastError.map(FailureClass.init(classifying:))
            self.store = store
            self.dependents = dependents
        }

        enum CodingKeys: String, CodingKey { case imageID, attempts, lastError, failureClass, store, dependents }

        /// A service of an earlier version sends no class, store or dependents.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                imageID: try c.decode(String.self, forKey: .imageID),
                attempts: try c.decode(Int.self, forKey: .attempts),
                lastError: try c.decodeIfPresent(String.self, forKey: .lastError),
                failureClass: try c.decodeIfPresent(FailureClass.self, forKey: .failureClass),
                store: try c.decodeIfPresent(String.self, forKey: .store),
                dependents: try c.decodeIfPresent([String].self, forKey: .dependents) ?? []
            )
        }
    }

    public init(
        eligible: Int,
        waiting: Int,
        oldestAgeSeconds: Double?,
        failing: Int,
        failures: [Failure],
        stores: [StoreBacklog] = [],
        failingGroups: [FailingGroup] = []
    ) {
        self.eligible = eligible
        self.waiting = waiting
        self.oldestAgeSeconds = oldestAgeSeconds
        self.failing = failing
        self.failures = failures
        self.stores = stores
        self.failingGroups = failingGroups
    }

    enum CodingKeys: String, CodingKey { case eligible, waiting, oldestAgeSeconds, failing, failures, stores, failingGroups }

    /// A service of an earlier version sends no stores or groups.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            eligible: try c.decode(Int.self, forKey: .eligible),
            waiting: try c.decode(Int.self, forKey: .waiting),
            oldestAgeSeconds: try c.decodeIfPresent(Double.self, forKey: .oldestAgeSeconds),
            failing: try c.decode(Int.self, forKey: .failing),
            failures: try c.decode([Failure].self, forKey: .failures),
            stores: try c.decodeIfPresent([StoreBacklog].self, forKey: .stores) ?? [],
            failingGroups: try c.decodeIfPresent([FailingGroup].self, forKey: .failingGroups) ?? []
        )
    }

    /// The eligible backlog's bytes, all stores (an image in two stores counts twice: both copies are freed).
    public var bytes: Int64 { stores.reduce(0) { $0 + $1.bytes } }
}

/// One store's share of the eligible backlog. `store` is the location's `meta_data.store`, nil
/// for locations that name none (they go to the default store: ``ClusterStatus/namingStores(default:)``).
public struct StoreBacklog: Sendable, Hashable, Codable {
    public var store: String?
    public var images: Int
    /// The sum of Glance's `images.size` (an image without a size counts 0).
    public var bytes: Int64

    public init(store: String?, images: Int, bytes: Int64) {
        self.store = store
        self.images = images
        self.bytes = bytes
    }

    /// Every key always (`store` null until named).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(store, forKey: .store)
        try c.encode(images, forKey: .images)
        try c.encode(bytes, forKey: .bytes)
    }
}

/// How many failing images share a class and a store.
public struct FailingGroup: Sendable, Hashable, Codable {
    public var failureClass: FailureClass
    public var store: String?
    public var images: Int

    enum CodingKeys: String, CodingKey {
        case failureClass = "class"
        case store, images
    }

    public init(failureClass: FailureClass, store: String?, images: Int) {
        self.failureClass = failureClass
        self.store = store
        self.images = images
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(failureClass, forKey: .failureClass)
        try c.encode(store, forKey: .store)
        try c.encode(images, forKey: .images)
    }
}

/// Everything `scrubber status` shows; its JSON keys are a documented, stable contract
/// (README, "status --json").
public struct ClusterStatus: Sendable, Hashable, Codable {
    public struct Leader: Sendable, Hashable, Codable {
        public var nodeID: String
        public var term: Int64
        public var leaseRemainingSeconds: Double

        enum CodingKeys: String, CodingKey {
            case nodeID = "node_id"
            case term
            case leaseRemainingSeconds = "lease_remaining_s"
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
        /// Who drained it (`scrubber drain`), while it is drained.
        public var drainedBy: String?

        enum CodingKeys: String, CodingKey {
            case nodeID = "node_id"
            case host, pid, state
            case heartbeatAgeSeconds = "heartbeat_age_s"
            case alive, capacity
            case assigned, scrubbing, done, failed
            case leaderEligible = "leader_eligible"
            case rate
            case drainedBy = "drained_by"
        }

        public init(
            nodeID: String,
            host: String,
            pid: Int,
            state: String,
            heartbeatAgeSeconds: Double,
            alive: Bool,
            capacity: Int,
            assigned: Int,
            scrubbing: Int,
            done: Int,
            failed: Int,
            leaderEligible: Bool,
            rate: Double,
            drainedBy: String? = nil
        ) {
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
            self.drainedBy = drainedBy
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                nodeID: try c.decode(String.self, forKey: .nodeID),
                host: try c.decode(String.self, forKey: .host),
                pid: try c.decode(Int.self, forKey: .pid),
                state: try c.decode(String.self, forKey: .state),
                heartbeatAgeSeconds: try c.decode(Double.self, forKey: .heartbeatAgeSeconds),
                alive: try c.decode(Bool.self, forKey: .alive),
                capacity: try c.decode(Int.self, forKey: .capacity),
                assigned: try c.decode(Int.self, forKey: .assigned),
                scrubbing: try c.decode(Int.self, forKey: .scrubbing),
                done: try c.decode(Int.self, forKey: .done),
                failed: try c.decode(Int.self, forKey: .failed),
                leaderEligible: try c.decode(Bool.self, forKey: .leaderEligible),
                rate: try c.decode(Double.self, forKey: .rate),
                drainedBy: try c.decodeIfPresent(String.self, forKey: .drainedBy)
            )
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(nodeID, forKey: .nodeID)
            try c.encode(host, forKey: .host)
            try c.encode(pid, forKey: .pid)
            try c.encode(state, forKey: .state)
            try c.encode(heartbeatAgeSeconds, forKey: .heartbeatAgeSeconds)
            try c.encode(alive, forKey: .alive)
            try c.encode(capacity, forKey: .capacity)
            try c.encode(assigned, forKey: .assigned)
            try c.encode(scrubbing, forKey: .scrubbing)
            try c.encode(done, forKey: .done)
            try c.encode(failed, forKey: .failed)
            try c.encode(leaderEligible, forKey: .leaderEligible)
            try c.encode(rate, forKey: .rate)
            try c.encode(drainedBy, forKey: .drainedBy)
        }
    }

    public struct Backlog: Sendable, Hashable, Codable {
        public var eligible: Int
        public var waiting: Int
        public var oldestAgeSeconds: Double?
        public var failing: Int
        /// The eligible backlog's bytes (Glance's `images.size`), all stores.
        public var bytes: Int64
        /// The eligible backlog per store, in images and bytes.
        public var stores: [StoreBacklog]

        enum CodingKeys: String, CodingKey {
            case eligible, waiting
            case oldestAgeSeconds = "oldest_age_s"
            case failing, bytes, stores
        }

        public init(eligible: Int, waiting: Int, oldestAgeSeconds: Double?, failing: Int, bytes: Int64 = 0, stores: [StoreBacklog] = []) {
            self.eligible = eligible
            self.waiting = waiting
            self.oldestAgeSeconds = oldestAgeSeconds
            self.failing = failing
            self.bytes = bytes
            self.stores = stores
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                eligible: try c.decode(Int.self, forKey: .eligible),
                waiting: try c.decode(Int.self, forKey: .waiting),
                oldestAgeSeconds: try c.decodeIfPresent(Double.self, forKey: .oldestAgeSeconds),
                failing: try c.decode(Int.self, forKey: .failing),
                bytes: try c.decodeIfPresent(Int64.self, forKey: .bytes) ?? 0,
                stores: try c.decodeIfPresent([StoreBacklog].self, forKey: .stores) ?? []
            )
        }

        /// Every key always, `null` when unknown (`oldest_age_s` with nothing eligible).
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(eligible, forKey: .eligible)
            try c.encode(waiting, forKey: .waiting)
            try c.encode(oldestAgeSeconds, forKey: .oldestAgeSeconds)
            try c.encode(failing, forKey: .failing)
            try c.encode(bytes, forKey: .bytes)
            try c.encode(stores, forKey: .stores)
        }
    }

    public struct Failure: Sendable, Hashable, Codable {
        public var imageID: String
        public var attempts: Int
        public var lastError: String?
        public var failureClass: FailureClass?
        public var store: String?
        /// What pins the data (RBD clones as `pool/image`), where the store can tell.
        public var dependents: [String]

        enum CodingKeys: String, CodingKey {
            case imageID = "image_id"
            case attempts
            case lastError = "last_error"
            case failureClass = "class"
            case store, dependents
        }

        public init(
            imageID: String,
            attempts: Int,
            lastError: String?,
            failureClass: FailureClass? = nil,
            store: String? = nil,
            dependents: [String] = []
        ) {
            self.imageID = imageID
            self.attempts = attempts
            self.lastError = lastError
            self.failureClass = failureClass
            self.store = store
            self.dependents = dependents
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                imageID: try c.decode(String.self, forKey: .imageID),
                attempts: try c.decode(Int.self, forKey: .attempts),
                lastError: try c.decodeIfPresent(String.self, forKey: .lastError),
                failureClass: try c.decodeIfPresent(FailureClass.self, forKey: .failureClass),
                store: try c.decodeIfPresent(String.self, forKey: .store),
                dependents: try c.decodeIfPresent([String].self, forKey: .dependents) ?? []
            )
        }

        /// Every key always, `null` when unknown.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(imageID, forKey: .imageID)
            try c.encode(attempts, forKey: .attempts)
            try c.encode(lastError, forKey: .lastError)
            try c.encode(failureClass, forKey: .failureClass)
            try c.encode(store, forKey: .store)
            try c.encode(dependents, forKey: .dependents)
        }
    }

    /// The last hour, minute by minute, from `scrub_events`.
    public struct History: Sendable, Hashable, Codable {
        public struct Minute: Sendable, Hashable, Codable {
            /// Minutes before the store clock's now: 59 is the oldest, 0 the current minute.
            public var ago: Int
            /// Images marked `deleted` in that minute.
            public var images: Int
            /// Their bytes (Glance's `images.size`).
            public var bytes: Int64

            public init(ago: Int, images: Int, bytes: Int64) {
                self.ago = ago
                self.images = images
                self.bytes = bytes
            }
        }

        /// Every minute of the last hour, oldest first (60 entries; zeros where nothing happened).
        public var minutes: [Minute]
        /// Leader elections in the last hour.
        public var leaderChanges: Int

        enum CodingKeys: String, CodingKey {
            case minutes
            case leaderChanges = "leader_changes"
        }

        public init(minutes: [Minute], leaderChanges: Int) {
            self.minutes = minutes
            self.leaderChanges = leaderChanges
        }

        /// The 60 minutes from sparse rows of (minutes ago, images, bytes).
        public init(rows: [(ago: Int, images: Int, bytes: Int64)], leaderChanges: Int) {
            var byMinute: [Int: (Int, Int64)] = [:]
            for row in rows where (0..<60).contains(row.ago) {
                let sum = byMinute[row.ago] ?? (0, 0)
                byMinute[row.ago] = (sum.0 + row.images, sum.1 + row.bytes)
            }
            self.init(
                minutes: (0..<60).reversed().map { ago in
                    Minute(ago: ago, images: byMinute[ago]?.0 ?? 0, bytes: byMinute[ago]?.1 ?? 0)
                },
                leaderChanges: leaderChanges
            )
        }

        public static let empty = History(rows: [], leaderChanges: 0)
    }

    public var leader: Leader?
    /// Null while running.
    public var paused: PauseState?
    public var nodes: [Node]
    public var backlog: Backlog
    /// Failing images by class and store (all of them, not only those listed in ``failures``).
    public var failingByClass: [FailingGroup]
    public var failures: [Failure]
    public var history: History

    public init(
        leader: Leader?,
        paused: PauseState? = nil,
        nodes: [Node],
        backlog: Backlog,
        failingByClass: [FailingGroup] = [],
        failures: [Failure],
        history: History = .empty
    ) {
        self.leader = leader
        self.paused = paused
        self.nodes = nodes
        self.backlog = backlog
        self.failingByClass = failingByClass
        self.failures = failures
        self.history = history
    }

    enum CodingKeys: String, CodingKey {
        case leader, paused, nodes, backlog
        case failingByClass = "failing_by_class"
        case failures, history
    }

    /// A service of an earlier version sends no pause, groups or history.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            leader: try c.decodeIfPresent(Leader.self, forKey: .leader),
            paused: try c.decodeIfPresent(PauseState.self, forKey: .paused),
            nodes: try c.decode([Node].self, forKey: .nodes),
            backlog: try c.decode(Backlog.self, forKey: .backlog),
            failingByClass: try c.decodeIfPresent([FailingGroup].self, forKey: .failingByClass) ?? [],
            failures: try c.decode([Failure].self, forKey: .failures),
            history: try c.decodeIfPresent(History.self, forKey: .history) ?? .empty
        )
    }

    public func encode(to encoder: any Encoder) throws {
        // `leader` and `paused` are always present, as null when there is none.
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(leader, forKey: .leader)
        try c.encode(paused, forKey: .paused)
        try c.encode(nodes, forKey: .nodes)
        try c.encode(backlog, forKey: .backlog)
        try c.encode(failingByClass, forKey: .failingByClass)
        try c.encode(failures, forKey: .failures)
        try c.encode(history, forKey: .history)
    }

    /// Names the default store where the catalog could not (locations whose `meta_data` names
    /// no store go to the default one), merging what then shares a name.
    public func namingStores(default name: String) -> ClusterStatus {
        var status = self
        var stores: [String: StoreBacklog] = [:]
        for entry in backlog.stores {
            let store = entry.store ?? name
            let sum = stores[store] ?? StoreBacklog(store: store, images: 0, bytes: 0)
            stores[store] = StoreBacklog(store: store, images: sum.images + entry.images, bytes: sum.bytes + entry.bytes)
        }
        status.backlog.stores = stores.values.sorted { ($0.store ?? "") < ($1.store ?? "") }
        var groups: [FailingGroup] = []
        for group in failingByClass.map({ FailingGroup(failureClass: $0.failureClass, store: $0.store ?? name, images: $0.images) }) {
            if let i = groups.firstIndex(where: { $0.failureClass == group.failureClass && $0.store == group.store }) {
                groups[i].images += group.images
            } else {
                groups.append(group)
            }
        }
        status.failingByClass = groups.sorted { ($0.failureClass, $0.store ?? "") < ($1.failureClass, $1.store ?? "") }
        return status
    }
}

extension ClusterStatus {
    /// One row of ``CatalogQueries/statusNodes``.
    public struct NodeRow: Sendable {
        public var nodeID: String, host: String, pid: Int, state: String, heartbeatAgeSeconds: Double, alive: Bool
        public var capacity: Int, done: Int, failed: Int, leaderEligible: Bool, uptimeSeconds: Double
        public var drainedBy: String?

        public init(
            nodeID: String,
            host: String,
            pid: Int,
            state: String,
            heartbeatAgeSeconds: Double,
            alive: Bool,
            capacity: Int,
            done: Int,
            failed: Int,
            leaderEligible: Bool,
            uptimeSeconds: Double,
            drainedBy: String? = nil
        ) {
            (self.nodeID, self.host, self.pid, self.state, self.heartbeatAgeSeconds, self.alive) = (
                nodeID, host, pid, state, heartbeatAgeSeconds, alive
            )
            (self.capacity, self.done, self.failed, self.leaderEligible, self.uptimeSeconds) = (
                capacity, done, failed, leaderEligible, uptimeSeconds
            )
            self.drainedBy = drainedBy
        }
    }

    /// What `scrubber status` shows, from the rows every SQL backend reads: the lease, the nodes
    /// (``CatalogQueries/statusNodes``), the assignments per node and state
    /// (``CatalogQueries/assignmentCounts``), the backlog, the pause and the last hour.
    public init(
        lease: LeaderLease,
        nodes: [NodeRow],
        assignments: [(node: String?, state: String, count: Int)],
        backlog: BacklogSnapshot,
        paused: PauseState? = nil,
        history: History = .empty
    ) {
        var counts: [String: (assigned: Int, scrubbing: Int)] = [:]
        for row in assignments {
            guard let node = row.node else { continue }
            if row.state == "scrubbing" {
                counts[node, default: (0, 0)].scrubbing += row.count
            } else {
                counts[node, default: (0, 0)].assigned += row.count
            }
        }
        self.init(
            leader: lease.liveHolder.map { Leader(nodeID: $0, term: lease.term, leaseRemainingSeconds: lease.remaining) },
            paused: paused,
            nodes: nodes.map { n in
                Node(
                    nodeID: n.nodeID,
                    host: n.host,
                    pid: n.pid,
                    state: n.state,
                    heartbeatAgeSeconds: n.heartbeatAgeSeconds,
                    alive: n.alive,
                    capacity: n.capacity,
                    assigned: counts[n.nodeID]?.assigned ?? 0,
                    scrubbing: counts[n.nodeID]?.scrubbing ?? 0,
                    done: n.done,
                    failed: n.failed,
                    leaderEligible: n.leaderEligible,
                    rate: n.uptimeSeconds > 0 ? Double(n.done) / n.uptimeSeconds : 0,
                    drainedBy: n.drainedBy
                )
            },
            backlog: .init(
                eligible: backlog.eligible,
                waiting: backlog.waiting,
                oldestAgeSeconds: backlog.oldestAgeSeconds,
                failing: backlog.failing,
                bytes: backlog.bytes,
                stores: backlog.stores
            ),
            failingByClass: backlog.failingGroups,
            failures: backlog.failures.map {
                .init(
                    imageID: $0.imageID,
                    attempts: $0.attempts,
                    lastError: $0.lastError,
                    failureClass: $0.failureClass,
                    store: $0.store,
                    dependents: $0.dependents
                )
            },
            history: history
        )
    }
}
