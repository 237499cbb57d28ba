import Logging
import ScrubberCore
import ScrubberStores
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@testable import ScrubberNode

/// The node's services in the process's one `ServiceGroup`: nothing before the join, and on a
/// graceful shutdown the leader loop, the election, the workers and membership stop in turn.
@Suite struct NodeServicesTests {
    static let quiet = Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }

    /// A counter for ``ObservedCatalog``'s call times: the order the calls were made in.
    final class Ticker: Sendable {
        private let count = Mutex(0)

        func next() -> Duration {
            .seconds(
                count.withLock { count in
                    count += 1
                    return count
                }
            )
        }
    }

    static func node(_ box: Sandbox, _ catalog: ObservedCatalog, once: Bool, clock: ManualClock) throws -> ScrubNode {
        var config = box.configuration()
        config.cluster.nodeID = "grouped"
        let router = try StoreRouter(configuration: config.stores, encryptionKey: nil)
        return ScrubNode(
            catalog: catalog,
            router: router,
            options: NodeOptions(configuration: config, once: once, version: "t"),
            clock: NodeClock(clock),
            logger: quiet
        )
    }

    @Test func aNodeRunsAsFourServicesInTheirOrder() async throws {
        let box = try await Sandbox()
        let node = try Self.node(box, ObservedCatalog(box.catalog), once: false, clock: ManualClock())
        #expect(node.services.map(\.serviceName) == ["membership", "workers", "election", "leader"])
    }

    /// The services in one group with a graceful shutdown: it stops them in reverse order, so
    /// the leader's last round comes before its resignation, the resignation before the
    /// workers hand back their claims, and those before the node leaves.
    @Test func aGracefulShutdownStopsTheLeaderThenTheElectionThenTheWorkersThenMembership() async throws {
        let box = try await Sandbox()
        _ = try await box.seed(3)
        let ticker = Ticker()
        let catalog = ObservedCatalog(box.catalog) { ticker.next() }
        let time = ManualClock()
        let node = try Self.node(box, catalog, once: false, clock: time)
        let group = ServiceGroup(configuration: .init(services: node.services, logger: Self.quiet))
        let running = Task { try await group.run() }
        defer { running.cancel() }
        // The node's clock, a sleeper's deadline at a time, until the leader loop has a round.
        try await eventually("the node leads", poll: .milliseconds(2)) {
            time.advanceToNextDeadline(limit: .milliseconds(50))
            return catalog.count(.leaderView) > 0
        }

        await group.triggerGracefulShutdown()
        try await running.value
        let lastRound = try #require(catalog.times(.leaderView).last)
        let resigned = try #require(catalog.times(.resign).last)
        let handedBack = try #require(catalog.times(.release).last)
        let left = try #require(catalog.times(.leave).last)
        #expect(
            lastRound < resigned && resigned < handedBack && handedBack < left,
            "round \(lastRound), resign \(resigned), release \(handedBack), leave \(left)"
        )
        #expect(catalog.count(.leave) == 1)
        #expect(!node.isReady)
    }

    /// A daemon retries its join; told to stop meanwhile, it stops without having claimed,
    /// campaigned or left (there was nothing to leave).
    @Test func aDaemonToldToStopBeforeItCouldJoinStopsWithoutDoingAnythingElse() async throws {
        let box = try await Sandbox()
        let time = ManualClock()
        let catalog = ObservedCatalog(box.catalog)
        catalog.failing = [.join]
        let node = try Self.node(box, catalog, once: false, clock: time)
        let group = ServiceGroup(configuration: .init(services: node.services, logger: Self.quiet))
        let running = Task { try await group.run() }
        defer { running.cancel() }
        try await eventually("the join failed and waits to retry") {
            catalog.count(.join) == 1 && time.deadlines == [.init(offset: .seconds(1))]
        }

        await group.triggerGracefulShutdown()
        try await running.value
        #expect(catalog.count(.join) == 1)
        for operation in [ObservedCatalog.Operation.claim, .campaign, .heartbeat, .leaderView, .release, .windDown, .leave] {
            #expect(catalog.count(operation) == 0, "\(operation)")
        }
    }

    /// A one-shot run fails at once on a database it cannot use: the join's error ends the
    /// node, and no other service did anything.
    @Test func aOneShotNodeThatCannotJoinFailsAtOnceWithTheJoinsError() async throws {
        let box = try await Sandbox()
        let catalog = ObservedCatalog(box.catalog)
        catalog.failing = [.join]
        let node = try Self.node(box, catalog, once: true, clock: ManualClock())
        await #expect(throws: ObservedCatalog.Unreachable.self) { try await node.run() }
        #expect(catalog.count(.join) == 1)
        for operation in [ObservedCatalog.Operation.claim, .campaign, .heartbeat, .leaderView, .release, .leave] {
            #expect(catalog.count(operation) == 0, "\(operation)")
        }
    }
}
