import Foundation
import Hummingbird
import ScrubberCore

extension StatusPage {
    /// Where the page's script reads its data, beside the page at `GET /`.
    public static let documentPath = "/status.json"

    /// Serves the status page on `router`: `GET /` (HTML) and `GET /status.json` (the
    /// `status --json` document, history included), never cached by the browser. A request
    /// `authorise` refuses gets 401 with a Basic challenge, so a browser asks for the
    /// credentials; a status that cannot be read gets 503, saying why.
    ///
    /// However many browsers watch, the catalog is read at most once per `maxAge`: requests
    /// share one read in flight and its answer (``SharedStatus``).
    public static func addRoutes<Context: RequestContext>(
        to router: Router<Context>,
        refreshSeconds: Double = 5,
        maxAge: Duration = .seconds(1),
        authorise: @escaping @Sendable (Request) -> Bool = { _ in true },
        status read: @escaping @Sendable () async throws -> ClusterStatus
    ) {
        let shared = SharedStatus(maxAge: maxAge, read: read)
        let status: @Sendable () async throws -> ClusterStatus = { try await shared.get() }
        router.get("/") { request, _ in
            guard authorise(request) else { return challenge() }
            do {
                let html = html(try await status(), refreshSeconds: refreshSeconds, jsonPath: String(documentPath.dropFirst()))
                return answer(.ok, "text/html; charset=utf-8", ByteBuffer(string: html))
            } catch {
                return answer(
                    .serviceUnavailable,
                    "text/plain; charset=utf-8",
                    ByteBuffer(string: "cannot read the cluster's status: \(error)\n")
                )
            }
        }
        router.get(RouterPath(documentPath)) { request, _ in
            guard authorise(request) else { return challenge() }
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                return answer(.ok, "application/json", ByteBuffer(data: try encoder.encode(try await status())))
            } catch {
                let body = (try? JSONEncoder().encode(["error": "cannot read the cluster's status: \(error)"])) ?? Data()
                return answer(.serviceUnavailable, "application/json", ByteBuffer(data: body))
            }
        }
    }

    private static func answer(_ status: HTTPResponse.Status, _ type: String, _ body: ByteBuffer) -> Response {
        Response(status: status, headers: [.contentType: type, .cacheControl: "no-store"], body: .init(byteBuffer: body))
    }

    private static func challenge() -> Response {
        Response(
            status: .unauthorized,
            headers: [.wwwAuthenticate: "Basic realm=\"scrubber\", charset=\"UTF-8\"", .contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: "the status page needs the service's token: any user name, the token as password\n"))
        )
    }
}

/// One status read shared by the page's requests: at most one in flight, and its answer
/// served for `maxAge` (a page open in many browsers costs the database one read per
/// `maxAge`, not one per browser per refresh).
actor SharedStatus {
    private let maxAge: Duration
    private let read: @Sendable () async throws -> ClusterStatus
    private var last: (at: ContinuousClock.Instant, status: ClusterStatus)?
    private var inFlight: Task<ClusterStatus, any Error>?

    init(maxAge: Duration, read: @escaping @Sendable () async throws -> ClusterStatus) {
        self.maxAge = maxAge
        self.read = read
    }

    func get() async throws -> ClusterStatus {
        if let last, last.at.duration(to: .now) < maxAge { return last.status }
        if let inFlight { return try await inFlight.value }
        let task = Task { try await read() }
        inFlight = task
        defer { inFlight = nil }
        let status = try await task.value
        last = (ContinuousClock.now, status)
        return status
    }
}
