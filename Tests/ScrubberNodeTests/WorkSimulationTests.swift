import Foundation
import ScrubberCore
import ScrubberSQLite
import TestSupport
import Testing

/// The work protocol under a seeded scheduler (``WorkSimulation``): every seed replays exactly;
/// a failure names its seed and the tail of its step log. Serialized: one core at a time, so
/// the timing-sensitive suites running beside it are not starved.
@Suite(.serialized, .tags(.startsServers)) struct WorkSimulationTests {
    static let seeds: ClosedRange<UInt64> = 1...30

    /// Every backend runs the same simulation: SQLite 30 seeds; the lease service 10 (every call
    /// over HTTP: its wire format, replay cache and refusals must change nothing of §3);
    /// PostgreSQL 5 (its clock the simulation's, through `scrub_clock()`: the same SQL shapes
    /// with row locks, its own types and transactions).
    static let runs: [(WorkSimulation.Backend, UInt64)] =
        seeds.map { (.sqlite, $0) } + (1...10).map { (.service, $0) } + (1...5).map { (.postgresql, $0) }

    @Test("DESIGN §3 holds after every step of a faulty run, and every image ends deleted or restored", arguments: runs)
    func invariantsHold(backend: WorkSimulation.Backend, seed: UInt64) async throws {
        var options = WorkSimulation.Options()
        options.backend = backend
        let report = try await WorkSimulation(seed: seed, options: options).run()
        #expect(
            report.violations.isEmpty,
            """
            \(backend) seed \(seed): \(report.violations.joined(separator: "; "))
            \(report.tail())
            """
        )
    }

    /// The simulation can fail: a node that deletes without checking its membership trust (a
    /// paused node resuming with stale beliefs) is caught, as is a restorer that skips its data
    /// check, and outcomes that name the newest claim of their image instead of their own.
    @Test(
        "A deliberately broken node or restorer is caught",
        arguments: [(WorkSimulation.Break.deleteWithoutTrust, 7), (.restoreWithoutDataCheck, 19), (.outcomesNameNewestClaim, 1)]
            as [(WorkSimulation.Break, UInt64)]
    )
    func brokenProtocolIsCaught(breaking: WorkSimulation.Break, knownSeed: UInt64) async throws {
        var options = WorkSimulation.Options()
        options.breaking = breaking
        let found = try await Self.firstViolation(options, tryingFirst: knownSeed)
        #expect(found != nil, "no seed caught \(breaking)")
        if let (seed, violation) = found { print("\(breaking) caught by seed \(seed): \(violation)") }
    }

    /// The race this simulation found (seed 22 showed it first): node n claims image X in epoch
    /// 1; its membership lapses (a pause) and X's deletes are refused ("permit withdrawn"), but
    /// that failed outcome is not yet recorded; n rejoins (X back to `assigned`, still n's) and
    /// claims X again in epoch 2; then the epoch-1 outcome arrives. When the store compared
    /// holder and state only, it completed the epoch-2 claim: X went back to `assigned` while n
    /// deleted it, and a restore could commit meanwhile. Every claim now has its own token, so
    /// the stale outcome is lost (``Break/outcomesNameNewestClaim`` shows the old behaviour is
    /// still caught). Replayed batches, twins under one id and their refusals are all part of
    /// the run.
    @Test("An earlier claim's outcome, late or replayed, never completes a newer claim of the same image")
    func staleOutcomesAreLost() async throws {
        // The first seed (of those the suite runs) whose run sends an outcome while its node holds a newer claim of the image.
        var shown: (seed: UInt64, report: WorkSimulation.Report)?
        for seed in [Self.raceSeed] + Self.seeds.filter({ $0 != Self.raceSeed }) {
            let report = try await WorkSimulation(seed: seed).run()
            if report.staleBesideNewerClaim > 0, report.replays > 0 {
                shown = (seed, report)
                break
            }
        }
        let (seed, report) = try #require(shown, "no seed delivers a stale outcome beside a newer claim")
        print(
            "the race's shape is shown by seed \(seed): \(report.staleBesideNewerClaim) stale outcome(s), \(report.lostOutcomes) lost, \(report.replays) replays"
        )
        #expect(
            report.violations.isEmpty,
            """
            seed \(seed): \(report.violations.joined(separator: "; "))
            \(report.tail())
            """
        )
        #expect(report.lostOutcomes >= report.staleBesideNewerClaim, "seed \(seed): every stale outcome is lost")
    }

    /// A seed whose run shows the race's shape (the search starts there).
    static let raceSeed: UInt64 = 8

    /// Across every seed, the faults this issue added are exercised, not just possible.
    @Test("Replays and twins happen across the seeds")
    func theNewFaultsAreExercised() async throws {
        var replays = 0
        var refusedTwins = 0
        var lost = 0
        for seed in Self.seeds.prefix(10) {
            let report = try await WorkSimulation(seed: seed).run()
            replays += report.replays
            refusedTwins += report.refusedTwins
            lost += report.lostOutcomes
        }
        #expect(replays > 0 && refusedTwins > 0 && lost > 0, "replays \(replays), refused twins \(refusedTwins), lost outcomes \(lost)")
    }

    /// The first seed whose run reports a violation, with that violation: `known` (the seed that
    /// showed it when this was written, so the search is usually one run), then the 30 others.
    static func firstViolation(_ options: WorkSimulation.Options, tryingFirst known: UInt64) async throws -> (UInt64, String)? {
        for seed in [known] + seeds.filter({ $0 != known }) {
            let report = try await WorkSimulation(seed: seed, options: options).run()
            if let first = report.violations.first { return (seed, first) }
        }
        return nil
    }

    @Test("A catalog with an injected clock reads it for the store's time")
    func injectedClock() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scrubber-clock-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clock = StoreClock(start: 1_800_000_000)
        let catalog = try SQLiteCatalog(path: directory + "/glance.sqlite", clock: { clock.now })
        try await catalog.upgrade()
        let node = NodeRegistration(nodeID: "a", host: "h", pid: 1, version: "v", capacity: 1, leaderEligible: true)
        let joined = try await catalog.join(node, ttl: 5)
        #expect(joined.storeTime == 1_800_000_000)
        let a = NodeIdentity(nodeID: "a", incarnation: joined.incarnation)
        clock.advance(by: 4.9)
        #expect(try await catalog.heartbeat(a, ttl: 5))
        clock.advance(by: 5.1)
        #expect(try await catalog.heartbeat(a, ttl: 5) == false)
    }
}
