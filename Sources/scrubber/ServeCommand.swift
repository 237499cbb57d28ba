import ArgumentParser
import Foundation
import Logging
import NIOSSL
import ScrubberCore
import ScrubberService
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the coordination protocol over HTTP, for nodes that cannot reach the database.",
        discussion: """
            Fronts the configured SQLite or PostgreSQL catalog; nodes, status and restore use it \
            with --coordinator http://HOST:PORT and --token-file. Every route but GET /healthz \
            needs the bearer token; the status page (GET /) also takes it as the password of \
            HTTP Basic, so a browser can open it. The service never needs metadata_encryption_key: nodes \
            decrypt location URLs themselves. Stops gracefully on SIGTERM/SIGINT.

            Off loopback it serves HTTPS only (--tls-cert/--tls-key, TLS 1.2 at least): the token \
            travels with every request. --insecure-http allows plain HTTP there, for a network \
            that is private by other means. A connection that completes no request part for \
            --idle-timeout seconds is closed, and at most --max-connections are open at once \
            (by default the open-files limit, raised to its hard limit, less what the service \
            needs itself); more wait in the listen backlog.
            """
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "HOST:PORT to listen on (port 0: any free port, printed on stdout).") var listen = "127.0.0.1:7480"

    @Option(name: .customLong("max-body-bytes"), help: "Largest request body accepted (larger: 413).")
    var maxBodyBytes = CatalogWire.defaultMaxBodyBytes

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: serve HTTPS (with --tls-key).") var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.") var tlsKey: String?

    @Flag(name: .customLong("insecure-http"), help: "Allow plain HTTP on an address other than loopback (the token travels in clear).")
    var insecureHTTP = false

    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may complete no request part before it is closed (1-60).")
    var idleTimeout = 30.0

    @Option(name: .customLong("max-connections"), help: "Open connections at most (default and ceiling: the open-files limit, less 64).")
    var maxConnections: Int?

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if maxBodyBytes < 1024 { throw ValidationError("--max-body-bytes must be at least 1024") }
        if !(1...60).contains(idleTimeout) { throw ValidationError("--idle-timeout must be 1 to 60 seconds, got \(idleTimeout)") }
        if let maxConnections, maxConnections < 1 { throw ValidationError("--max-connections must be at least 1") }
        let address = try address()
        if tlsCert == nil, !address.isLoopback, !insecureHTTP {
            throw ValidationError(
                """
                --listen \(address) is not loopback: serve HTTPS there (--tls-cert and --tls-key), since every request \
                carries the bearer token; --insecure-http allows plain HTTP on a network private by other means
                """
            )
        }
    }

    func address() throws -> ListenAddress {
        guard let address = ListenAddress(parsing: listen) else { throw ValidationError("--listen must be HOST:PORT, got \(listen)") }
        return address
    }

    /// Descriptors the service keeps for itself (database connections, logs, the listener).
    static let reservedDescriptors = 64

    /// Raises the soft open-files limit to the hard one and returns the connections that fit
    /// beneath it: an idle flood must never leave the service without a descriptor.
    static func connectionCapacity() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 900 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let usable = Int(clamping: limit.rlim_cur) - reservedDescriptors
        return max(16, min(usable, 60_000))
    }

    func run() async throws {
        let config = try common.configuration()
        guard let tokenFile = config.cluster.tokenFile else {
            throw ConfigError(
                section: "cluster",
                option: "token_file",
                message: "the service needs a bearer token: set --token-file or [cluster] token_file"
            )
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
                    privateKey: .privateKey(try NIOSSLPrivateKey(file: tlsKey, format: .pem))
                )
            } catch {
                throw ConfigError(option: "--tls-cert/--tls-key", message: "cannot load the certificate or key: \(error)")
            }
        }
        let address = try address()
        let (host, port) = (address.host, address.port)
        // Never more connections than descriptors: an explicit --max-connections is capped too.
        let capacity = Self.connectionCapacity()
        if let maxConnections, maxConnections > capacity {
            logger.warning("--max-connections \(maxConnections) is more than the open-files limit allows; serving at most \(capacity)")
        }
        let limits = CatalogService.Limits(idleTimeout: .seconds(idleTimeout), maxConnections: min(maxConnections ?? capacity, capacity))
        if tls == nil, !address.isLoopback {
            logger.warning("serving plain HTTP off loopback (--insecure-http): the bearer token travels in clear")
        }
        logger.info("connection limits", metadata: ["idle_timeout_s": "\(idleTimeout)", "max_connections": "\(limits.maxConnections)"])
        let service = CatalogService(
            catalog: catalog,
            token: token,
            maxBodyBytes: maxBodyBytes,
            limits: limits,
            logger: logger,
            status: { [scrubTime = config.scrubTime, store = config.stores.defaultBackend] in
                try await catalog.status(scrubTime: scrubTime, failureLimit: 100).namingStores(default: store)
            }
        )
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
