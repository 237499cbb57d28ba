import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import ScrubberCore

/// The HTTP client of one object store (Swift or S3): its own connection pool, reused by every
/// delete of that store, and the classes its failures fall into.
///
/// The pool is the store's: a store's `max_concurrent_deletes` (or, without, 32) connections to
/// one host, kept alive between deletes. The client shuts itself down when the store goes away.
public final class HTTPStoreClient: Sendable {
    let http: HTTPClient
    /// The store's name, for messages.
    let store: String
    /// Per request.
    let timeout: TimeAmount

    /// - Parameters:
    ///   - connections: connections to one host at most (more requests wait for one).
    ///   - insecure: no TLS certificate check; `caFile`: a PEM bundle to trust instead of the system's.
    public init(store: String, connections: Int = 32, timeout: TimeAmount = .seconds(30), insecure: Bool = false, caFile: String? = nil) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, connections))
        // A refused connection fails its request at once (transient): the image is retried
        // with its own backoff, instead of every delete waiting out its timeout in the pool's
        // reconnect loop while the store is down.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(10), read: timeout)
        configuration.httpVersion = .http1Only
        if insecure || caFile != nil {
            var tls = TLSConfiguration.makeClientConfiguration()
            if insecure { tls.certificateVerification = .none }
            if let caFile { tls.trustRoots = .file(caFile) }
            configuration.tlsConfiguration = tls
        }
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.store = store
        self.timeout = timeout
    }

    deinit {
        // The task holds the client until it is shut down (a client may not be released before).
        let http = http
        Task { try? await http.shutdown() }
    }

    /// An answer: status, headers, and the body up to `limit` bytes.
    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    /// Sends one request and reads its answer; a transport failure or timeout is thrown as a
    /// `transient` ``StoreError`` naming `what`.
    func send(_ request: HTTPClientRequest, what: @autoclosure () -> String, limit: Int = 1 << 20) async throws -> Response {
        do {
            let response = try await http.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: limit)
            return Response(status: Int(response.status.code), headers: response.headers, body: body)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw StoreError(.transient, "\(what()) on \(store) timed out; not deleted")
        } catch {
            throw StoreError(.transient, "\(what()) on \(store) failed (\(error)); not deleted")
        }
    }
}

extension FailureClass {
    /// The class of a failed HTTP answer (DESIGN §6): `misconfigured` (401/403: fix the
    /// credentials; nothing was deleted), `throttled` (429, 503, S3's SlowDown: the store asks us
    /// to slow down), `transient` (other 5xx); nil for a status without one (a 4xx the store
    /// should not send).
    init?(httpStatus status: Int) {
        switch status {
        case 401, 403: self = .misconfigured
        case 429, 503: self = .throttled
        case 500...599: self = .transient
        default: return nil
        }
    }
}

extension StoreError {
    /// `"CLASS: WHAT answered STATUS; not deleted"`, with `hint` for a misconfiguration; a
    /// status of no class is `transient`.
    static func answered(_ status: Int, what: String, hint: String? = nil) -> StoreError {
        let text = "\(what) answered \(status)"
        switch FailureClass(httpStatus: status) {
        case .misconfigured: return StoreError(.misconfigured, "\(text)\(hint.map { " (\($0))" } ?? ""); not deleted")
        case let kind?: return StoreError(kind, "\(text); not deleted")
        case nil: return StoreError(.transient, "\(text); not deleted")
        }
    }
}
