import ArgumentParser
import Foundation
import Logging
import NIOSSL
import ScrubberCore
import ScrubberService
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the coordination protocol over HTTP, for nodes that cannot reach the database.",
        discussion: """
            Fronts the configured SQLite or PostgreSQL catalog; nodes, status and restore use it \
            with --coordinator http://HOST:PORT and --token-file. Every route but GET /healthz \
            needs the bearer token. The service never needs metadata_encryption_key: nodes \
            decrypt location URLs themselves. Stops gracefully on SIGTERM/SIGINT.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: "HOST:PORT to listen on (port 0: any free port, printed on stdout).") var listen = "127.0.0.1:7480"

    @Option(name: .customLong("max-body-bytes"), help: "Largest request body accepted (larger: 413).")
    var maxBodyBytes = CatalogWire.defaultMaxBodyBytes

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: serve HTTPS (with --tls-key).") var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.") var tlsKey: String?

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if maxBodyBytes < 1024 { throw ValidationError("--max-body-bytes must be at least 1024") }
        _ = try address()
    }

    func address() throws -> (host: String, port: Int) {
        guard let address = ListenAddress(parsing: listen) else { throw ValidationError("--listen must be HOST:PORT, got \(listen)") }
        return (address.host, address.port)
    }

    func run() async throws {
        let config = try common.configuration()
        guard let tokenFile = config.cluster.tokenFile else {
            throw ConfigError(section: "cluster", option: "token_file", message: "the service needs a bearer token: set --token-file or [cluster] token_file")
        }
        let token = try TokenFile.read(tokenFile)
        let logger = common.makeLogger()
        // The service fronts the database itself, never another service.
        var direct = config
        direct.cluster.coordinatorURL = nil
        let catalog = try await openCatalog(direct, logger: logger)
        var tls: TLSConfiguration?
        if let tlsCert, let tlsKey {
            do {
                tls = TLSConfiguration.makeServerConfiguration(
                    certificateChain: try NIOSSLCertificate.fromPEMFile(tlsCert).map { .certificate($0) },
                    privateKey: .privateKey(try NIOSSLPrivateKey(file: tlsKey, format: .pem)))
            } catch {
                throw ConfigError(option: "--tls-cert/--tls-key", message: "cannot load the certificate or key: \(error)")
            }
        }
        let (host, port) = try address()
        let service = CatalogService(catalog: catalog, token: token, maxBodyBytes: maxBodyBytes, logger: logger)
        let scheme = tls == nil ? "http" : "https"
        let app = try service.application(host: host, port: port, tls: tls) { bound in
            logger.notice("lease service listening on \(scheme)://\(host):\(bound)")
            // For scripts and tests that asked for any free port.
            FileHandle.standardOutput.write(Data("listening \(scheme)://\(host):\(bound)\n".utf8))
        }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.notice("lease service stopped")
    }
}
