import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import ScrubberCore

/// The ``ScrubCatalog`` protocol spoken to a lease service (`scrubber serve`) over HTTP/JSON
/// (``CatalogWire``): what a node uses when it cannot reach the database. The node runtime
/// cannot tell it from a database catalog. It is a ``CatalogTransport``: it carries requests
/// (HTTP, retries, the token, request ids, deadlines), and every operation comes from its
/// declaration (``CatalogOperations``).
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
public final class RemoteCatalog: CatalogTransport {
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
    public init(
        url: String,
        token: String,
        tokenSource: String? = nil,
        operationTimeout: Double = 10,
        caFile: String? = nil,
        logger: Logger
    ) throws {
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
        _ = try await send(CatalogOperations.Ping.self, CatalogWire.Empty(), timeout: timeout)
    }

    // MARK: CatalogTransport (every ScrubCatalog operation comes from its declaration)

    public func send<Operation: CatalogOperation>(
        _ operation: Operation.Type,
        _ request: Operation.Request
    ) async throws -> Operation.Answer {
        try await send(operation, request, timeout: nil)
    }

    /// One operation: POST, retried within the deadline under one request id.
    private func send<Operation: CatalogOperation>(
        _ operation: Operation.Type,
        _ request: Operation.Request,
        timeout: Double?
    ) async throws -> Operation.Answer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        func encode(_ request: Operation.Request) throws -> Data {
            do {
                return try encoder.encode(request)
            } catch {
                throw CatalogError.rejected("cannot encode the \(Operation.name) request: \(error)")
            }
        }
        let payload: Data
        let requestID: String
        switch Operation.requestID {
        case .perCall:
            requestID = UUID().uuidString
            var request = request
            Operation.stamp(&request, requestID: requestID)
            payload = try encode(request)
        case .content:
            payload = try encode(request)
            requestID = SHA256.hash(data: payload).map { String(format: "%02x", $0) }.joined()
        }
        let url = baseURL + Operation.path
        let budget = timeout ?? operationTimeout
        let deadline = ContinuousClock.now + .seconds(budget)
        var attempt = 0
        var lastProblem = ""
        while true {
            attempt += 1
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero {
                throw CatalogError.unavailable(
                    "lease service at \(baseURL): \(Operation.name) did not succeed within \(budget) s"
                        + " (\(attempt - 1) tries); last: \(lastProblem)"
                )
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
                    return try JSONDecoder().decode(Operation.Answer.self, from: data)
                } catch {
                    throw CatalogError.rejected("lease service at \(baseURL) sent an unreadable \(Operation.name) answer: \(error)")
                }
            case 401:
                throw CatalogError.unauthorized(
                    "lease service at \(baseURL) refused our token (401): check \(tokenSource.map { "the token file \($0)" } ?? "--token-file or [cluster] token_file") against the service's"
                )
            case 500, 502, 503, 504:
                // 503: the service's database is unavailable; 500: an error it did not expect.
                lastProblem = "the service answered HTTP \(status): \(Self.message(data))"
                try await pause(attempt, deadline)
            default:
                let body = try? JSONDecoder().decode(CatalogWire.ErrorBody.self, from: data)
                if let error = body?.catalogError { throw error }
                if let refusal = body?.refusal { throw refusal }
                var hint = status == 413 ? " (raise serve --max-body-bytes, or lower [cluster] claim_batch)" : ""
                if status == 404 {
                    // An operation this scrubber knows and an older service does not.
                    hint = " (the lease service is older than this scrubber and has no \(Operation.name) operation: upgrade scrubber serve)"
                }
                throw CatalogError.rejected(
                    "lease service at \(baseURL) refused \(Operation.name) with HTTP \(status): \(Self.message(data))\(hint)"
                )
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
