import Hummingbird
import Logging
import Metrics
import Prometheus
import ScrubberCore

/// The process's metrics: swift-metrics bootstrapped with a Prometheus registry, served on
/// `GET /metrics` beside the probes `GET /healthz` (the process answers) and `GET /readyz`
/// (the node has joined and its membership is current; 503 otherwise), and the read-only status
/// page (``StatusPage``) on `GET /` and `GET /status.json`.
public enum MetricsEndpoint {
    /// Delete latencies from a millisecond (a local unlink) to a minute (a remote store
    /// timing out), roughly ×2.5 apart.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .microseconds(2_500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .microseconds(2_500_000), .seconds(5),
        .seconds(10), .seconds(30), .seconds(60),
    ]

    /// Makes swift-metrics record into a new Prometheus registry. Once per process: swift-metrics
    /// allows one bootstrap.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// The HTTP application; run it in the process's `ServiceGroup`.
    /// - Parameters:
    ///   - sample: brings state gauges up to date; called before each `/metrics` answer.
    ///   - ready: the `/readyz` answer.
    ///   - status: the status page's data (nil: no page).
    ///   - onListening: called with the bound port (useful with port 0).
    public static func application(
        host: String,
        port: Int,
        registry: PrometheusCollectorRegistry,
        logger: Logger,
        sample: @escaping @Sendable () -> Void,
        ready: @escaping @Sendable () -> Bool,
        status: (@Sendable () async throws -> ClusterStatus)? = nil,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        if let status { StatusPage.addRoutes(to: router, status: status) }
        router.get("/metrics") { _, _ in
            sample()
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16_384)
            registry.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer))
            )
        }
        router.get("/healthz") { _, _ in
            text(.ok, "ok\n")
        }
        router.get("/readyz") { _, _ in
            ready() ? text(.ok, "ready\n") : text(.serviceUnavailable, "not ready: not joined, or membership not current\n")
        }
        // An idle timeout: a browser keeps the status page's connection open (Hummingbird's
        // HTTP/1 server has none by default).
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(30))),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
