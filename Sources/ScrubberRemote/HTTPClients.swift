import AsyncHTTPClient
import NIOSSL
import ScrubberCore
import Synchronization

/// The lease service's clients' HTTP clients: one per trust configuration for the process's
/// lifetime. AsyncHTTPClient wants an explicit asynchronous shutdown, which a catalog that
/// lives as long as its node never needs.
enum HTTPClients {
    private static let clients = Mutex<[String: HTTPClient]>([:])

    /// The client trusting `caFile`'s certificates (nil: the system's roots).
    /// - Throws: ``ConfigError`` for an unreadable CA file.
    static func client(caFile: String?) throws -> HTTPClient {
        try clients.withLock { clients in
            if let client = clients[caFile ?? ""] { return client }
            var configuration = HTTPClient.Configuration()
            configuration.timeout = .init(connect: .seconds(3))
            configuration.redirectConfiguration = .disallow
            if let caFile {
                var tls = TLSConfiguration.makeClientConfiguration()
                do {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
                } catch {
                    throw ConfigError(
                        file: caFile,
                        section: "cluster",
                        option: "coordinator_ca_file",
                        message: "cannot read PEM certificates: \(error)"
                    )
                }
                configuration.tlsConfiguration = tls
            }
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            clients[caFile ?? ""] = client
            return client
        }
    }
}
