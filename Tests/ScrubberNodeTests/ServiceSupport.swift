import Foundation
import Logging
import NIOSSL
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
                      operationTimeout: Double = 10, tls: TLSConfiguration? = nil, caFile: String? = nil,
                      token serverToken: String = token) async throws -> ServedCatalog {
        let service = CatalogService(catalog: catalog, token: serverToken, maxBodyBytes: maxBodyBytes,
                                     logger: Logger(label: "service-test") { _ in SwiftLogNoOpLogHandler() })
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = try service.application(host: "127.0.0.1", port: port, tls: tls) { port in continuation.yield(port) }
        let server = Task { try await app.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestFailure("the lease service did not start") }
        return try ServedCatalog(url: "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)", server: server,
                                 operationTimeout: operationTimeout, caFile: caFile)
    }

    private init(url: String, server: Task<Void, any Error>, operationTimeout: Double, caFile: String?) throws {
        self.url = url
        self.server = server
        client = try RemoteCatalog(url: url, token: Self.token, operationTimeout: operationTimeout, caFile: caFile,
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
