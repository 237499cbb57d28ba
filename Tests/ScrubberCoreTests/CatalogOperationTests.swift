import Foundation
import ScrubberCore
import Synchronization
import Testing

/// The operation declarations the lease service's routes and client are derived from: every
/// ``ScrubCatalog`` requirement is one registered operation with its own path, and a call
/// crosses JSON to the very requirement it was made as.
@Suite struct CatalogOperationTests {
    /// A catalog that only says which requirement was called, by throwing it.
    final class Recorder: ScrubCatalog {
        struct Called: Error {
            var requirement: String
        }

        private func called(_ requirement: String = #function) -> Called { Called(requirement: requirement) }

        func upgrade() async throws { throw called() }
        func join(_ node: NodeRegistration, ttl: Double) async throws -> JoinAnswer { throw called() }
        func heartbeat(_ node: NodeIdentity, ttl: Double) async throws -> Bool { throw called() }
        func leave(_ node: NodeIdentity) async throws { throw called() }
        func windDown(_ node: NodeIdentity) async throws { throw called() }
        func campaign(_ node: NodeIdentity, ttl: Double) async throws -> LeaderLease { throw called() }
        func renewLeadership(_ node: NodeIdentity, term: Int64, ttl: Double) async throws -> Bool { throw called() }
        func resign(_ node: NodeIdentity, term: Int64) async throws { throw called() }
        func leaderView(scrubTime: Double, limit: Int, scan: CandidateScan) async throws -> LeaderView { throw called() }
        func apply(_ plan: LeaderPlan) async throws -> Bool { throw called() }
        func claim(_ request: ClaimRequest) async throws -> [ClaimedImage] { throw called() }
        func complete(_ outcomes: [ScrubOutcome], node: NodeIdentity, backoff: Backoff) async throws -> CompletionReport { throw called() }
        func release(_ claims: [ClaimID], node: NodeIdentity) async throws { throw called() }
        func restorePlan(imageID: String) async throws -> RestorePlan { throw called() }
        func commitRestore(_ request: RestoreRequest) async throws -> RestoreResult { throw called() }
        func backlog(scrubTime: Double, failureLimit: Int) async throws -> BacklogSnapshot { throw called() }
        func remainingWork(scrubTime: Double, node: NodeIdentity, runStartedAt: Double) async throws -> Int { throw called() }
        func status(scrubTime: Double, failureLimit: Int) async throws -> ClusterStatus { throw called() }
        func elections(withinLast seconds: Double, limit: Int) async throws -> [Election] { throw called() }
        func control(_ request: ControlRequest) async throws -> ControlAnswer { throw called() }
    }

    /// A transport in this process: what the client would send, read and run as the service
    /// would (``CatalogOperation/decode(_:)``, ``CatalogOperation/perform(_:on:)``).
    final class Loopback: CatalogTransport {
        let sent = Mutex<[(operation: any CatalogOperation.Type, body: Data)]>([])
        let catalog = Recorder()

        func send<Operation: CatalogOperation>(_ operation: Operation.Type, _ request: Operation.Request) async throws -> Operation.Answer {
            var request = request
            if case .perCall = Operation.requestID { Operation.stamp(&request, requestID: "request-1") }
            let body = try JSONEncoder().encode(request)
            sent.withLock { $0.append((operation, body)) }
            let answer = try await Operation.perform(try Operation.decode(body), on: catalog)
            return try JSONDecoder().decode(Operation.Answer.self, from: try JSONEncoder().encode(answer))
        }
    }

    static let node = NodeIdentity(nodeID: "n", incarnation: "i")
    static let calls: [(requirement: String, call: @Sendable (any ScrubCatalog) async throws -> Void)] = [
        ("upgrade()", { try await $0.upgrade() }),
        (
            "join(_:ttl:)",
            {
                let registration = NodeRegistration(nodeID: "n", host: "h", pid: 1, version: "v", capacity: 1, leaderEligible: true)
                _ = try await $0.join(registration, ttl: 30)
            }
        ),
        ("heartbeat(_:ttl:)", { _ = try await $0.heartbeat(node, ttl: 30) }),
        ("leave(_:)", { try await $0.leave(node) }),
        ("windDown(_:)", { try await $0.windDown(node) }),
        ("campaign(_:ttl:)", { _ = try await $0.campaign(node, ttl: 30) }),
        ("renewLeadership(_:term:ttl:)", { _ = try await $0.renewLeadership(node, term: 2, ttl: 30) }),
        ("resign(_:term:)", { try await $0.resign(node, term: 2) }),
        ("leaderView(scrubTime:limit:scan:)", { _ = try await $0.leaderView(scrubTime: 0, limit: 10, scan: .full(after: nil)) }),
        ("apply(_:)", { _ = try await $0.apply(LeaderPlan(leader: node, term: 2, assignments: [("img", "n")], moves: [])) }),
        ("claim(_:)", { _ = try await $0.claim(ClaimRequest(node, limit: 5)) }),
        (
            "complete(_:node:backoff:)",
            {
                let outcome = ScrubOutcome(imageID: "img", claimToken: "t", previousAttempts: 0, locations: [])
                _ = try await $0.complete([outcome], node: node, backoff: Backoff())
            }
        ),
        ("release(_:node:)", { try await $0.release([ClaimID(imageID: "img", claimToken: "t")], node: node) }),
        ("restorePlan(imageID:)", { _ = try await $0.restorePlan(imageID: "img") }),
        ("commitRestore(_:)", { _ = try await $0.commitRestore(RestoreRequest(imageID: "img", keep: [1], lost: [], actor: "me")) }),
        ("backlog(scrubTime:failureLimit:)", { _ = try await $0.backlog(scrubTime: 0, failureLimit: 5) }),
        ("remainingWork(scrubTime:node:runStartedAt:)", { _ = try await $0.remainingWork(scrubTime: 0, node: node, runStartedAt: 0) }),
        ("status(scrubTime:failureLimit:)", { _ = try await $0.status(scrubTime: 0, failureLimit: 5) }),
        ("elections(withinLast:limit:)", { _ = try await $0.elections(withinLast: 3600, limit: 10) }),
        ("control(_:)", { _ = try await $0.control(ControlRequest(.pause, by: Operator(host: "h", user: "u"))) }),
    ]

    @Test func everyRequirementIsOneRegisteredOperationWithItsOwnPath() async throws {
        let registered = CatalogWire.operations
        #expect(Set(registered.map { $0.name }).count == registered.count, "names are unique")
        #expect(Set(registered.map { $0.path }).count == registered.count, "paths are unique")
        for operation in registered {
            #expect(operation.path == "/v1/" + operation.name)
            #expect(!operation.name.isEmpty && operation.name.allSatisfy { $0.isLowercase || $0 == "-" }, "\(operation.name)")
            #expect(CatalogWire.operation(named: operation.name).map(ObjectIdentifier.init) == ObjectIdentifier(operation))
        }

        var used: Set<String> = []
        for (requirement, call) in Self.calls {
            let loopback = Loopback()
            do {
                try await call(loopback)
                Issue.record("\(requirement) did not reach the catalog")
            } catch let called as Recorder.Called {
                #expect(called.requirement == requirement, "the declaration runs the requirement it was called as")
            }
            let sent = loopback.sent.withLock { $0.map { $0.operation } }
            try #require(sent.count == 1, "\(requirement) sends one operation")
            #expect(
                registered.contains { ObjectIdentifier($0) == ObjectIdentifier(sent[0]) },
                "\(requirement): \(sent[0].name) is registered"
            )
            #expect(used.insert(sent[0].name).inserted, "\(requirement) has an operation of its own")
        }
        #expect(Set(registered.map { $0.name }) == used.union(["ping"]), "every registered operation but ping is a requirement's")
    }

    /// What older peers send and expect stays: the paths, and which operations are writes
    /// (a retry of a write is answered from the first try).
    @Test func todaysPathsAndWritesAreKept() {
        let reads = ["ping", "leader-view", "restore-plan", "backlog", "remaining-work", "status", "elections"]
        let writes = [
            "upgrade", "join", "heartbeat", "leave", "drain", "campaign", "renew", "resign", "apply",
            "claim", "complete", "release", "commit-restore", "control",
        ]
        for name in reads + writes {
            let operation = CatalogWire.operation(named: name)
            #expect(operation?.path == "/v1/" + name)
            #expect(operation?.isWrite == writes.contains(name), "\(name)")
        }
        #expect(CatalogWire.operations.count == reads.count + writes.count)
    }

    @Test func aClaimCarriesItsRequestIDAsItsTokenAndBatchesTheirContent() async throws {
        let loopback = Loopback()
        _ = try? await loopback.claim(ClaimRequest(Self.node, limit: 5))
        _ = try? await loopback.claim(ClaimRequest(Self.node, limit: 5, token: "the caller's"))
        let bodies = loopback.sent.withLock { $0.map { $0.body } }
        let tokens = try bodies.map { try JSONDecoder().decode(ClaimRequest.self, from: $0).token }
        #expect(tokens == ["request-1", "the caller's"])
        #expect(CatalogOperations.Complete.requestID == .content)
        #expect(CatalogOperations.CommitRestore.requestID == .content)
        #expect(CatalogOperations.Claim.requestID == .perCall)
    }

    @Test func anOperationWithoutParametersReadsNoBody() throws {
        _ = try CatalogOperations.Ping.decode(Data())
        _ = try CatalogOperations.Upgrade.decode(Data("not json".utf8))
        #expect(throws: DecodingError.self) { try CatalogOperations.Leave.decode(Data("{}".utf8)) }
    }

    /// Values every backend must agree on are checked before the catalog sees them.
    @Test func outOfRangeValuesNeverReachTheCatalog() async {
        let catalog = Recorder()
        await #expect(throws: CatalogWire.InvalidRequest.self) {
            _ = try await CatalogOperations.Claim.perform(ClaimRequest(Self.node, limit: 0), on: catalog)
        }
        await #expect(throws: CatalogWire.InvalidRequest.self) {
            _ = try await CatalogOperations.Heartbeat.perform(CatalogWire.NodeTTL(Self.node, ttl: CatalogWire.maxTTL + 1), on: catalog)
        }
        await #expect(throws: DecodingError.self, "renew without a ttl") {
            _ = try await CatalogOperations.Renew.perform(CatalogWire.Term(Self.node, term: 1), on: catalog)
        }
        await #expect(throws: DecodingError.self, "drain without a node") {
            _ = try await CatalogOperations.Control.perform(ControlRequest(.drain, by: Operator(host: "h", user: "u")), on: catalog)
        }
    }
}
