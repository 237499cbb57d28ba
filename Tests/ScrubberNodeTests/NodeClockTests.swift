import Logging
import ScrubberCore
import ScrubberStores
import TestSupport
import Testing

@testable import ScrubberNode

/// A node on a clock the test moves: its trust windows and idle pauses follow the node's own
/// clock, step by step, with no waiting for them.
@Suite struct NodeClockTests {
    static func daemon(
        _ box: Sandbox,
        _ catalog: ObservedCatalog,
        clock: ManualClock,
        configure: (inout ScrubberConfiguration) -> Void = { _ in }
    ) throws -> ScrubNode {
        var config = box.configuration()
        config.cluster.nodeID = "clocked"
        config.cluster.heartbeatInterval = 1
        configure(&config)
        let router = try StoreRouter(configuration: config.stores, encryptionKey: nil)
        return ScrubNode(
            catalog: catalog,
            router: router,
            options: NodeOptions(configuration: config, once: false, version: "t"),
            clock: NodeClock(clock),
            logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
        )
    }

    /// DESIGN §3.3 on the node: with its heartbeats failing, the node stops trusting its
    /// membership at `node_ttl − margin` after its join *started*, by its own clock (not a
    /// moment later, not a moment sooner); the next heartbeat that succeeds trusts it again.
    @Test func heartbeatsThatFailEndTheNodesTrustExactlyWhenItsOwnWindowCloses() async throws {
        let box = try await Sandbox()
        let time = ManualClock()
        let catalog = ObservedCatalog(box.catalog)
        let node = try Self.daemon(box, catalog, clock: time) {
            $0.cluster.nodeTTL = 30
            $0.cluster.heartbeatInterval = 0.7  // a deadline no other loop has
        }
        let running = Task { try await node.run() }
        defer { running.cancel() }
        let firstHeartbeat = ManualClock.Instant(offset: .milliseconds(700))
        try await eventually("the node joined and its heartbeat loop sleeps") { node.isReady && time.deadlines.contains(firstHeartbeat) }
        catalog.failing = [.heartbeat]

        time.advance(by: .milliseconds(28_999))  // ttl 30, margin 1: trusted until 29 s
        try await eventually("a failed heartbeat") { catalog.count(.heartbeat) >= 1 }
        #expect(node.isReady, "28.999 s after the join started")
        time.advance(by: .milliseconds(1))
        #expect(!node.isReady, "29 s after the join started, with every heartbeat since failing")

        catalog.failing = []
        // The next heartbeat, which the store grants, once the loop sleeps again.
        try await eventually("the heartbeat loop asleep again") { time.deadlines.contains { $0 > time.now } }
        time.advance(by: .seconds(1))
        try await eventually("the node trusted again") { node.isReady }
    }

    /// `idle_poll_interval` (capped by `wakeup_time`): an idle node's claims back off from
    /// 100 ms, doubling, to the cap, and then look once per cap, however many workers wait.
    /// Checked on the node's clock between claims, so a slow machine can only space them more.
    @Test(arguments: [(idlePoll: 2.0, wakeup: 300.0), (idlePoll: 2.0, wakeup: 0.5)])
    func anIdleNodeAsksForWorkAtMostOncePerIdlePoll(idlePoll: Double, wakeup: Double) async throws {
        let box = try await Sandbox()
        let time = ManualClock()
        let catalog = ObservedCatalog(box.catalog) { time.now.offset }
        let node = try Self.daemon(box, catalog, clock: time) {
            $0.cluster.idlePollInterval = idlePoll
            $0.wakeupTime = wakeup
            $0.poolSize = 8
            // The store's clock is the machine's: a membership of a minute outlasts a stall of
            // a loaded machine while the test moves the node's clock.
            $0.cluster.nodeTTL = 60
        }
        let running = Task { try await node.run() }
        defer { running.cancel() }
        try await eventually("the node joined") { node.isReady }

        // The node's clock, a sleeper's deadline at a time, until it has asked ten times.
        try await eventually("ten claims", poll: .milliseconds(2)) {
            time.advanceToNextDeadline(limit: .seconds(1))
            return catalog.count(.claim) >= 10
        }
        let claims = catalog.times(.claim)
        let cap = min(idlePoll, wakeup)
        // A claim that threw is no empty answer: the node retries it once it rejoined, its back-off
        // unchanged (seen on a loaded CI machine: the store's real-time membership lapsed while
        // the test moved the node's clock; the node rejoined and claimed again).
        let failed = catalog.failedCalls(.claim)
        var empty = 0
        for (index, gap) in zip(claims, claims.dropFirst()).map({ $1 - $0 }).enumerated() where !failed.contains(index) {
            // Claim k + 1 waits at least the pause after k empty claims: 100 ms, 200 ms, … cap.
            empty += 1
            let pause = ClaimQueue.idlePause(after: empty, cap: cap)
            #expect(
                gap >= pause,
                "claim \(index + 2) came \(gap) after the one before, under the \(pause) pause (\(claims), failed: \(failed))"
            )
        }
        #expect(failed.count < claims.count / 2, "most claims were answered (\(failed))")
        #expect(ClaimQueue.idlePause(after: 1, cap: 2) == .milliseconds(100))
        #expect(ClaimQueue.idlePause(after: 4, cap: 2) == .milliseconds(800))
        #expect(ClaimQueue.idlePause(after: 6, cap: 2) == .seconds(2))
        #expect(ClaimQueue.idlePause(after: 1, cap: 0.05) == .milliseconds(50))
    }
}
