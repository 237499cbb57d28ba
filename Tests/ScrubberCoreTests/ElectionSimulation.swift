import ScrubberCore
import TestSupport

/// A discrete-event simulation of the leader election: N ``Elector``s driven the way
/// `ElectionService` drives them (one request in flight at a time; after each response it loops
/// at once: `expire`, then `next`), against a lease store with the semantics of
/// `CatalogQueries.takeLease` / `renewLease` / `resignLease`, judged by the store's own clock.
///
/// Simulated time is `time` (seconds). The store's clock is sim time. Each node's clock is
/// `offset + rate · time`: a per-incarnation constant offset (a restarted process starts a new
/// monotonic clock) and a rate within ±`maxDrift` of 1. ``Elector`` only compares its own local
/// times, so offsets cannot matter; drift (≤ 0.1 %) stretches a trust window of `ttl − margin`
/// local seconds by at most 0.1 % of it in sim time, far less than `margin` (≥ ttl/10 for every
/// ttl used here), which absorbs it.
///
/// Invariants are checked after every event (they can only become false at an event: beliefs
/// start only when a response is processed, and between events trust only runs out):
/// - (a) at most one elector has `leaderTerm(at: its local now) != nil`;
/// - (b) an elector that trusts term T until local U is the store's holder with term T, and the
///   store's lease outlives the trust window (`expiresAt ≥ sim time of U`, hence `> now`), so it
///   can never act on a stale or expired lease, not even between events;
/// - (c) the store's term never decreases, grows by at most one per operation, and every change
///   of holder to a node increments it.
final class ElectionSim {
    enum Op: Hashable, CustomStringConvertible {
        case campaign
        case renew(term: Int64)
        case resign(term: Int64)

        var description: String {
            switch self {
            case .campaign: "campaign"
            case .renew(let t): "renew(\(t))"
            case .resign(let t): "resign(\(t))"
            }
        }
    }

    struct Request: CustomStringConvertible {
        let id: Int
        let node: Int
        let incarnation: Int
        let op: Op
        /// The sender's local clock when it started the attempt (`startedAt`).
        let startLocal: Double
        let sentAt: Double

        var description: String { "#\(id) n\(node).\(incarnation) \(op) sent \(sentAt)" }
    }

    /// Delays of one request: to the store, and of the response back. nil: lost on that leg.
    struct Delivery {
        var toStore: Double?
        var back: Double?
    }

    enum Outcome {
        case campaign(holder: String?, term: Int64, remaining: Double)
        case renew(ok: Bool)
        /// No response: the loop's call failed (timeout).
        case lost
    }

    struct Completion {
        let request: Request
        let outcome: Outcome
    }

    final class Node {
        let id: String
        var offset: Double
        var rate: Double
        var elector: Elector?  // nil while down
        var incarnation = 0
        var inFlight: Request?
        var pausedUntil: Double?
        var inbox: [Completion] = []
        var wakeSeq = 0

        init(id: String, offset: Double, rate: Double) {
            self.id = id
            self.offset = offset
            self.rate = rate
        }

        var isUp: Bool { elector != nil }
        var isPaused: Bool { pausedUntil != nil }

        func local(_ t: Double) -> Double { offset + rate * t }

        /// The first sim time ≥ `notBefore` at which the local clock reads at least `l`.
        func simTime(ofLocal l: Double, notBefore t: Double) -> Double {
            var s = max(t, (l - offset) / rate)
            while local(s) < l { s = s.nextUp }
            return s
        }
    }

    /// The lease row, applied atomically at the instant a request reaches the store.
    struct Store {
        private(set) var holder: String?
        private(set) var term: Int64 = 0
        private(set) var expiresAt: Double = -.infinity
        /// Who got each term: one holder per term.
        private(set) var grants: [Int64: String] = [:]

        mutating func campaign(node: String, ttl: Double, now: Double) -> Outcome {
            if holder == nil || expiresAt <= now || holder == node {
                term += 1
                holder = node
                expiresAt = now + ttl
                grants[term] = node
            }
            return .campaign(holder: holder, term: term, remaining: expiresAt - now)
        }

        mutating func renew(node: String, term: Int64, ttl: Double, now: Double) -> Bool {
            guard holder == node, self.term == term, expiresAt > now else { return false }
            expiresAt = now + ttl
            return true
        }

        mutating func resign(node: String, term: Int64, now: Double) {
            guard holder == node, self.term == term else { return }
            holder = nil
            expiresAt = now
        }
    }

    struct Config {
        var ttl: Double
        var nodes: Int
        /// Each leg of a request takes a delay in [0, maxDelay].
        var maxDelay: Double
        /// Random faults (pauses, crashes, resignations, losses, stalls) happen before this sim time.
        var faultStop: Double = 0
        var meanFaultGap: Double = 0
        var lossRate: Double = 0
        /// Requests that stall on the way to the store for up to `maxStall` (a pause between
        /// taking the start time and sending, or a slow network).
        var stallRate: Double = 0
        var maxStall: Double = 0
        var maxDrift: Double = 0
        var maxOffset: Double = 0
        /// Nodes start at random instants in [0, startSpread).
        var startSpread: Double = 0

        init(ttl: Double, nodes: Int, maxDelay: Double? = nil) {
            self.ttl = ttl
            self.nodes = nodes
            self.maxDelay = maxDelay ?? 0.3 * ttl
        }

        /// A failed call is reported after the longest round trip, so a lost request has
        /// landed (or never will) before the loop sends its next one, as with a blocking call.
        var timeout: Double { 2 * maxDelay }
    }

    enum Event {
        case start(Int)
        case wake(node: Int, incarnation: Int, seq: Int)
        case reachStore(Request, back: Double?)
        case complete(Completion)
        case resume(node: Int, incarnation: Int)
        case restart(Int)
        case faultTick
        case script((ElectionSim) -> Void)
    }

    let config: Config
    let seed: UInt64
    var ttl: Double { config.ttl }
    private(set) var time: Double = 0
    private(set) var store = Store()
    let nodes: [Node]
    private var rng: SplitMix64
    private var queue = EventQueue<Event>()
    private var nextRequestID = 0
    /// Requests on their way to the store, by id → node.
    private var toStore: [Int: Int] = [:]
    /// Requests of crashed incarnations that never reach the store (the connection died).
    private var dropped: Set<Int> = []

    /// Overrides the random delays of a request (scenario tests). Called when it is sent.
    var delivery: ((ElectionSim, Request) -> Delivery?)?
    /// Called when a paused node resumes, before it processes anything.
    var willResume: ((ElectionSim, Int) -> Void)?
    /// Called after a node processed a response (before its loop goes on).
    var didComplete: ((ElectionSim, Int, Completion) -> Void)?

    private(set) var violations: [String] = []
    private(set) var events = 0
    /// (sim time, node, term) each time a node starts trusting a term it did not trust at the previous event.
    private(set) var leadership: [(time: Double, node: Int, term: Int64)] = []
    private var trusted: [Int64?]
    private var lastTerm: Int64 = 0
    private var lastHolder: String?

    /// When the last fault's effects end (pauses, downtime, lost or stalled requests).
    private(set) var quietAt: Double = 0
    private(set) var firstLeaderAfterQuiet: (time: Double, term: Int64)?
    private(set) var stats: [String: Int] = [:]

    init(_ config: Config, seed: UInt64) {
        self.config = config
        self.seed = seed
        rng = SplitMix64(seed: seed)
        var nodes: [Node] = []
        for i in 0..<config.nodes {
            nodes.append(Node(id: "node-\(i)", offset: 0, rate: 1))
        }
        self.nodes = nodes
        trusted = Array(repeating: nil, count: config.nodes)
        quietAt = config.faultStop
        for i in nodes.indices {
            newClock(i)
            queue.push(config.startSpread > 0 ? rng.uniform(0, config.startSpread) : 0, .start(i))
        }
        if config.faultStop > 0, config.meanFaultGap > 0 { scheduleFaultTick() }
    }

    // MARK: Driving

    func run(until end: Double) {
        while let t = queue.nextTime, t <= end {
            let (t, event) = queue.pop()!
            time = t
            handle(event)
            events += 1
            check()
        }
        time = max(time, end)
        check()
    }

    func at(_ t: Double, _ body: @escaping (ElectionSim) -> Void) {
        queue.push(t, .script(body))
    }

    /// The nodes that may act as leader now, with their terms.
    var leaders: [(node: Int, term: Int64)] {
        nodes.indices.compactMap { i in
            nodes[i].elector?.leaderTerm(at: nodes[i].local(time)).map { (i, $0) }
        }
    }

    func localNow(_ i: Int) -> Double { nodes[i].local(time) }

    // MARK: Faults

    /// Stops node `i` for `duration`: it sends nothing and processes no response until it resumes.
    func pause(_ i: Int, for duration: Double) {
        let n = nodes[i]
        guard n.isUp else { return }
        let until = max(n.pausedUntil ?? 0, time + duration)
        n.pausedUntil = until
        queue.push(until, .resume(node: i, incarnation: n.incarnation))
        noteFault(until: until)
        bump("pause")
    }

    /// Kills node `i`; it restarts after `downtime` with a fresh Elector and a new clock.
    /// Its requests not yet at the store die with its connection.
    func crash(_ i: Int, downtime: Double) {
        let n = nodes[i]
        guard n.isUp else { return }
        if case .leader = n.elector!.role { bump("crash leader") }
        for (id, node) in toStore where node == i { dropped.insert(id) }
        takeDown(i, for: downtime)
        bump("crash")
    }

    /// Graceful resignation of node `i`'s current term (as `ElectionService` does on shutdown):
    /// send resign, step down; then stay (`leaveFor` nil) or be gone for `leaveFor` and restart.
    func resign(_ i: Int, leaveFor: Double?) {
        let n = nodes[i]
        guard n.isUp, !n.isPaused, case .leader(let term, _) = n.elector!.role else { return }
        send(i, .resign(term: term))
        n.elector!.stepDown(at: n.local(time))
        bump("resign")
        if let leaveFor {
            takeDown(i, for: leaveFor)
        } else {
            step(i)
        }
    }

    private func takeDown(_ i: Int, for downtime: Double) {
        let n = nodes[i]
        n.elector = nil
        n.incarnation += 1
        n.inFlight = nil
        n.inbox = []
        n.pausedUntil = nil
        queue.push(time + downtime, .restart(i))
        noteFault(until: time + downtime)
    }

    private func noteFault(until t: Double) {
        quietAt = max(quietAt, t)
    }

    private func newClock(_ i: Int) {
        nodes[i].offset = config.maxOffset > 0 ? rng.uniform(0, config.maxOffset) : 0
        nodes[i].rate = config.maxDrift > 0 ? 1 + rng.uniform(-config.maxDrift, config.maxDrift) : 1
    }

    private func scheduleFaultTick() {
        let gap = rng.uniform(0, 2 * config.meanFaultGap)
        if time + gap < config.faultStop { queue.push(time + gap, .faultTick) }
    }

    private func randomFault() {
        let leader = nodes.indices.first { i in
            if let e = nodes[i].elector, !nodes[i].isPaused, case .leader = e.role { return true }
            return false
        }
        let r = rng.unit()
        if r < 0.25, let leader {
            // Pause the leader, often past its lease.
            pause(leader, for: rng.uniform(0.5 * ttl, 3 * ttl))
        } else if r < 0.55 {
            pause(rng.below(nodes.count), for: rng.uniform(0, 3 * ttl))
        } else if r < 0.7 {
            crash(rng.below(nodes.count), downtime: rng.uniform(0, 2 * ttl))
        } else if r < 0.9, let leader {
            resign(leader, leaveFor: rng.chance(0.5) ? nil : rng.uniform(0, 2 * ttl))
        } else if let leader {
            crash(leader, downtime: rng.uniform(0, 2 * ttl))
        }
    }

    // MARK: The node loop

    private func handle(_ event: Event) {
        switch event {
        case .start(let i):
            nodes[i].elector = Elector(ttl: ttl)
            step(i)
        case .wake(let i, let inc, let seq):
            let n = nodes[i]
            guard n.incarnation == inc, n.wakeSeq == seq else { return }
            step(i)
        case .reachStore(let request, let back):
            toStore[request.id] = nil
            if dropped.remove(request.id) != nil { return }
            let id = nodes[request.node].id
            let outcome: Outcome
            switch request.op {
            case .campaign:
                outcome = store.campaign(node: id, ttl: ttl, now: time)
            case .renew(let term):
                outcome = .renew(ok: store.renew(node: id, term: term, ttl: ttl, now: time))
            case .resign(let term):
                store.resign(node: id, term: term, now: time)
                return
            }
            if let back { queue.push(time + back, .complete(Completion(request: request, outcome: outcome))) }
        case .complete(let completion):
            let i = completion.request.node
            let n = nodes[i]
            guard n.isUp, n.incarnation == completion.request.incarnation else { return }
            if n.isPaused {
                n.inbox.append(completion)
            } else {
                process(i, completion)
                step(i)
            }
        case .resume(let i, let inc):
            let n = nodes[i]
            guard n.incarnation == inc, let until = n.pausedUntil, until <= time else { return }
            n.pausedUntil = nil
            willResume?(self, i)
            let inbox = n.inbox
            n.inbox = []
            for c in inbox { process(i, c) }
            step(i)
        case .restart(let i):
            let n = nodes[i]
            guard !n.isUp else { return }
            newClock(i)
            n.elector = Elector(ttl: ttl)
            step(i)
        case .faultTick:
            randomFault()
            scheduleFaultTick()
        case .script(let body):
            body(self)
        }
    }

    /// One turn of `ElectionService`'s loop: expire, then do what `next` says.
    private func step(_ i: Int) {
        let n = nodes[i]
        guard n.isUp, !n.isPaused, n.inFlight == nil else { return }
        let now = n.local(time)
        n.elector!.expire(at: now)
        switch n.elector!.next(at: now) {
        case .wait(let until):
            n.wakeSeq += 1
            queue.push(n.simTime(ofLocal: until, notBefore: time), .wake(node: i, incarnation: n.incarnation, seq: n.wakeSeq))
        case .campaign:
            send(i, .campaign)
        case .renew(let term):
            send(i, .renew(term: term))
        }
    }

    private func send(_ i: Int, _ op: Op) {
        let n = nodes[i]
        let request = Request(id: nextRequestID, node: i, incarnation: n.incarnation, op: op, startLocal: n.local(time), sentAt: time)
        nextRequestID += 1
        let d = delivery?(self, request) ?? randomDelivery()
        if let d1 = d.toStore {
            toStore[request.id] = i
            queue.push(time + d1, .reachStore(request, back: op.isResign ? nil : d.back))
        }
        guard !op.isResign else { return }
        n.inFlight = request
        if d.toStore == nil || d.back == nil {
            if let d1 = d.toStore, d1 > config.timeout {
                violations.append("seed \(seed): scenario bug: lost request \(request) lands after its timeout")
            }
            queue.push(time + config.timeout, .complete(Completion(request: request, outcome: .lost)))
        }
    }

    private func randomDelivery() -> Delivery {
        let faulty = time < config.faultStop
        if faulty, rng.chance(config.lossRate) {
            bump("lost")
            noteFault(until: time + config.timeout)
            return rng.chance(0.5) ? Delivery(toStore: nil, back: nil) : Delivery(toStore: rng.uniform(0, config.maxDelay), back: nil)
        }
        if faulty, rng.chance(config.stallRate) {
            bump("stall")
            let d1 = rng.uniform(config.maxDelay, config.maxStall)
            let d2 = rng.uniform(0, config.maxDelay)
            noteFault(until: time + d1 + d2)
            return Delivery(toStore: d1, back: d2)
        }
        return Delivery(toStore: rng.uniform(0, config.maxDelay), back: rng.uniform(0, config.maxDelay))
    }

    private func process(_ i: Int, _ c: Completion) {
        let n = nodes[i]
        guard n.inFlight?.id == c.request.id else { return }
        n.inFlight = nil
        let start = c.request.startLocal
        switch (c.request.op, c.outcome) {
        case (.campaign, .campaign(let holder, let term, let remaining)):
            // As ElectionService: granted only if the store says we hold an unexpired lease.
            n.elector!.campaigned(startedAt: start, granted: holder == n.id && remaining > 0 ? term : nil)
        case (.campaign, _):
            n.elector!.campaigned(startedAt: start, granted: nil)
        case (.renew, .renew(let ok)):
            if !ok { bump("renew rejected") }
            if ok, n.local(time) >= start + ttl - n.elector!.margin { bump("renew ok after trust ran out") }
            n.elector!.renewed(startedAt: start, ok: ok)
        case (.renew, _):
            n.elector!.renewed(startedAt: start, ok: nil)
        default:
            break
        }
        didComplete?(self, i, c)
    }

    private func bump(_ key: String) { stats[key, default: 0] += 1 }

    // MARK: Invariants

    private func check() {
        func fail(_ what: String) {
            if violations.count < 10 {
                violations.append(
                    "seed \(seed), t=\(time): \(what); store holder=\(store.holder ?? "nil") term=\(store.term) expiresAt=\(store.expiresAt)"
                )
            }
        }
        // (c)
        if store.term < lastTerm { fail("store term went down from \(lastTerm)") }
        if store.term > lastTerm + 1 { fail("store term jumped from \(lastTerm)") }
        if let holder = store.holder, holder != lastHolder, store.term != lastTerm + 1 {
            fail("holder changed from \(lastHolder ?? "nil") to \(holder) without a new term")
        }
        if let holder = store.holder, store.grants[store.term] != holder { fail("holder \(holder) was never granted term \(store.term)") }
        lastTerm = store.term
        lastHolder = store.holder

        var leading: [(node: Int, term: Int64)] = []
        for (i, n) in nodes.enumerated() {
            guard let elector = n.elector else {
                trusted[i] = nil
                continue
            }
            let now = n.local(time)
            let term = elector.leaderTerm(at: now)
            if let term, trusted[i] != term { leadership.append((time, i, term)) }
            trusted[i] = term
            guard let term, case .leader(let roleTerm, let until) = elector.role else { continue }
            leading.append((i, term))
            // (b)
            if roleTerm != term { fail("\(n.id): leaderTerm \(term) differs from role term \(roleTerm)") }
            if store.holder != n.id || store.term != term {
                fail("\(n.id) trusts term \(term) but the store says holder=\(store.holder ?? "nil") term=\(store.term)")
            }
            if !(store.expiresAt > time) { fail("\(n.id) trusts term \(term) on an expired lease") }
            let trustEnd = (until - n.offset) / n.rate
            if !(store.expiresAt >= trustEnd) {
                fail("\(n.id) trusts term \(term) until sim \(trustEnd), after the store's lease ends")
            }
        }
        // (a)
        if leading.count > 1 { fail("several leaders: \(leading.map { "\(nodes[$0.node].id)@\($0.term)" })") }

        // Liveness and stability once the faults and their effects are over.
        if time >= config.faultStop, time >= quietAt, config.faultStop > 0 {
            if firstLeaderAfterQuiet == nil, let l = leading.first {
                firstLeaderAfterQuiet = (time, l.term)
            }
            if let first = firstLeaderAfterQuiet, store.term != first.term {
                fail("without faults, the term changed from \(first.term)")
            }
        }
    }
}

extension ElectionSim.Op {
    var isResign: Bool {
        if case .resign = self { return true }
        return false
    }
}
