import Foundation

/// How the leader finds work in Glance's `images` (DESIGN §4, "Finding work"): which page it reads next, the
/// eligible images it has read ahead, and the sweep's state it keeps in the catalog. Pure: the
/// store clock comes in with each ``LeaderView``.
///
/// - **The fast path**, every round: a ``CandidateScan/recent(since:after:)`` scan of the
///   images updated after the high-water mark (``SweepState/mark``), and of those updated
///   `scrub_time` before that span (which become eligible now), through Glance's `updated_at`
///   index: an idle catalog costs nothing however long its history. Every ``slack`` seconds the scan starts `2 × slack` before the mark instead,
///   so a row that became visible up to `slack` seconds late (clocks of glance-api hosts
///   behind the database's, a slow commit) is still found; each row is read about three
///   times in all, not once per round.
/// - **The safety sweep**, once per ``wakeupTime`` by the store clock: every soft-deleted image
///   in key pages, for what the fast path cannot see (a row written with an old `updated_at`).
///   Its start and progress are kept in the catalog, so a new leader goes on with it rather
///   than starting one.
///
/// Bounded: at most about two pages of ids are held.
public struct LeaderSweep: Sendable {
    /// Seconds between full sweeps (`wakeup_time`).
    public var wakeupTime: Double
    /// Seconds of lateness the fast path tolerates (`sweep_slack`).
    public var slack: Double
    /// The mark is written back once it has moved this far (the full sweep's progress always):
    /// an idle leader writes nothing most rounds, and a new leader reads again at most this much.
    public var keepEvery: Double = 30
    /// Begin with a full sweep whatever the kept state says: a one-shot run (`--once`) must
    /// reach every eligible image, as upstream's one listing per run does.
    public var fullSweepFirst = false

    private var ids: [String] = []
    private var head = 0
    private var buffered: Set<String> = []
    /// The scan whose next page is due, if one is under way.
    public private(set) var current: CandidateScan?
    /// The last page read reached the end of its scan.
    public private(set) var exhausted = false
    /// The sweep as this leader knows it.
    public private(set) var state = SweepState()
    /// The sweep as the catalog keeps it (nil until the first view of the term is loaded).
    private var kept: SweepState?
    /// The catalog is a lease service of an earlier version: it sweeps in full only.
    private var legacy = false
    /// Store time the last re-read of the slack started.
    private var lastRecheck: Double?

    public init(wakeupTime: Double, slack: Double) {
        self.wakeupTime = wakeupTime
        self.slack = slack
    }

    /// Ids read ahead and not yet placed.
    public var count: Int { ids.count - head }
    /// Whether more unassigned work is known (read ahead, or a scan with pages left).
    public var hasMore: Bool { count > 0 || current != nil }
    /// Whether a page should be read now: a scan goes on, or the ids read ahead are used up
    /// (starting a scan while some are left would list them again).
    public var canRead: Bool { current != nil || count == 0 }

    /// Takes the catalog's state from the first view of a term (later calls do nothing).
    public mutating func load(_ view: LeaderView) {
        guard kept == nil else { return }
        legacy = view.scannedTo.isEmpty
        state = view.sweep
        kept = view.sweep
    }

    /// The page to read at store time `now`.
    public mutating func nextScan(now: Double) -> CandidateScan {
        if let current { return current }
        if legacy { return .full(after: nil) }
        if fullSweepFirst {
            fullSweepFirst = false
            return .full(after: nil)
        }
        if let position = state.fullPosition { return .full(after: position) }
        guard let mark = state.mark.flatMap(GlanceTimestamp.date(from:)), !fullSweepDue(now: now) else { return .full(after: nil) }
        if let last = lastRecheck, now >= last, now - last < slack {
            return .recent(since: GlanceTimestamp.string(from: mark), after: nil)
        }
        lastRecheck = now
        return .recent(since: GlanceTimestamp.string(from: mark.addingTimeInterval(-2 * slack)), after: nil)
    }

    /// Whether a full sweep is due: none has started, or the last started `wakeup_time` ago (or
    /// after `now`: the store clock went back).
    public func fullSweepDue(now: Double) -> Bool {
        guard let started = state.fullStartedAt else { return true }
        return now - started >= wakeupTime || now < started
    }

    /// Takes a page read for `scan`.
    public mutating func append(_ page: LeaderView, from scan: CandidateScan) {
        if count == 0 {
            ids = []
        } else {
            ids.removeFirst(head)
        }
        head = 0
        for id in page.unassigned where buffered.insert(id).inserted { ids.append(id) }
        current = page.next.map { scan.continued(after: $0) }
        exhausted = page.next == nil
        guard !legacy else { return }
        switch scan {
        case .full(let after):
            if after == nil {
                state.fullStartedAt = page.storeNow
                // The first sweep sets the mark: what was updated before it, it lists itself.
                if state.mark == nil { state.mark = page.scannedTo }
            }
            state.fullPosition = page.next
            if page.next == nil { state.fullCompletedAt = page.storeNow }
        case .recent:
            if page.next == nil { state.mark = Self.later(state.mark, page.scannedTo) }
        }
    }

    /// The first `n` ids read ahead.
    public func take(_ n: Int) -> ArraySlice<String> {
        ids[head..<min(ids.count, head + n)]
    }

    /// Forgets ids that were placed.
    public mutating func remove(_ placed: Set<String>) {
        ids = ids[head...].filter { !placed.contains($0) }
        head = 0
        buffered.subtract(placed)
    }

    /// The state to write with a round that places `placing` of the ids read ahead, or nil.
    /// Only when none would be left unplaced (a new leader starting from the kept state must
    /// list them again), and only when it moved: the full sweep's progress, or the mark by
    /// ``keepEvery`` seconds.
    public func stateToKeep(placing: Int) -> SweepState? {
        guard let kept, !legacy, count - placing <= 0, state != kept else { return nil }
        if state.fullStartedAt != kept.fullStartedAt || state.fullPosition != kept.fullPosition
            || state.fullCompletedAt != kept.fullCompletedAt
        {
            return state
        }
        guard let mark = state.mark.flatMap(GlanceTimestamp.date(from:)), let keptMark = kept.mark.flatMap(GlanceTimestamp.date(from:))
        else { return state }
        return abs(mark.timeIntervalSince(keptMark)) >= keepEvery ? state : nil
    }

    /// Records that the catalog now keeps `state`.
    public mutating func didKeep(_ state: SweepState) {
        kept = state
    }

    /// The later of two Glance timestamps (an unreadable one loses).
    static func later(_ a: String?, _ b: String) -> String {
        guard let a, let dateA = GlanceTimestamp.date(from: a) else { return b }
        guard let dateB = GlanceTimestamp.date(from: b) else { return a }
        return dateA >= dateB ? a : b
    }
}
