import Foundation
import Logging
import NIOSSL
import ScrubberCore
import ScrubberRemote
import ScrubberService
import ServiceLifecycle

/// A lease service on a free loopback port, in this process, fronting `catalog`, and a
/// ``RemoteCatalog`` client of it: the conformance suite's third backend.
final class ServedCatalog: Sendable {
    static let token = "conformance-token"

    let url: String
    let client: RemoteCatalog
    private let server: Task<Void, any Error>

    static func start(
        fronting catalog: any ScrubCatalog,
        port: Int = 0,
        maxBodyBytes: Int = CatalogWire.defaultMaxBodyBytes,
        operationTimeout: Double = 10,
        tls: TLSConfiguration? = nil,
        caFile: String? = nil,
        token serverToken: String = token
    ) async throws -> ServedCatalog {
        let service = CatalogService(
            catalog: catalog,
            token: serverToken,
            maxBodyBytes: maxBodyBytes,
            logger: Logger(label: "service-test") { _ in SwiftLogNoOpLogHandler() }
        )
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = try service.application(host: "127.0.0.1", port: port, tls: tls) { port in continuation.yield(port) }
        // Stopped by graceful shutdown, as `serve` is on SIGTERM: cancelling the server's task
        // instead races connections accepted meanwhile (NIO traps on their unconsumed writers).
        let group = ServiceGroup(
            configuration: .init(services: [app], logger: Logger(label: "service-test") { _ in SwiftLogNoOpLogHandler() })
        )
        let server = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            throw TestFailure("the lease service did not start: \(String(describing: await server.result))")
        }
        return try ServedCatalog(
            url: "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)",
            server: server,
            group: group,
            operationTimeout: operationTimeout,
            caFile: caFile
        )
    }

    private let group: ServiceGroup

    private init(url: String, server: Task<Void, any Error>, group: ServiceGroup, operationTimeout: Double, caFile: String?) throws {
        self.url = url
        self.server = server
        self.group = group
        client = try RemoteCatalog(
            url: url,
            token: Self.token,
            operationTimeout: operationTimeout,
            caFile: caFile,
            logger: Logger(label: "client-test") { _ in SwiftLogNoOpLogHandler() }
        )
    }

    /// Restarts are tested with real `scrubber serve` processes (ServiceCLITests,
    /// MultiHostServiceTests): a server restarted in this process on the same port races the
    /// test process's own other clients for it.
    deinit {
        Task { [group] in await group.triggerGracefulShutdown() }
    }
}
