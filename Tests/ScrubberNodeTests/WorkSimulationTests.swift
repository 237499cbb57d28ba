import Foundation
import ScrubberCore
import ScrubberSQLite
import Testing

/// The work protocol under a seeded scheduler (``WorkSimulation``): every seed replays exactly;
/// a failure names its seed and the tail of its step log. Serialized: one core at a time, so
/// the timing-sensitive suites running beside it are not starved.
@Suite(.serialized) struct WorkSimulationTests {
    static let seeds: ClosedRange<UInt64> = 1...30

    @Test("DESIGN §3 holds after every step of a faulty run, and every image ends deleted or restored", arguments: seeds)
    func invariantsHold(seed: UInt64) async throws {
        let report = try await WorkSimulation(seed: seed).run()
        #expect(report.violations.isEmpty, """
            seed \(seed): \(report.violations.joined(separator: "; "))
            \(report.tail())
            """)
    }

    /// The simulation can fail: a node that deletes without checking its membership trust (a
    /// paused node resuming with stale beliefs) is caught, as is a restorer that skips its data check.
    @Test("A deliberately broken node or restorer is caught",
          arguments: [(WorkSimulation.Break.deleteWithoutTrust, 7), (.restoreWithoutDataCheck, 22)] as [(WorkSimulation.Break, UInt64)])
    func brokenProtocolIsCaught(breaking: WorkSimulation.Break, knownSeed: UInt64) async throws {
        var options = WorkSimulation.Options()
        options.breaking = breaking
        let found = try await Self.firstViolation(options, tryingFirst: knownSeed)
        #expect(found != nil, "no seed caught \(breaking)")
        if let (seed, violation) = found { print("\(breaking) caught by seed \(seed): \(violation)") }
    }

    /// A real race the simulation found in the node (not yet fixed, so this pins it down): node
    /// n claims image X in epoch 1; its membership lapses (a pause) and X's deletes are refused
    /// ("permit withdrawn"), but that failed outcome is not yet recorded; n rejoins (X back to
    /// `assigned`, still n's) and claims X again in epoch 2; then the epoch-1 outcome is recorded
    /// and its compare-and-set (holder n, `scrubbing`) matches the epoch-2 claim: X goes back to
    /// `assigned` while n is deleting it under epoch 2. n may claim X twice, and a restore may
    /// commit in between while n deletes (DESIGN §3.3, §3.5). The node side of the fix is what
    /// ``WorkSimulation/Options/flushBeforeReclaim`` models.
    @Test("Known race: an earlier epoch's outcome completes a newer claim of the same image")
    func staleOutcomeCompletesNewClaim() async throws {
        var options = WorkSimulation.Options()
        options.flushBeforeReclaim = false
        let found = try await Self.firstViolation(options, tryingFirst: 22)
        #expect(found != nil, "the race is no longer reproduced: fixed? then make flushBeforeReclaim the node's behaviour")
        if let (seed, violation) = found { print("stale-outcome race reproduced by seed \(seed): \(violation)") }
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
        let clock = SimClock(start: 1_800_000_000)
        let catalog = try SQLiteCatalog(path: directory + "/glance.sqlite", clock: { clock.now })
        try await catalog.upgrade()
        let node = NodeRegistration(nodeID: "a", host: "h", pid: 1, version: "v", capacity: 1, leaderEligible: true)
        #expect(try await catalog.join(node, ttl: 5) == 1_800_000_000)
        clock.advance(by: 4.9)
        #expect(try await catalog.heartbeat(nodeID: "a", ttl: 5))
        clock.advance(by: 5.1)
        #expect(try await catalog.heartbeat(nodeID: "a", ttl: 5) == false)
    }
}
