import ScrubberCore
import Testing

/// Leader election under simulated time (DESIGN §3.2, §4): see ``ElectionSim`` for the model
/// and the invariants checked after every event. Every run is a pure function of its seed.
@Suite("Election simulation")
struct ElectionSimulationTests {
    // MARK: Random runs with faults

    /// 3–5 nodes; ttl 1.2, 3 or 6 s (so margin/ttl and pollInterval/ttl vary); delays in
    /// [0, 0.3·ttl] each way; random clock offsets and ±0.1 % drift; until 150·ttl: pauses of
    /// 0–3·ttl (often of the leader), crashes and restarts (0–2·ttl down), graceful resignations
    /// (staying or leaving for a while), 5 % lost requests or responses, 2 % requests stalled
    /// for up to 3·ttl before reaching the store. Then 50·ttl without faults.
    static func faultyConfig(seed: UInt64) -> ElectionSim.Config {
        let ttl = [1.2, 3.0, 6.0][Int(seed % 3)]
        var c = ElectionSim.Config(ttl: ttl, nodes: 3 + Int(seed / 3 % 3))
        c.faultStop = 150 * ttl
        c.meanFaultGap = 1.5 * ttl
        c.lossRate = 0.05
        c.stallRate = 0.02
        c.maxStall = 3 * ttl
        c.maxDrift = 0.001
        c.maxOffset = 1000
        c.startSpread = ttl
        return c
    }

    @Test(
        "random faults: one trusted leader at a time, only on the store's current, unexpired lease; a leader soon after the faults stop",
        arguments: 0..<UInt64(200)
    )
    func randomFaults(seed: UInt64) {
        let config = Self.faultyConfig(seed: seed)
        let ttl = config.ttl
        let sim = ElectionSim(config, seed: seed)
        sim.run(until: 200 * ttl)

        #expect(sim.violations.isEmpty, "seed \(seed): \(sim.violations.joined(separator: "\n"))")
        // The faults did bite: the lease changed hands many times.
        #expect(sim.store.term >= 10, "seed \(seed): only \(sim.store.term) terms; stats \(sim.stats)")

        // (d) Liveness: after the last fault's effects end, a stale lease runs out within a ttl,
        // a follower campaigns within a poll interval or a round trip, and its round trip ends.
        let poll = Elector(ttl: ttl).pollInterval
        let roundTrip = 2 * config.maxDelay
        let bound = ttl + 2 * roundTrip + 3 * poll
        guard let first = sim.firstLeaderAfterQuiet else {
            Issue.record("seed \(seed): no leader after the faults stopped (quiet at \(sim.quietAt), run ends at \(sim.time))")
            return
        }
        #expect(first.time - sim.quietAt <= bound, "seed \(seed): first leader \(first.time - sim.quietAt) s after quiet, bound \(bound)")
        // And it stays: without faults the lease never changes hands (checked at every event) and
        // is still held at the end.
        #expect(sim.store.term == first.term, "seed \(seed)")
        #expect(sim.store.holder != nil && sim.store.expiresAt > sim.time, "seed \(seed): lease lost at the end")
    }

    @Test("the random runs exercise the dangerous paths")
    func coverage() {
        var total: [String: Int] = [:]
        for seed in 0..<UInt64(30) {
            let sim = ElectionSim(Self.faultyConfig(seed: seed), seed: seed)
            sim.run(until: 200 * sim.ttl)
            #expect(sim.violations.isEmpty, "seed \(seed): \(sim.violations.joined(separator: "\n"))")
            total.merge(sim.stats, uniquingKeysWith: +)
        }
        for key in ["pause", "crash", "crash leader", "resign", "lost", "stall", "renew rejected", "renew ok after trust ran out"] {
            #expect(total[key, default: 0] > 0, "never happened: \(key); \(total)")
        }
    }

    // MARK: Scenarios

    @Test("competing electors starting together: exactly one leader, term 1, no flapping", arguments: 0..<UInt64(50))
    func competingStart(seed: UInt64) {
        var config = ElectionSim.Config(ttl: 6, nodes: 5)
        config.maxOffset = 1000
        config.maxDrift = 0.001
        let sim = ElectionSim(config, seed: seed)
        // With no delays at all the campaigns reach the store in the same instant.
        if seed == 0 { sim.delivery = { _, _ in .init(toStore: 0, back: 0) } }
        sim.run(until: 20 * config.ttl)

        #expect(sim.violations.isEmpty, "seed \(seed): \(sim.violations.joined(separator: "\n"))")
        #expect(sim.store.term == 1, "seed \(seed): \(sim.store.term) terms")
        let ledBy = Set(sim.leadership.map(\.node))
        #expect(ledBy.count == 1, "seed \(seed): led by \(ledBy)")
        #expect(ledBy.first.map { sim.nodes[$0].id } == sim.store.holder, "seed \(seed)")
        #expect(sim.leaders.count <= 1, "seed \(seed)")
    }

    /// Runs until some node leads; returns it and its term.
    static func runUntilLeader(_ sim: ElectionSim, step: Double = 0.01, limit: Double) -> (node: Int, term: Int64)? {
        while sim.time < limit {
            if let l = sim.leaders.first { return l }
            sim.run(until: sim.time + step)
        }
        return nil
    }

    @Test("a leader paused past its lease is deposed; on resume it does not trust the old term, and a renew of it is rejected")
    func pausedLeaderIsDeposed() throws {
        let ttl = 6.0
        var config = ElectionSim.Config(ttl: ttl, nodes: 3)
        config.maxOffset = 1000
        let sim = ElectionSim(config, seed: 1)
        sim.delivery = { _, _ in .init(toStore: 0.3, back: 0.3) }
        let (a, term) = try #require(Self.runUntilLeader(sim, limit: 2 * ttl))
        let pausedAt = sim.time
        sim.pause(a, for: 2.5 * ttl)

        var checkedResume = false
        sim.willResume = { sim, i in
            guard i == a else { return }
            checkedResume = true
            let node = sim.nodes[i]
            let now = node.local(sim.time)
            guard var elector = node.elector else {
                Issue.record("node down on resume")
                return
            }
            // Another node took the next term while it slept.
            #expect(sim.store.term == term + 1)
            #expect(sim.store.holder != nil && sim.store.holder != node.id)
            // Its belief is stale but it does not act on it: no term, even before `expire`.
            #expect(elector.leaderTerm(at: now) == nil)
            guard case .leader(let staleTerm, _) = elector.role else {
                Issue.record("role \(elector.role) before any processing")
                return
            }
            #expect(staleTerm == term)
            // Even a driver that forgot `expire` would only try to renew, and the store refuses.
            #expect(elector.next(at: now) == .renew(term: term))
            var store = sim.store
            let ok = store.renew(node: node.id, term: term, ttl: ttl, now: sim.time)
            #expect(!ok)
            elector.renewed(startedAt: now, ok: ok)
            #expect(elector.role == .follower)
            #expect(elector.next(at: now) == .wait(until: now + elector.pollInterval))
        }
        sim.run(until: pausedAt + 6 * ttl)

        #expect(checkedResume)
        #expect(sim.violations.isEmpty, "\(sim.violations.joined(separator: "\n"))")
        // Another node led under term + 1 while `a` was paused, and `a` never trusted `term` after
        // its trust window (which began before the pause) ran out.
        let successor = sim.leadership.first { $0.term == term + 1 }
        #expect(successor != nil && successor!.node != a && successor!.time < pausedAt + 2.5 * ttl)
        #expect(!sim.leadership.contains { $0.node == a && $0.term == term && $0.time > pausedAt })
    }

    @Test("a leader paused with a renew in flight: the renew lands after its lease expired, is rejected, and it steps down")
    func pausedLeaderRenewRejected() throws {
        let ttl = 6.0
        var config = ElectionSim.Config(ttl: ttl, nodes: 3)
        config.maxOffset = 1000
        let sim = ElectionSim(config, seed: 2)
        sim.delivery = { _, _ in .init(toStore: 0.3, back: 0.3) }
        let (a, term) = try #require(Self.runUntilLeader(sim, limit: 2 * ttl))
        var stalled: ElectionSim.Request?
        sim.delivery = { sim, request in
            // Its next renew: it pauses right after sending it, and the request is held up.
            if stalled == nil, request.node == a, case .renew = request.op {
                stalled = request
                sim.pause(a, for: 2.5 * ttl)
                return .init(toStore: 2 * ttl, back: 0.3)
            }
            return .init(toStore: 0.3, back: 0.3)
        }
        var trustedOnResume: Int64?? = .none
        sim.willResume = { sim, i in
            if i == a { trustedOnResume = .some(sim.nodes[i].elector?.leaderTerm(at: sim.localNow(i))) }
        }
        var roleAfterRejection: Elector.Role?
        sim.didComplete = { sim, i, c in
            if c.request.id == stalled?.id {
                if case .renew(let ok) = c.outcome { #expect(!ok) } else { Issue.record("renew outcome \(c.outcome)") }
                roleAfterRejection = sim.nodes[i].elector?.role
            }
        }
        sim.run(until: sim.time + 6 * ttl)

        #expect(stalled != nil)
        #expect(trustedOnResume == .some(nil), "it trusted \(String(describing: trustedOnResume)) on resume")
        #expect(roleAfterRejection == .follower)
        #expect(sim.stats["renew rejected"] == 1)
        #expect(sim.store.term > term)
        #expect(sim.violations.isEmpty, "\(sim.violations.joined(separator: "\n"))")
    }

    @Test("trust runs from the attempt's start: a renew answered after ttl does not extend it")
    func slowRenewDoesNotExtendTrust() throws {
        // The pure rule first: campaign at 100 with ttl 6 and margin 1 trusts until 105; a renew
        // started at 102 and answered at 109 trusts until 107, not 109 + 5.
        var e = Elector(ttl: 6)
        #expect(e.margin == 1)
        e.campaigned(startedAt: 100, granted: 7)
        #expect(e.leaderTerm(at: 104.999) == 7)
        #expect(e.leaderTerm(at: 105) == nil)
        e.renewed(startedAt: 102, ok: true)
        #expect(e.leaderTerm(at: 106.999) == 7)
        #expect(e.leaderTerm(at: 107) == nil)
        #expect(e.leaderTerm(at: 109) == nil)
        e.expire(at: 109)
        #expect(e.role == .follower)

        // In the simulation: the leader's renew reaches the store fast but its answer takes 1.2·ttl.
        let ttl = 6.0
        var config = ElectionSim.Config(ttl: ttl, nodes: 3)
        config.maxOffset = 1000
        config.maxDrift = 0.001
        let sim = ElectionSim(config, seed: 3)
        sim.delivery = { _, _ in .init(toStore: 0.3, back: 0.3) }
        let (a, term) = try #require(Self.runUntilLeader(sim, limit: 2 * ttl))
        var slow: ElectionSim.Request?
        sim.delivery = { _, request in
            if slow == nil, request.node == a, case .renew = request.op {
                slow = request
                return .init(toStore: 0.1, back: 1.2 * ttl)
            }
            return .init(toStore: 0.3, back: 0.3)
        }
        var checked = false
        sim.didComplete = { sim, i, c in
            guard c.request.id == slow?.id, let elector = sim.nodes[i].elector else { return }
            checked = true
            if case .renew(let ok) = c.outcome { #expect(ok) }  // the store did extend the lease…
            let start = c.request.startLocal
            // …but the node trusts it only until start + ttl − margin, which has passed.
            #expect(elector.role == .leader(term: term, trustedUntil: start + ttl - elector.margin))
            #expect(elector.leaderTerm(at: sim.localNow(i)) == nil)
        }
        sim.run(until: sim.time + 5 * ttl)

        #expect(checked)
        #expect(sim.violations.isEmpty, "\(sim.violations.joined(separator: "\n"))")
        // It never trusted `term` again after the slow renew's window.
        let slowStart = try #require(slow).sentAt
        #expect(!sim.leadership.contains { $0.node == a && $0.term == term && $0.time >= slowStart + ttl })
    }

    @Test("a resigned lease is taken by another node within one poll interval plus the delays", arguments: 0..<UInt64(50))
    func resignHandsOver(seed: UInt64) throws {
        let ttl = [6.0, 1.2][Int(seed % 2)]
        let poll = Elector(ttl: ttl).pollInterval
        // Small delays (a round trip under one poll interval), as on a LAN.
        var config = ElectionSim.Config(ttl: ttl, nodes: 3 + Int(seed / 2 % 3), maxDelay: 0.45 * poll)
        config.maxOffset = 1000
        config.maxDrift = 0.001
        config.startSpread = ttl
        let sim = ElectionSim(config, seed: seed)
        sim.run(until: 2 * ttl)
        let (a, term) = try #require(Self.runUntilLeader(sim, limit: 4 * ttl), "seed \(seed)")
        // Resign at an arbitrary moment of its renew cycle.
        sim.run(until: sim.time + Double(seed % 7) * ttl / 21)
        guard case .leader = sim.nodes[a].elector?.role else {
            Issue.record("seed \(seed): \(a) no longer leads")
            return
        }
        let resignedAt = sim.time
        sim.resign(a, leaveFor: 10 * ttl)
        #expect(sim.leaders.isEmpty, "seed \(seed)")

        let d = config.maxDelay
        // The resign lands within d; every follower campaigns again within a poll interval (its
        // round trip is shorter); that campaign lands and is answered within 2d.
        let bound = (d + poll + 2 * d) * 1.002
        guard let next = Self.runUntilLeader(sim, step: 0.001, limit: resignedAt + 2 * ttl) else {
            Issue.record("seed \(seed): nobody took over")
            return
        }
        #expect(next.node != a && next.term == term + 1, "seed \(seed)")
        #expect(sim.time - resignedAt <= bound + 0.001, "seed \(seed): took \(sim.time - resignedAt) s, bound \(bound)")
        // "Taken within a second" (Elector.pollInterval), whatever the poll interval is set to.
        #expect(sim.time - resignedAt < 1, "seed \(seed): took \(sim.time - resignedAt) s")
        #expect(sim.violations.isEmpty, "seed \(seed): \(sim.violations.joined(separator: "\n"))")
    }

    @Test("a graceful resign that stays lets the store move on without a stale leader")
    func resignAndStay() {
        var e = Elector(ttl: 6)
        e.campaigned(startedAt: 10, granted: 3)
        e.stepDown(at: 11)
        #expect(e.leaderTerm(at: 11) == nil)
        #expect(e.next(at: 11) == .wait(until: 11 + e.pollInterval))
        #expect(e.next(at: 11 + e.pollInterval) == .campaign)
        // A late answer to a renew sent before resigning does not bring the old term back.
        e.renewed(startedAt: 10.5, ok: true)
        #expect(e.role == .follower)
    }
}
