import Foundation
import Logging
import ScrubberCore
import ScrubberRemote
import ScrubberService


/// A lease service on a free loopback port, in this process, fronting `catalog`, and a
/// ``RemoteCatalog`` client of it: the conformance suite's third backend.
final class ServedCatalog: Sendable {
    static let token = "conformance-token"

    let url: String
    let client: RemoteCatalog
    private let server: Task<Void, any Error>

    static func start(fronting catalog: any ScrubCatalog, port: Int = 0, maxBodyBytes: Int = CatalogWire.defaultMaxBodyBytes,
                      operationTimeout: Double = 10) async throws -> ServedCatalog {
        let service = CatalogService(catalog: catalog, token: token, maxBodyBytes: maxBodyBytes,
                                     logger: Logger(label: "service-test") { _ in SwiftLogNoOpLogHandler() })
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = try service.application(host: "127.0.0.1", port: port) { port in continuation.yield(port) }
        let server = Task { try await app.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("the lease service did not start") }
        return try ServedCatalog(url: "http://127.0.0.1:\(port)", server: server, operationTimeout: operationTimeout)
    }

    private init(url: String, server: Task<Void, any Error>, operationTimeout: Double) throws {
        self.url = url
        self.server = server
        client = try RemoteCatalog(url: url, token: Self.token, operationTimeout: operationTimeout,
                                   logger: Logger(label: "client-test") { _ in SwiftLogNoOpLogHandler() })
    }

    /// Stops the server (its port is free again once this returns).
    func stop() async {
        server.cancel()
        _ = await server.result
    }

    deinit {
        server.cancel()
    }
}
