import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL
import ScrubberCore
import ScrubberNode
import ScrubberRemote
import ScrubberStores
import TestSupport
import Testing

/// The lease service's own contract, beyond the conformance suite it also passes: who may call
/// it, what it refuses, and that retries and restarts change nothing.
@Suite(.tags(.startsServers)) struct ServiceTests {
    struct Reply {
        var status: Int
        var body: String
    }

    /// One raw request, as any HTTP client could send it.
    static func post(_ url: String, _ body: String, token: String? = ServedCatalog.token, requestID: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let requestID { request.headers.add(name: CatalogWire.requestIDHeader, value: requestID) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(Int64(patienceSeconds)))
        let bytes = try await response.body.collect(upTo: 1 << 24)
        return Reply(status: Int(response.status.code), body: String(buffer: bytes))
    }

    @Test func theHealthCheckNeedsNoTokenAndEveryOperationDoes() async throws {
        let box = try await Sandbox()
        let served = try await ServedCatalog.start(fronting: box.catalog)
        let health = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: served.url + "/healthz"),
            timeout: .seconds(Int64(patienceSeconds))
        )
        #expect(health.status.code == 200)

        let join = #"{"node":{"nodeID":"intruder","host":"h","pid":1,"version":"v","capacity":1,"leaderEligible":true},"ttl":30}"#
        for token in [nil, "wrong", ServedCatalog.token + "x", " " + ServedCatalog.token] as [String?] {
            for operation in CatalogWire.operations {
                let reply = try await Self.post(served.url + operation.path, operation.name == "join" ? join : "{}", token: token)
                #expect(reply.status == 401, "\(operation.name) with token \(token ?? "none")")
                #expect(reply.body.contains("bearer token"))
            }
        }
        #expect(try box.count("SELECT count(*) FROM scrub_nodes") == 0, "a refused request wrote nothing")
        #expect(try await Self.post(served.url + "/v1/join", join).status == 200)
        #expect(try box.count("SELECT count(*) FROM scrub_nodes WHERE node_id = 'intruder'") == 1)
    }

    @Test func badRequestsGetASpecificErrorAndWriteNothing() async throws {
        let box = try await Sandbox()
        let served = try await ServedCatalog.start(fronting: box.catalog, maxBodyBytes: 4096)
        let malformed = try await Self.post(served.url + "/v1/join", "{not json")
        #expect(malformed.status == 400)
        #expect(malformed.body.contains("malformed join request: not valid JSON"))
        let missing = try await Self.post(served.url + "/v1/join", #"{"ttl":30}"#)
        #expect(missing.status == 400)
        #expect(missing.body.contains("missing field node"))
        let wrongType = try await Self.post(served.url + "/v1/heartbeat", #"{"nodeID":"a","incarnation":"i","ttl":"soon"}"#)
        #expect(wrongType.status == 400)
        #expect(wrongType.body.contains("expected Double at ttl"))
        // A node of an earlier version names no incarnation: told so, and nothing happens.
        let older = try await Self.post(served.url + "/v1/heartbeat", #"{"nodeID":"a","ttl":5}"#)
        #expect(older.status == 400)
        #expect(older.body.contains("missing field incarnation"))
        let unknown = try await Self.post(served.url + "/v1/drop-tables", "{}")
        #expect(unknown.status == 404)
        #expect(unknown.body.contains("no such operation: drop-tables"))
        let huge = #"{"claims":[{"imageID":"\#(String(repeating: "x", count: 8192))","claimToken":"t"}],"nodeID":"a","incarnation":"i"}"#
        let tooLarge = try await Self.post(served.url + "/v1/release", huge)
        #expect(tooLarge.status == 413)
        #expect(tooLarge.body.contains("over the limit of 4096"))
        #expect(try box.count("SELECT count(*) FROM scrub_nodes") == 0)
        // The service is still there.
        #expect(try await Self.post(served.url + "/v1/ping", "{}").status == 200)
    }

    @Test func aRetriedWriteGetsItsFirstAnswerAndIsAppliedOnce() async throws {
        let box = try await Sandbox(clock: StoreClock())
        let served = try await ServedCatalog.start(fronting: box.catalog)
        let b = try box.fixture(through: served.client)
        _ = try await b.seed(3)
        try await b.join("w")
        try await b.leadAndAssign("leader", to: ["w"])
        let claimed = try await b.claimAll("w")
        let outcomes = claimed.map { image in
            ScrubOutcome(image, locations: image.locations.map { LocationResult(locationID: $0.id, store: "file", outcome: .deleted) })
        }
        let complete = CatalogWire.Complete(outcomes: outcomes, node: b.catalog.identity("w"), backoff: Backoff())
        let body = String(decoding: try JSONEncoder().encode(complete), as: UTF8.self)
        let first = try await Self.post(served.url + "/v1/complete", body, requestID: "req-1")
        let retry = try await Self.post(served.url + "/v1/complete", body, requestID: "req-1")
        #expect(first.status == 200)
        #expect(retry.body == first.body, "the retry is answered from the first try")
        let report = try JSONDecoder().decode(CompletionReport.self, from: Data(first.body.utf8))
        #expect(report.imagesDeleted.count == 3)
        // A new request is a new application: a replay the store itself makes harmless.
        let again = try JSONDecoder().decode(
            CompletionReport.self,
            from: Data(try await Self.post(served.url + "/v1/complete", body, requestID: "req-2").body.utf8)
        )
        #expect(again.imagesDeleted.isEmpty)
        #expect(again.claimsLost.count == 3)
        #expect(again.locationsDeleted == 0)
        #expect(try box.count("SELECT count(*) FROM scrub_events WHERE action = 'image_deleted'") == 3)
    }

    /// A daemon retries whatever it can ride out, forever: that `run()` returns at all, with the
    /// 401's error, shows the 401 ended it (the time limit only guards a hang).
    @Test(.timeLimit(.minutes(1))) func aNodeWithAWrongTokenStopsAtOnceInsteadOfRetrying() async throws {
        let box = try await Sandbox()
        _ = try await box.seed(5)
        let served = try await ServedCatalog.start(fronting: box.catalog)
        let wrong = try RemoteCatalog(url: served.url, token: "not-the-token", logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        var config = box.configuration()
        config.cluster.nodeID = "locked-out"
        let node = ScrubNode(
            catalog: wrong,
            router: try StoreRouter(configuration: config.stores, encryptionKey: nil),
            options: NodeOptions(configuration: config, once: false, version: "test"),
            logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
        )
        do {
            try await node.run()
            Issue.record("a node with a wrong token ran")
        } catch let error as CatalogError where error.code == .unauthorized {}
        #expect(try box.count("SELECT count(*) FROM scrub_nodes") == 0)
        #expect(try box.count("SELECT count(*) FROM images WHERE status = 'pending_delete'") == 5)
    }

    @Test func outOfRangeValuesAreBadRequestsOnEveryBackend() async throws {
        let box = try await Sandbox()
        let served = try await ServedCatalog.start(fronting: box.catalog)
        let claim = try await Self.post(served.url + "/v1/claim", #"{"nodeID":"a","incarnation":"i","limit":-1}"#)
        #expect(claim.status == 400)
        #expect(claim.body.contains("limit must be positive, got -1"))
        let heartbeat = try await Self.post(served.url + "/v1/heartbeat", #"{"nodeID":"a","incarnation":"i","ttl":0}"#)
        #expect(heartbeat.status == 400)
        #expect(heartbeat.body.contains("ttl must be in (0, 3600] seconds"))
        // A TTL is a promise to come back within it: a lease nobody could take for 30 years is refused.
        let join = #"{"node":{"nodeID":"a","host":"h","pid":1,"version":"v","capacity":1,"leaderEligible":true},"ttl":1e9}"#
        let forever = try await Self.post(served.url + "/v1/join", join)
        #expect(forever.status == 400)
        #expect(forever.body.contains("ttl must be in (0, 3600] seconds, got 1000000000"))
        for operation in ["campaign", "heartbeat"] {
            let reply = try await Self.post(served.url + "/v1/" + operation, #"{"nodeID":"a","incarnation":"i","ttl":1e12}"#)
            #expect(reply.status == 400, "\(operation)")
        }
        let renew = try await Self.post(served.url + "/v1/renew", #"{"nodeID":"a","incarnation":"i","term":1,"ttl":3601}"#)
        #expect(renew.status == 400)
        // Request ids are kept in the replay cache: a long one is refused before anything runs.
        let ok = #"{"node":{"nodeID":"a","host":"h","pid":1,"version":"v","capacity":1,"leaderEligible":true},"ttl":30}"#
        let longID = try await Self.post(served.url + "/v1/join", ok, requestID: String(repeating: "r", count: 257))
        #expect(longID.status == 400)
        #expect(longID.body.contains("over the limit of 256"))
        #expect(try box.count("SELECT count(*) FROM scrub_nodes") == 0, "nothing out of range was written")
        #expect(try await Self.post(served.url + "/v1/join", ok, requestID: String(repeating: "r", count: 256)).status == 200)
    }

    /// With only the shared token, a client can act for no node: every node-scoped operation
    /// sent for a live node under a wrong or no incarnation is refused and changes nothing.
    @Test func theTokenAloneCannotActForANode() async throws {
        let box = try await Sandbox(clock: StoreClock())
        let b = try box.fixture()
        let served = try await ServedCatalog.start(fronting: box.catalog)
        _ = try await b.seed(4)
        try await b.join("victim")
        let term = try await b.leadAndAssign("victim")
        let claimed = try await b.claimAll("victim")
        try #require(claimed.count == 4)
        let claim = claimed[0]
        func snapshot() throws -> [String] {
            try box.rows("SELECT node_id, incarnation, state, expires_at FROM scrub_nodes ORDER BY node_id")
                + box.rows("SELECT node_id, incarnation, term, expires_at FROM scrub_leader")
                + box.rows("SELECT image_id, node_id, state, claim_token, attempts FROM scrub_assignments ORDER BY image_id")
                + box.rows("SELECT id, status FROM image_locations ORDER BY id")
                + box.rows("SELECT count(*) FROM scrub_events")
        }
        let before = try snapshot()
        let location = claim.locations[0].id
        let outcome =
            #"{"imageID":"\#(claim.imageID)","claimToken":"\#(claim.claimToken)","previousAttempts":0,"locations":[{"locationID":\#(location),"outcome":{"failed":{"_0":"x"}}}]}"#
        let bodies: [(String, String)] = [
            ("heartbeat", #""ttl":5"#), ("leave", ""), ("drain", ""), ("campaign", #""ttl":3600"#),
            ("renew", #""term":\#(term),"ttl":3600"#), ("resign", #""term":\#(term)"#),
            ("claim", #""limit":10"#), ("complete", #""outcomes":[\#(outcome)],"backoff":{"base":1,"max":1}"#),
            ("release", #""claims":[{"imageID":"\#(claim.imageID)","claimToken":"\#(claim.claimToken)"}]"#),
            ("remaining-work", #""scrubTime":0,"runStartedAt":0"#),
        ]
        for (operation, fields) in bodies {
            for incarnation in [#","incarnation":"guessed""#, #","incarnation":"""#, ""] {
                let body = #"{"nodeID":"victim""# + incarnation + (fields.isEmpty ? "" : "," + fields) + "}"
                let reply = try await Self.post(served.url + "/v1/" + operation, body)
                if incarnation.isEmpty {
                    #expect(reply.status == 400 && reply.body.contains("missing field incarnation"), "\(operation): \(reply.body)")
                } else {
                    #expect(reply.status == 409 && reply.body.contains(#""kind":"wrong_incarnation""#), "\(operation): \(reply.body)")
                }
            }
        }
        // A leader round under the victim's name and term.
        let plan =
            #"{"leader":"victim","incarnation":"guessed","term":\#(term),"assignments":[],"moves":[{"imageID":"\#(claim.imageID)","from":"victim","to":"thief"}],"rebalances":[]}"#
        let apply = try await Self.post(served.url + "/v1/apply", plan)
        #expect(apply.status == 200 && apply.body.contains("false"), "a round under another incarnation is refused: \(apply.body)")
        // Joining as the victim while it lives.
        let join = #"{"node":{"nodeID":"victim","host":"thief","pid":1,"version":"v","capacity":1,"leaderEligible":true},"ttl":30}"#
        let stolen = try await Self.post(served.url + "/v1/join", join)
        #expect(stolen.status == 409 && stolen.body.contains(#""kind":"node_id_in_use""#), "\(stolen.body)")
        #expect(try snapshot() == before, "nothing changed")
        // The victim itself goes on as before.
        #expect(try await b.catalog.heartbeat(nodeID: "victim", ttl: 30))
        #expect(try await b.completeAll(claimed, node: "victim").imagesDeleted.count == 4)
    }

    @Test func overTLSTheClientTrustsTheGivenCertificateAndNothingElse() async throws {
        let box = try await Sandbox()
        _ = try await box.seed(2)
        let cert = box.directory + "/cert.pem"
        let key = box.directory + "/key.pem"
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0, "openssl could not make a test certificate")
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        )
        tls.minimumTLSVersion = .tlsv1  // what the service must raise
        let served = try await ServedCatalog.start(fronting: box.catalog, tls: tls, caFile: cert)
        #expect(served.url.hasPrefix("https://"))
        #expect(try await served.client.backlog(scrubTime: 0, failureLimit: 5).eligible == 2)
        // Without the certificate, the system's roots do not vouch for it: no answer, no write.
        let untrusting = try RemoteCatalog(
            url: served.url,
            token: ServedCatalog.token,
            operationTimeout: 1,
            logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
        )
        await #expect(throws: CatalogError.self) {
            _ = try await untrusting.join(BackendFixture.node("untrusting"), ttl: 30)
        }
        #expect(try box.count("SELECT count(*) FROM scrub_nodes") == 0)
        // Plain HTTP to the TLS port gets nowhere either.
        let plain = try RemoteCatalog(
            url: served.url.replacingOccurrences(of: "https://", with: "http://"),
            token: ServedCatalog.token,
            operationTimeout: 1,
            logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
        )
        await #expect(throws: CatalogError.self) { try await plain.connect() }
        // TLS 1.2 at least, even when the configuration handed in allowed older versions.
        var old = TLSConfiguration.makeClientConfiguration()
        old.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(cert))
        old.minimumTLSVersion = .tlsv1
        old.maximumTLSVersion = .tlsv11
        let legacy = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(tlsConfiguration: old))
        var ping = HTTPClientRequest(url: served.url + "/healthz")
        ping.method = .GET
        await #expect(throws: (any Error).self, "a TLS 1.1 client is refused") {
            _ = try await legacy.execute(ping, timeout: .seconds(Int64(patienceSeconds)))
        }
        try await legacy.shutdown()
        var modern = TLSConfiguration.makeClientConfiguration()
        modern.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(cert))
        modern.maximumTLSVersion = .tlsv12
        let current = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(tlsConfiguration: modern))
        let served12 = try await current.execute(ping, timeout: .seconds(Int64(patienceSeconds))).status.code
        try await current.shutdown()
        #expect(served12 == 200, "TLS 1.2 is served")
    }

    @Test func aTokenFileIsTrimmedAndAnEmptyOneIsAnError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "  s3cret\n".write(toFile: directory + "/t", atomically: true, encoding: .utf8)
        #expect(try TokenFile.read(directory + "/t") == "s3cret")
        try "\n \n".write(toFile: directory + "/empty", atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try TokenFile.read(directory + "/empty") }
        #expect(throws: ConfigError.self) { try TokenFile.read(directory + "/absent") }
    }
}
