import Foundation
import GRDB
import Logging
import ScrubberCore
import ScrubberPostgres
import ScrubberSQLite
import Synchronization
import TestSupport

/// A deterministic simulation of the work protocol against a real catalog.
///
/// The catalog (claims, completions, membership, leases, leader rounds, restores) is the real
/// ``SQLiteCatalog`` on a temporary file, its store clock injected (``StoreClock``), called
/// directly or through the lease service (``Backend/service``: a `CatalogService` on loopback
/// and its `RemoteCatalog`, so every call crosses HTTP and the wire format), or the real
/// ``PostgresCatalog`` on a database of its own whose clock is a table the run moves
/// (``Backend/postgresql``). The nodes are
/// models of `ScrubberNode`'s loops, driven one catalog call at a time by a seeded generator:
/// membership trusted until `heartbeat start + ttl − margin` in epochs (``MembershipLease``),
/// deletes allowed only while the claim's epoch is trusted (`WorkerService.scrub`), the
/// leader's round (`LeaderService.round`), the restorer's plan/check/commit (`Restorer`). The
/// image store is a set of location ids whose data exists. Faults: pauses (a node skips its
/// actions, possibly past `node_ttl`, then resumes with stale beliefs), crashes (local state
/// lost, rejoin later under a new process: refused while the old membership lives), restores
/// racing scrubs, completions re-sent long after (a lost answer retried past the service's
/// replay cache), and a second process started under a node's id. Every step is followed by a
/// check of DESIGN §3.
struct WorkSimulation {
    /// A deliberate bug, to prove the simulation catches it.
    enum Break: Sendable {
        case none
        /// Nodes delete without checking that they still trust the claim's membership epoch.
        case deleteWithoutTrust
        /// The restorer skips its check that the locations' data still exists.
        case restoreWithoutDataCheck
        /// Nodes send every outcome under the token of their newest claim of the image, as if
        /// the store compared holder and state only: an earlier claim's outcome completes the newer.
        case outcomesNameNewestClaim
    }

    /// How the simulated nodes reach the catalog.
    enum Backend: String, Sendable, CaseIterable {
        case sqlite
        /// Through a lease service fronting the same SQLite catalog.
        case service
        /// PostgreSQL: a database of its own on the shared test server, its clock read through `scrub_clock()`.
        case postgresql
    }

    struct Options: Sendable {
        var backend = Backend.sqlite
        var nodes = 4
        var pendingImages = 30
        var activeImages = 5
        var steps = 250
        var nodeTTL = 5.0
        var leaseTTL = 6.0
        var window = 6
        var claimBatch = 3
        var breaking = Break.none
    }

    struct Report: Sendable {
        var violations: [String] = []
        var log: [String] = []
        var deletions = 0
        var restores = 0
        var pauses = 0
        var crashes = 0
        var expiries = 0
        /// Outcomes the store reported as completing no claim it holds (stale or replayed).
        var lostOutcomes = 0
        /// Outcomes sent while the same node held a newer claim of their image: the race's shape.
        var staleBesideNewerClaim = 0
        /// Completion batches sent again, and joins of a second process under a live id refused.
        var replays = 0
        var refusedTwins = 0
        var terms: Int64 = 0

        func tail(_ n: Int = 40) -> String { log.suffix(n).joined(separator: "\n") }
    }

    /// A claim in progress on a node: the image, the epoch it was claimed in, results so far.
    struct Work {
        var image: ClaimedImage
        var epoch: Int
        var results: [LocationResult] = []
    }

    /// One node's local state: what the real node keeps in memory (lost on a crash).
    struct Node {
        let id: String
        /// The incarnation its last join was given: "" for a process that has not joined yet.
        var incarnation = ""
        var epoch = 0
        var trustedUntil: Double?
        var joined = false
        var work: [Work] = []
        var outcomes: [ScrubOutcome] = []
        /// Batches this process sent, for the replay fault.
        var sent: [[ScrubOutcome]] = []
        /// The token of this process's newest claim of each image (for ``Break/outcomesNameNewestClaim``).
        var newestClaim: [String: String] = [:]
        var leaderTerm: Int64?
        var leaderTrustedUntil = 0.0
        var pausedUntil: Double?
        var downUntil: Double?

        var identity: NodeIdentity { NodeIdentity(nodeID: id, incarnation: incarnation) }

        func trusted(epoch: Int, at now: Double) -> Bool {
            epoch == self.epoch && (trustedUntil.map { now < $0 } ?? false)
        }

        mutating func renewed(startedAt start: Double, epoch: Int, ttl: Double) {
            guard epoch == self.epoch else { return }
            let until = start + ttl - min(1.0, ttl / 4)
            if trustedUntil.map({ until > $0 }) ?? true { trustedUntil = until }
        }

        mutating func lost() {
            epoch += 1
            trustedUntil = nil
        }
    }

    let seed: UInt64
    let options: Options

    init(seed: UInt64, options: Options = Options()) {
        self.seed = seed
        self.options = options
    }

    func run() async throws -> Report {
        let clock = StoreClock(start: 1_800_000_000)
        switch options.backend {
        case .sqlite, .service:
            // In memory when the host has it: thousands of small commits, no disk to wait on.
            let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path
            let directory = base + "/scrubber-sim-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = directory + "/glance.sqlite"
            let store = try SQLiteCatalog(path: path, clock: { clock.now })
            try await store.upgrade()
            let served = options.backend == .service ? try await ServedCatalog.start(fronting: store) : nil
            defer { withExtendedLifetime(served) {} }
            return try await run(
                catalog: served?.client ?? store,
                db: SQLiteSimDatabase(queue: try DatabaseQueue(path: path)),
                clock: clock
            )
        case .postgresql:
            // A database of its own on the shared test server, whose clock is a table the run moves.
            let database = try await PostgresDatabase.make(clock: clock)
            let db = try await PostgresSimDatabase.connect(database.catalog.endpoint)
            try await db.setClock(clock.now)
            let catalog = PostgresCatalog(
                endpoint: database.catalog.endpoint,
                connections: 2,
                operationTimeout: 30,
                logger: Logger(label: "sim") { _ in SwiftLogNoOpLogHandler() },
                clockFunction: StoreClock.postgresqlFunction
            )
            try await catalog.connect()
            defer { catalog.shutdown() }
            return try await run(catalog: catalog, db: db, clock: clock)
        }
    }

    private func run(catalog: any ScrubCatalog, db: any SimDatabase, clock: StoreClock) async throws -> Report {
        var run = Run(options: options, rng: SplitMix64(seed: seed), clock: clock, catalog: catalog, db: db)
        try await run.seed()
        try await run.simulate()
        if run.report.violations.isEmpty { try await run.quiesce() }
        // SCRUBBER_SIM_LOG=DIR: every run's whole step log, one file per seed, to study a failure.
        if let dump = ProcessInfo.processInfo.environment["SCRUBBER_SIM_LOG"] {
            try? run.report.log.joined(separator: "\n").write(
                toFile: "\(dump)/seed-\(seed)-\(options.backend).log",
                atomically: true,
                encoding: .utf8
            )
        }
        return run.report
    }
}
