import Foundation
import ScrubberCore
import Testing

/// The leader's choice of pages (DESIGN §4, "Finding work"): a full sweep once per
/// `wakeup_time`, the recent scan in between, the slack re-read every `slack` seconds, and the
/// state it keeps only when nothing read ahead would be lost with it.
@Suite struct LeaderSweepTests {
    static let t0 = 1_800_000_000.0
    static func stamp(_ t: Double) -> String { GlanceTimestamp.string(from: Date(timeIntervalSince1970: t)) }

    /// A catalog's answer at store time `now`.
    static func view(_ now: Double, ids: [String] = [], next: String? = nil, sweep: SweepState = SweepState()) -> LeaderView {
        LeaderView(nodes: [], orphans: [], unassigned: ids, next: next, scannedTo: stamp(now), storeNow: now, sweep: sweep)
    }

    @Test func aFreshCatalogIsSweptInFullOnceThenOnlyWhatChangedIsRead() {
        var sweep = LeaderSweep(wakeupTime: 300, slack: 60)
        sweep.load(Self.view(Self.t0))
        let first = sweep.nextScan(now: Self.t0)
        #expect(first == .full(after: nil))
        sweep.append(Self.view(Self.t0, ids: ["a", "b"], next: "2"), from: first)
        #expect(sweep.nextScan(now: Self.t0 + 1) == .full(after: "2"), "a sweep under way goes on")
        sweep.append(Self.view(Self.t0 + 1, ids: ["c"]), from: .full(after: "2"))
        #expect(sweep.exhausted && sweep.count == 3)
        #expect(sweep.state.mark == Self.stamp(Self.t0), "the first sweep sets the mark where it started")
        #expect(sweep.state.fullStartedAt == Self.t0 && sweep.state.fullCompletedAt == Self.t0 + 1 && sweep.state.fullPosition == nil)

        // Next: the recent scan, its first one re-reading the slack (2 × 60 s before the mark).
        let recheck = sweep.nextScan(now: Self.t0 + 2)
        #expect(recheck == .recent(since: Self.stamp(Self.t0 - 120), after: nil))
        sweep.append(Self.view(Self.t0 + 2), from: recheck)
        #expect(sweep.state.mark == Self.stamp(Self.t0 + 2))
        // Then from the mark itself, until `slack` seconds have passed.
        for t in stride(from: Self.t0 + 3, to: Self.t0 + 62, by: 5) {
            let scan = sweep.nextScan(now: t)
            #expect(scan == .recent(since: sweep.state.mark!, after: nil))
            sweep.append(Self.view(t), from: scan)
        }
        let mark = sweep.state.mark!
        #expect(
            sweep.nextScan(now: Self.t0 + 62)
                == .recent(since: Self.stamp(GlanceTimestamp.date(from: mark)!.timeIntervalSince1970 - 120), after: nil)
        )
        // A full sweep again once wakeup_time has passed since the last one started, not before.
        #expect(!sweep.fullSweepDue(now: Self.t0 + 299))
        #expect(sweep.fullSweepDue(now: Self.t0 + 300))
        #expect(sweep.fullSweepDue(now: Self.t0 - 10), "a store clock that went back starts one")
    }

    @Test func aRecentScanGoesOnPageByPageAndMovesTheMarkOnlyAtItsEnd() {
        var sweep = LeaderSweep(wakeupTime: 300, slack: 60)
        let kept = SweepState(mark: Self.stamp(Self.t0), fullStartedAt: Self.t0, fullCompletedAt: Self.t0 + 1)
        sweep.load(Self.view(Self.t0 + 10, sweep: kept))
        let scan = sweep.nextScan(now: Self.t0 + 10)
        guard case .recent(let since, nil) = scan else {
            Issue.record("expected a recent scan, got \(scan)")
            return
        }
        sweep.append(Self.view(Self.t0 + 10, ids: ["a", "b"], next: "p1"), from: scan)
        #expect(sweep.state.mark == kept.mark, "a scan with pages left does not move the mark")
        #expect(sweep.hasMore && !sweep.exhausted)
        #expect(sweep.nextScan(now: Self.t0 + 11) == .recent(since: since, after: "p1"))
        // The same image listed again (the scan overlaps the last) is held once.
        sweep.append(Self.view(Self.t0 + 11, ids: ["b", "c"]), from: .recent(since: since, after: "p1"))
        #expect(Array(sweep.take(10)) == ["a", "b", "c"])
        #expect(sweep.state.mark == Self.stamp(Self.t0 + 11))
    }

    @Test func theStateIsKeptOnlyWhenNothingReadAheadIsLeftAndItMoved() {
        var sweep = LeaderSweep(wakeupTime: 300, slack: 60)
        sweep.load(Self.view(Self.t0))
        #expect(sweep.stateToKeep(placing: 0) == nil, "nothing moved")
        let scan = sweep.nextScan(now: Self.t0)
        sweep.append(Self.view(Self.t0, ids: ["a", "b", "c"], next: "9"), from: scan)
        #expect(sweep.stateToKeep(placing: 2) == nil, "one image read ahead would be lost to a new leader")
        let kept = sweep.stateToKeep(placing: 3)
        #expect(kept == sweep.state && kept?.fullPosition == "9", "the sweep's progress is kept")
        sweep.remove(["a", "b", "c"])
        sweep.didKeep(kept!)
        sweep.append(Self.view(Self.t0 + 1), from: sweep.nextScan(now: Self.t0 + 1))
        #expect(sweep.stateToKeep(placing: 0)?.fullCompletedAt == Self.t0 + 1, "its end is kept")
        sweep.didKeep(sweep.state)

        // The mark alone is kept once it moved `keepEvery` seconds: an idle leader writes rarely.
        var written = 0
        for t in stride(from: Self.t0 + 2, through: Self.t0 + 92, by: 1) {
            sweep.append(Self.view(t), from: sweep.nextScan(now: t))
            if let state = sweep.stateToKeep(placing: 0) {
                written += 1
                sweep.didKeep(state)
            }
        }
        #expect(written == 3)
    }

    @Test func aNewLeaderGoesOnWithTheKeptSweep() {
        var sweep = LeaderSweep(wakeupTime: 300, slack: 60)
        let kept = SweepState(mark: Self.stamp(Self.t0), fullStartedAt: Self.t0 - 100, fullPosition: "77")
        sweep.load(Self.view(Self.t0, sweep: kept))
        #expect(sweep.nextScan(now: Self.t0) == .full(after: "77"), "an unfinished full sweep goes on where it stopped")
        sweep.load(Self.view(Self.t0, sweep: SweepState()))
        #expect(sweep.state == kept, "a term's first view is loaded once")

        var idle = LeaderSweep(wakeupTime: 300, slack: 60)
        idle.load(
            Self.view(
                Self.t0,
                sweep: SweepState(mark: Self.stamp(Self.t0 - 5), fullStartedAt: Self.t0 - 100, fullCompletedAt: Self.t0 - 99)
            )
        )
        #expect(idle.nextScan(now: Self.t0).isRecent, "a leader change does not start a full sweep")
    }

    @Test func aLeaseServiceOfAnEarlierVersionIsSweptInFullAsBefore() {
        var sweep = LeaderSweep(wakeupTime: 300, slack: 60)
        let legacy = LeaderView(nodes: [], orphans: [], unassigned: [])
        sweep.load(legacy)
        #expect(sweep.nextScan(now: 0) == .full(after: nil))
        sweep.append(LeaderView(nodes: [], orphans: [], unassigned: ["a"]), from: .full(after: nil))
        #expect(sweep.nextScan(now: 0) == .full(after: nil))
        #expect(sweep.stateToKeep(placing: 1) == nil, "it has nowhere to keep a state")
    }
}

extension LeaderSweepTests {
    @Test func aOneShotRunBeginsWithAFullSweepWhateverWasKept() {
        var sweep = LeaderSweep(wakeupTime: 300, slack: 60)
        sweep.fullSweepFirst = true
        sweep.load(Self.view(Self.t0, sweep: SweepState(mark: Self.stamp(Self.t0 - 1), fullStartedAt: Self.t0 - 10, fullPosition: "5")))
        #expect(sweep.nextScan(now: Self.t0) == .full(after: nil))
        sweep.append(Self.view(Self.t0), from: .full(after: nil))
        #expect(sweep.nextScan(now: Self.t0 + 1).isRecent, "then the fast path, as a daemon's")
    }
}

extension LeaderSweepTests {
    /// (since, now] and (since − scrub_time, now − scrub_time]: one range when they meet.
    @Test func aRecentScanReadsTheSpanSinceItsBoundAndTheSpanScrubTimeBefore() throws {
        let since = Self.stamp(Self.t0)
        #expect(try ScanPosition.recentRanges(since: since, now: Self.t0 + 1, scrubTime: 0).map(\.upTo) == [Self.stamp(Self.t0 + 1)])
        let two = try ScanPosition.recentRanges(since: since, now: Self.t0 + 1, scrubTime: 600)
        #expect(two.map(\.after) == [Self.stamp(Self.t0 - 600), since])
        #expect(two.map(\.upTo) == [Self.stamp(Self.t0 - 599), Self.stamp(Self.t0 + 1)])
        let one = try ScanPosition.recentRanges(since: since, now: Self.t0 + 700, scrubTime: 600)
        #expect(one.count == 1 && one[0].after == Self.stamp(Self.t0 - 600) && one[0].upTo == Self.stamp(Self.t0 + 700))
        #expect(throws: CatalogError.self) { try ScanPosition.recentRanges(since: "soon", now: Self.t0, scrubTime: 0) }
    }
}
