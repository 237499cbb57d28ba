import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import ScrubberCore

/// The ``ScrubCatalog`` protocol spoken to a lease service (`scrubber serve`) over HTTP/JSON
/// (``CatalogWire``): what a node uses when it cannot reach the database. The node runtime
/// cannot tell it from a database catalog.
///
/// - Every call has a deadline, `operationTimeout`. Within it, transport failures (the service
///   restarting, a dropped connection, a timeout) and 503s are retried with backoff under the
///   same request id, so the service answers a retried write from its first try instead of
///   applying it twice, and a retried claim carries that id as its token (idempotent in the
///   store itself). Past the deadline: ``CatalogError/unavailable(_:)``, which nodes treat as
///   they treat a database outage.
/// - 401: ``CatalogError/unauthorized(_:)`` at once, never retried: a node stops.
/// - Location URLs arrive as stored (ciphertext when `metadata_encryption_key` is set); the
///   node decrypts them itself.
public final class RemoteCatalog: ScrubCatalog {
    public let baseURL: String
    private let token: String
    private let tokenSource: String?
    public let operationTimeout: Double
    private let client: HTTPClient
    private let logger: Logger

    /// - Parameters:
    ///   - url: `http://HOST:PORT` or `https://HOST:PORT` (a path prefix is kept).
    ///   - caFile: PEM certificates to trust for `https` instead of the system's.
    ///   - tokenSource: where the token came from (its file), for the message of a 401.
    /// - Throws: ``ConfigError`` for a URL that is not `http(s)://HOST[:PORT]` or an unreadable CA file.
    public init(url: String, token: String, tokenSource: String? = nil, operationTimeout: Double = 10, caFile: String? = nil,
                logger: Logger) throws {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        if let problem = ClusterConfiguration.coordinatorURLProblem(base) {
            throw ConfigError(section: "cluster", option: "coordinator_url", message: problem)
        }
        if caFile != nil, !base.hasPrefix("https://") {
            throw ConfigError(section: "cluster", option: "coordinator_ca_file", message: "is set, but the coordinator \(url) is not https")
        }
        baseURL = base
        self.token = token
        self.tokenSource = tokenSource
        self.operationTimeout = operationTimeout
        self.logger = logger
        client = try HTTPClients.client(caFile: caFile)
    }

    /// Checks the service answers and accepts the token, within `timeout` seconds.
    /// - Throws: ``CatalogError/unauthorized(_:)`` or ``CatalogError/unavailable(_:)``.
    public func connect(timeout: Double? = nil) async throws {
        let _: CatalogWire.Empty = try await call(.ping, CatalogWire.Empty(), timeout: timeout)
    }

    // MARK: ScrubCatalog

    public func upgrade() async throws {
        let _: CatalogWire.Empty = try await call(.upgrade, CatalogWire.Empty())
    }

    public func join(_ node: NodeRegistration, ttl: Double) async throws -> JoinAnswer {
        try await call(.join, CatalogWire.Join(node: node, ttl: ttl))
    }

    public func heartbeat(_ node: NodeIdentity, ttl: Double) async throws -> Bool {
        try await value(.heartbeat, CatalogWire.NodeTTL(node, ttl: ttl))
    }

    public func leave(_ node: NodeIdentity) async throws {
        let _: CatalogWire.Empty = try await call(.leave, CatalogWire.Node(node))
    }

    public func drain(_ node: NodeIdentity) async throws {
        let _: CatalogWire.Empty = try await call(.drain, CatalogWire.Node(node))
    }

    public func campaign(_ node: NodeIdentity, ttl: Double) async throws -> LeaderLease {
        try await call(.campaign, CatalogWire.NodeTTL(node, ttl: ttl))
    }

    public func renewLeadership(_ node: NodeIdentity, term: Int64, ttl: Double) async throws -> Bool {
        try await value(.renew, CatalogWire.Term(node, term: term, ttl: ttl))
    }

    public func resign(_ node: NodeIdentity, term: Int64) async throws {
        let _: CatalogWire.Empty = try await call(.resign, CatalogWire.Term(node, term: term))
    }

    public func leaderView(scrubTime: Double, limit: Int, scan: CandidateScan) async throws -> LeaderView {
        try await call(.leaderView, CatalogWire.LeaderViewRequest(scrubTime: scrubTime, limit: limit, scan: scan))
    }

    public func apply(_ plan: LeaderPlan) async throws -> Bool {
        try await value(.apply, plan)
    }

    public func claim(_ request: ClaimRequest) async throws -> [ClaimedImage] {
        let id = UUID().uuidString
        var request = request
        request.token = request.token ?? id
        return try await call(.claim, request, requestID: .given(id))
    }

    public func complete(_ outcomes: [ScrubOutcome], node: NodeIdentity, backoff: Backoff) async throws -> CompletionReport {
        guard !outcomes.isEmpty else { return CompletionReport() }
        // The node's committer retries a failed batch as it is: the id follows the content, so
        // even a retry past this call's deadline is answered from the first try. Past the
        // replay cache, a re-sent batch is still harmless: its claim tokens no longer match.
        return try await call(.complete, CatalogWire.Complete(outcomes: outcomes, node: node, backoff: backoff), requestID: .content)
    }

    public func release(_ claims: [ClaimID], node: NodeIdentity) async throws {
        guard !claims.isEmpty else { return }
        let _: CatalogWire.Empty = try await call(.release, CatalogWire.Release(claims: claims, node: node))
    }

    public func restorePlan(imageID: String) async throws -> RestorePlan {
        try await call(.restorePlan, CatalogWire.Image(imageID: imageID))
    }

    public func commitRestore(_ request: RestoreRequest) async throws -> RestoreResult {
        try await call(.commitRestore, request, requestID: .content)
    }

    public func backlog(scrubTime: Double, failureLimit: Int) async throws -> BacklogSnapshot {
        try await call(.backlog, CatalogWire.Backlog(scrubTime: scrubTime, failureLimit: failureLimit))
    }

    public func remainingWork(scrubTime: Double, node: NodeIdentity, runStartedAt: Double) async throws -> Int {
        try await value(.remainingWork, CatalogWire.RemainingWork(scrubTime: scrubTime, node: node, runStartedAt: runStartedAt))
    }

    public func status(scrubTime: Double, failureLimit: Int) async throws -> ClusterStatus {
        try await call(.status, CatalogWire.Backlog(scrubTime: scrubTime, failureLimit: failureLimit))
    }

    public func control(_ request: ControlRequest) async throws -> ControlAnswer {
        try await call(.control, request)
    }

    // MARK: Transport

    private func value<T: Codable & Sendable>(_ operation: CatalogWire.Operation, _ body: some Encodable) async throws -> T {
        let reply: CatalogWire.Value<T> = try await call(operation, body)
        return reply.value
    }

    /// How a call's request id is chosen: the service answers a repeated id from its first try.
    enum RequestID {
        /// A new id per call: its retries within the deadline share it.
        case fresh
        case given(String)
        /// Derived from the request's bytes: a caller that sends the same request again (a
        /// retried batch) gets the first answer.
        case content
    }

    /// One operation: POST, retried within the deadline under one request id.
    private func call<Reply: Decodable>(_ operation: CatalogWire.Operation, _ body: some Encodable,
                                        requestID id: RequestID = .fresh, timeout: Double? = nil) async throws -> Reply {
        let payload: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            payload = try encoder.encode(body)
        } catch {
            throw CatalogError.rejected("cannot encode the \(operation.rawValue) request: \(error)")
        }
        let requestID = switch id {
        case .fresh: UUID().uuidString
        case .given(let value): value
        case .content: SHA256.hash(data: payload).map { String(format: "%02x", $0) }.joined()
        }
        let url = baseURL + operation.path
        let budget = timeout ?? operationTimeout
        let deadline = ContinuousClock.now + .seconds(budget)
        var attempt = 0
        var lastProblem = ""
        while true {
            attempt += 1
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero {
                throw CatalogError.unavailable(
                    "lease service at \(baseURL): \(operation.rawValue) did not succeed within \(budget) s (\(attempt - 1) tries); last: \(lastProblem)")
            }
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: CatalogWire.requestIDHeader, value: requestID)
            request.body = .bytes(ByteBuffer(bytes: payload))
            let status: Int
            let data: Data
            do {
                // No single attempt may use the whole budget (a connection dead without a reset
                // would): a retry under the same id is always safe.
                let slice = min(remaining, max(.seconds(budget / 3), .seconds(2)))
                let response = try await client.execute(request, timeout: .nanoseconds(Int64(slice.seconds * 1e9)), logger: logger)
                status = Int(response.status.code)
                data = Data(try await response.body.collect(upTo: 256 << 20).readableBytesView)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                lastProblem = "\(error)"
                try await pause(attempt, deadline)
                continue
            }
            switch status {
            case 200..<300:
                do {
                    return try JSONDecoder().decode(Reply.self, from: data)
                } catch {
                    throw CatalogError.rejected("lease service at \(baseURL) sent an unreadable \(operation.rawValue) answer: \(error)")
                }
            case 401:
                throw CatalogError.unauthorized(
                    "lease service at \(baseURL) refused our token (401): check \(tokenSource.map { "the token file \($0)" } ?? "--token-file or [cluster] token_file") against the service's")
            case 500, 502, 503, 504:
                // 503: the service's database is unavailable; 500: an error it did not expect.
                lastProblem = "the service answered HTTP \(status): \(Self.message(data))"
                try await pause(attempt, deadline)
            default:
                let body = try? JSONDecoder().decode(CatalogWire.ErrorBody.self, from: data)
                if let error = body?.catalogError { throw error }
                if let refusal = body?.refusal { throw refusal }
                let hint = status == 413 ? " (raise serve --max-body-bytes, or lower [cluster] claim_batch)" : ""
                throw CatalogError.rejected("lease service at \(baseURL) refused \(operation.rawValue) with HTTP \(status): \(Self.message(data))\(hint)")
            }
        }
    }

    /// Backs off before a retry: 50 ms doubling to 1 s, never past the deadline.
    private func pause(_ attempt: Int, _ deadline: ContinuousClock.Instant) async throws {
        let delay = Duration.milliseconds(min(1000, 50 << min(attempt - 1, 5)))
        try await Task.sleep(until: min(ContinuousClock.now + delay, deadline), clock: .continuous)
    }

    private static func message(_ data: Data) -> String {
        if let body = try? JSONDecoder().decode(CatalogWire.ErrorBody.self, from: data) { return body.message }
        return String(decoding: data.prefix(500), as: UTF8.self)
    }
}
