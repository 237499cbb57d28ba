import Foundation
import Hummingbird
import ScrubberCore

extension StatusPage {
    /// Where the page's script reads its data, beside the page at `GET /`.
    public static let documentPath = "/status.json"

    /// Serves the status page on `router`: `GET /` (HTML) and `GET /status.json` (the
    /// `status --json` document, history included), both read fresh from `status` per request
    /// and never cached. A request `authorise` refuses gets 401 with a Basic challenge, so a
    /// browser asks for the credentials; a status that cannot be read gets 503, saying why.
    public static func addRoutes<Context: RequestContext>(
        to router: Router<Context>, refreshSeconds: Double = 5,
        authorise: @escaping @Sendable (Request) -> Bool = { _ in true },
        status: @escaping @Sendable () async throws -> ClusterStatus
    ) {
        router.get("/") { request, _ in
            guard authorise(request) else { return challenge() }
            do {
                let html = html(try await status(), refreshSeconds: refreshSeconds, jsonPath: String(documentPath.dropFirst()))
                return answer(.ok, "text/html; charset=utf-8", ByteBuffer(string: html))
            } catch {
                return answer(.serviceUnavailable, "text/plain; charset=utf-8", ByteBuffer(string: "cannot read the cluster's status: \(error)\n"))
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
        Response(status: .unauthorized,
                 headers: [.wwwAuthenticate: "Basic realm=\"scrubber\", charset=\"UTF-8\"", .contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: "the status page needs the service's token: any user name, the token as password\n")))
    }
}
