import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ScrubberCore
import ScrubberTelemetry

/// `scrubber serve`: the ``ScrubCatalog`` protocol over HTTP/JSON (``CatalogWire``), fronting
/// a SQLite or PostgreSQL catalog, for nodes that cannot share the SQLite file or reach the
/// database. Time stays the store's: every operation runs on the catalog it fronts.
///
/// - Every route but `GET /healthz` needs `Authorization: Bearer <token>`, compared in constant
///   time (``TokenAuthenticator``); without it: 401, nothing read or written. The status page (`GET /`, `GET
///   /status.json`, when the service is given a status source) also takes HTTP Basic with the
///   token as password, so a browser can open it.
/// - Bodies over `maxBodyBytes`: 413; malformed JSON or out-of-range values (a TTL over
///   ``maxTTL``, a request id over ``maxRequestIDBytes``): 400; an unknown operation: 404.
/// - Retried writes (same ``CatalogWire/requestIDHeader``) get the first answer (``ReplayCache``).
/// - The token lets a client in, not act for a node: every node-scoped operation carries the
///   node's incarnation, and the store refuses any other (409 `wrong_incarnation`).
/// - Connections are bounded (``Limits``): one that sends no complete request part for
///   `idleTimeout` (idle, or trickling a request head) is closed, and past `maxConnections`
///   the service accepts no more until some close, so an idle flood can neither exhaust its
///   descriptors nor lock a valid client out for longer than `idleTimeout`.
/// - The service never decrypts anything: location URLs cross the wire as stored.
public struct CatalogService: Sendable {
    /// How much of the machine one service lets its clients hold.
    public struct Limits: Sendable {
        /// A connection that completes no request part (a head, a body chunk) for this long
        /// after it opened or after its last answer is closed: Hummingbird's idle timer counts
        /// decoded parts, not bytes, so a head sent a byte at a time is idle too.
        public var idleTimeout: Duration
        /// Open connections at most; more wait in the listen backlog until some close.
        public var maxConnections: Int

        public init(idleTimeout: Duration = .seconds(30), maxConnections: Int = 900) {
            self.idleTimeout = idleTimeout
            self.maxConnections = maxConnections
        }
    }

    /// The longest membership or lease a request may ask for: a TTL is a promise to come back
    /// within it, and an hour-long one would let one client block a lease for that long.
    public static let maxTTL = 3600.0
    /// The longest request id accepted: ids are kept in the replay cache.
    public static let maxRequestIDBytes = 256

    public let catalog: any ScrubCatalog
    private let authenticator: TokenAuthenticator
    public let maxBodyBytes: Int
    public let limits: Limits
    private let replays: ReplayCache
    private let logger: Logger
    /// The status page's data (nil: no page).
    private let status: (@Sendable () async throws -> ClusterStatus)?

    /// - Parameters:
    ///   - token: the bearer token, already trimmed (see ``TokenFile/read(_:)``).
    ///   - status: the status page's data; nil serves no page.
    public init(catalog: any ScrubCatalog, token: String, maxBodyBytes: Int = CatalogWire.defaultMaxBodyBytes,
                limits: Limits = Limits(), replayWindow: Duration = .seconds(120), logger: Logger,
                status: (@Sendable () async throws -> ClusterStatus)? = nil) {
        self.catalog = catalog
        self.status = status
        authenticator = TokenAuthenticator(token: token)
        self.maxBodyBytes = maxBodyBytes
        self.limits = limits
        replays = ReplayCache(window: replayWindow)
        self.logger = logger
    }

    /// The HTTP application, listening on `host:port` (port 0: any free port), with TLS when
    /// `tls` is given (TLS 1.2 at least). `onListening` gets the bound port once the server
    /// accepts connections.
    public func application(host: String, port: Int, tls: TLSConfiguration? = nil,
                            onListening: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let router = Router()
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"}\n")))
        }
        router.post("/v1/:operation") { request, context in
            await self.respond(to: request, operation: context.parameters.get("operation") ?? "")
        }
        if let status {
            let authenticator = authenticator
            StatusPage.addRoutes(to: router, authorise: { authenticator.authorises($0.headers[.authorization], basic: true) },
                                 status: status)
        }
        var server = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .nanoseconds(Int64(limits.idleTimeout.seconds * 1e9))))
        if var tls {
            if tls.minimumTLSVersion == .tlsv1 || tls.minimumTLSVersion == .tlsv11 { tls.minimumTLSVersion = .tlsv12 }
            server = try .tls(server, tlsConfiguration: tls)
        }
        return Application(
            router: router, server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: nil,
                                 availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// Answers one operation; never throws (every failure is an ``CatalogWire/ErrorBody``).
    func respond(to request: Request, operation name: String) async -> Response {
        guard authenticator.authorises(request.headers[.authorization]) else {
            return Self.error(.unauthorized, .unauthorized, "missing or wrong bearer token (Authorization: Bearer <token>)")
        }
        guard let operation = CatalogWire.Operation(rawValue: name) else {
            return Self.error(.notFound, .notFound, "no such operation: \(name)")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            return Self.error(.contentTooLarge, .tooLarge, "request body of \(length) bytes is over the limit of \(maxBodyBytes)")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            return Self.error(.contentTooLarge, .tooLarge, "request body is over the limit of \(maxBodyBytes) bytes")
        } catch {
            return Self.error(.badRequest, .badRequest, "cannot read the request body: \(error)")
        }
        let data = Data(body.readableBytesView)
        let id = request.headers[HTTPField.Name(CatalogWire.requestIDHeader)!]
        if let id, id.utf8.count > Self.maxRequestIDBytes {
            return Self.error(.badRequest, .badRequest,
                              "\(CatalogWire.requestIDHeader) is \(id.utf8.count) bytes, over the limit of \(Self.maxRequestIDBytes)")
        }
        guard operation.isWrite, let id, !id.isEmpty else {
            return await perform(operation, data).response
        }
        let answer = await replays.answer(key: operation.rawValue + " " + id) { await self.perform(operation, data) }
        return answer.response
    }

    /// Decodes, runs and encodes one operation.
    func perform(_ operation: CatalogWire.Operation, _ body: Data) async -> Answer {
        do {
            return try await dispatch(operation, Decoding(data: body))
        } catch let error as DecodingError {
            return Answer(status: .badRequest, body: Self.encode(CatalogWire.ErrorBody(
                kind: .badRequest, message: "malformed \(operation.rawValue) request: \(Self.describe(error))")))
        } catch let error as InvalidValue {
            return Answer(status: .badRequest, body: Self.encode(CatalogWire.ErrorBody(
                kind: .badRequest, message: "invalid \(operation.rawValue) request: \(error.message)")))
        } catch let error as CatalogError {
            // A lapsed membership is an answer the node acts on; an unavailable store is a retry.
            let status: HTTPResponse.Status = error.code == .unavailable ? .serviceUnavailable : .conflict
            return Answer(status: status, body: Self.encode(CatalogWire.ErrorBody(error)))
        } catch let refusal as RestoreRefusal {
            return Answer(status: .conflict, body: Self.encode(CatalogWire.ErrorBody(kind: .restoreRefused, message: "\(refusal)", refusal: refusal)))
        } catch {
            logger.error("\(operation.rawValue) failed: \(error)")
            return Answer(status: .internalServerError, body: Self.encode(CatalogWire.ErrorBody(kind: .serverError, message: "\(error)")))
        }
    }

    private func dispatch(_ operation: CatalogWire.Operation, _ input: Decoding) async throws -> Answer {
        typealias W = CatalogWire
        // Values every backend must agree on (SQLite would read LIMIT -1 as "no limit").
        func positive<T: Comparable & Numeric>(_ value: T, _ name: String) throws -> T {
            guard value > 0 else { throw Self.invalid(name, "must be positive, got \(value)") }
            return value
        }
        func nonNegative<T: Comparable & Numeric>(_ value: T, _ name: String) throws -> T {
            guard value >= 0 else { throw Self.invalid(name, "must not be negative, got \(value)") }
            return value
        }
        func ttl(_ value: Double, _ name: String = "ttl") throws -> Double {
            guard value > 0, value <= Self.maxTTL else { throw Self.invalid(name, "must be in (0, \(Int(Self.maxTTL))] seconds, got \(value)") }
            return value
        }
        switch operation {
        case .ping:
            return .ok(W.Empty())
        case .upgrade:
            try await catalog.upgrade()
            return .ok(W.Empty())
        case .join:
            let r = try input.decode(W.Join.self)
            return .ok(try await catalog.join(r.node, ttl: try ttl(r.ttl)))
        case .heartbeat:
            let r = try input.decode(W.NodeTTL.self)
            return .ok(W.Value(try await catalog.heartbeat(r.node, ttl: try ttl(r.ttl))))
        case .leave:
            try await catalog.leave(try input.decode(W.Node.self).node)
            return .ok(W.Empty())
        case .drain:
            try await catalog.drain(try input.decode(W.Node.self).node)
            return .ok(W.Empty())
        case .campaign:
            let r = try input.decode(W.NodeTTL.self)
            return .ok(try await catalog.campaign(r.node, ttl: try ttl(r.ttl)))
        case .renew:
            let r = try input.decode(W.Term.self)
            guard let value = r.ttl else { throw Self.missing("ttl") }
            return .ok(W.Value(try await catalog.renewLeadership(r.node, term: r.term, ttl: try ttl(value))))
        case .resign:
            let r = try input.decode(W.Term.self)
            try await catalog.resign(r.node, term: r.term)
            return .ok(W.Empty())
        case .leaderView:
            let r = try input.decode(W.LeaderViewRequest.self)
            return .ok(try await catalog.leaderView(scrubTime: try nonNegative(r.scrubTime, "scrubTime"), limit: try nonNegative(r.limit, "limit"),
                                                    scan: r.candidateScan))
        case .apply:
            return .ok(W.Value(try await catalog.apply(try input.decode(LeaderPlan.self))))
        case .claim:
            let r = try input.decode(ClaimRequest.self)
            _ = try positive(r.limit, "limit")
            return .ok(try await catalog.claim(r))
        case .complete:
            let r = try input.decode(W.Complete.self)
            return .ok(try await catalog.complete(r.outcomes, node: r.node, backoff: r.backoff))
        case .release:
            let r = try input.decode(W.Release.self)
            try await catalog.release(r.claims, node: r.node)
            return .ok(W.Empty())
        case .restorePlan:
            return .ok(try await catalog.restorePlan(imageID: try input.decode(W.Image.self).imageID))
        case .commitRestore:
            return .ok(try await catalog.commitRestore(try input.decode(RestoreRequest.self)))
        case .backlog:
            let r = try input.decode(W.Backlog.self)
            return .ok(try await catalog.backlog(scrubTime: try nonNegative(r.scrubTime, "scrubTime"), failureLimit: try nonNegative(r.failureLimit, "failureLimit")))
        case .remainingWork:
            let r = try input.decode(W.RemainingWork.self)
            return .ok(W.Value(try await catalog.remainingWork(scrubTime: r.scrubTime, node: r.node, runStartedAt: r.runStartedAt)))
        case .status:
            let r = try input.decode(W.Backlog.self)
            return .ok(try await catalog.status(scrubTime: try nonNegative(r.scrubTime, "scrubTime"), failureLimit: try nonNegative(r.failureLimit, "failureLimit")))
        case .control:
            let r = try input.decode(ControlRequest.self)
            if [.drain, .undrain].contains(r.action), (r.nodeID ?? "").isEmpty { throw Self.missing("nodeID") }
            return .ok(try await catalog.control(r))
        }
    }

    private static func missing(_ key: String) -> DecodingError {
        .keyNotFound(AnyKey(key), .init(codingPath: [], debugDescription: "\(key) is required"))
    }

    private static func invalid(_ key: String, _ problem: String) -> InvalidValue {
        InvalidValue(message: "\(key) \(problem)")
    }

    /// A well-formed request with a value out of range.
    struct InvalidValue: Error {
        var message: String
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// A request body, decoded on demand into the operation's type.
    struct Decoding {
        var data: Data

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try JSONDecoder().decode(type, from: data)
        }
    }

    /// An encoded answer: what the replay cache keeps.
    struct Answer: Sendable {
        var status: HTTPResponse.Status
        var body: Data

        static func ok(_ value: some Encodable) -> Answer {
            Answer(status: .ok, body: CatalogService.encode(value))
        }

        var response: Response {
            Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    static func encode(_ value: some Encodable) -> Data {
        // Our own types always encode; a failure would be a bug worth a 500 with its message.
        (try? JSONEncoder().encode(value)) ?? Data(#"{"kind":"internal","message":"cannot encode the answer"}"#.utf8)
    }

    static func error(_ status: HTTPResponse.Status, _ kind: CatalogWire.ErrorBody.Kind, _ message: String) -> Response {
        Answer(status: status, body: encode(CatalogWire.ErrorBody(kind: kind, message: message))).response
    }

    /// What was wrong with a body, in the words an operator needs (path and problem).
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return keys.isEmpty ? "" : " at \(keys)"
        }
        switch error {
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo["NSDebugDescription"] as? String
            return "not valid JSON\(path(context))" + (underlying.map { ": \($0)" } ?? "")
        case .keyNotFound(let key, let context):
            return "missing field \(key.stringValue)\(path(context))"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "expected \(type)\(path(context))"
        @unknown default:
            return "\(error)"
        }
    }
}
