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
/// - Each operation of ``CatalogWire/operations`` is a route, `POST /v1/<name>`, made from its
///   declaration by one generic handler (CatalogRoutes.swift): no operation has code here.
/// - Every route but `GET /healthz` needs `Authorization: Bearer <token>`, compared in constant
///   time (``TokenAuthenticator``, ``TokenMiddleware``); without it: 401, nothing read or
///   written. The status page (`GET /`, `GET /status.json`, when the service is given a status
///   source) also takes HTTP Basic with the token as password, so a browser can open it.
/// - Bodies over `maxBodyBytes`: 413; malformed JSON or out-of-range values (a TTL over
///   ``CatalogWire/maxTTL``, a request id over ``maxRequestIDBytes``): 400; an unknown
///   operation: 404.
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

    /// The longest request id accepted: ids are kept in the replay cache.
    public static let maxRequestIDBytes = 256

    public let catalog: any ScrubCatalog
    let authenticator: TokenAuthenticator
    public let maxBodyBytes: Int
    public let limits: Limits
    let replays: ReplayCache
    let logger: Logger
    /// The status page's data (nil: no page).
    private let status: (@Sendable () async throws -> ClusterStatus)?

    /// - Parameters:
    ///   - token: the bearer token, already trimmed (see ``TokenFile/read(_:)``).
    ///   - status: the status page's data; nil serves no page.
    public init(
        catalog: any ScrubCatalog,
        token: String,
        maxBodyBytes: Int = CatalogWire.defaultMaxBodyBytes,
        limits: Limits = Limits(),
        replayWindow: Duration = .seconds(120),
        logger: Logger,
        status: (@Sendable () async throws -> ClusterStatus)? = nil
    ) {
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
    public func application(
        host: String,
        port: Int,
        tls: TLSConfiguration? = nil,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let router = Router()
        router.get("/healthz") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"}\n"))
            )
        }
        addRoutes(to: router)
        if let status {
            let authenticator = authenticator
            StatusPage.addRoutes(
                to: router,
                authorise: { authenticator.authorises($0.headers[.authorization], basic: true) },
                status: status
            )
        }
        var server = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .nanoseconds(Int64(limits.idleTimeout.seconds * 1e9))))
        if var tls {
            if tls.minimumTLSVersion == .tlsv1 || tls.minimumTLSVersion == .tlsv11 { tls.minimumTLSVersion = .tlsv12 }
            server = try .tls(server, tlsConfiguration: tls)
        }
        return Application(
            router: router,
            server: server,
            configuration: .init(
                address: .hostname(host, port: port),
                serverName: nil,
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger)
            ),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}
