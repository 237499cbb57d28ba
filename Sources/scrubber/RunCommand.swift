import ArgumentParser
import Foundation
import Logging
import ScrubberCore
import ScrubberNode
import ScrubberTelemetry
import ServiceLifecycle

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Scrub eligible images: once (cron) or as a daemon.",
        discussion: """
            --once exits 0 when every eligible image ended deleted, 3 when some failed (they stay \
            pending_delete with their error and a retry time). --daemon runs until SIGTERM/SIGINT, \
            then finishes in-flight deletes, hands back unstarted work and exits 0.
            """
    )

    @OptionGroup var common: CommonOptions

    @Flag(help: "Scrub everything eligible, then exit.") var once = false
    @Flag(help: "Keep running, waking at least every wakeup_time seconds.") var daemon = false

    @Option(name: .customLong("node-id"), help: "This node's id in the cluster (default HOST-PID); overrides [cluster] node_id.")
    var nodeID: String?

    @Flag(name: .customLong("no-lead"), help: "Never lead (same as [cluster] leader_eligible = false).")
    var noLead = false

    @Option(
        name: .customLong("leader-priority"),
        help: "Lead in preference to live nodes of a lower priority; overrides [cluster] leader_priority (default 0)."
    )
    var leaderPriority: Int?

    @Flag(
        name: .customLong("dry-run"),
        help: "With --once: list what would be deleted (image, location, store, URL) and change nothing at all."
    )
    var dryRun = false

    @Option(name: .customLong("pool-size"), help: "Deletes in flight at most; overrides scrub_pool_size.")
    var poolSize: Int?

    @Option(name: .customLong("scrub-time"), help: "Seconds after deleted_at before an image may be scrubbed; overrides scrub_time.")
    var scrubTime: Double?

    @Option(
        name: .customLong("metrics-listen"),
        help: """
            HOST:PORT to serve Prometheus /metrics, /healthz, /readyz and the read-only status page (/, /status.json: image ids, \
            errors, hosts) on (port 0: any free port, logged; none: off); overrides [cluster] metrics_listen.
            """
    )
    var metricsListen: String?

    @Option(name: .customLong("report-file"), help: "At exit, write this run's totals and claim-to-completion latencies here as JSON.")
    var reportFile: String?

    @Flag(
        inversion: .prefixedNo,
        help:
            "With --once: show done/total, rate and ETA on one updating line of stderr (default: when stderr is a terminal and logs are text)."
    )
    var progress: Bool?

    func validate() throws {
        if once && daemon { throw ValidationError("--once and --daemon exclude each other") }
        if dryRun && !once { throw ValidationError("--dry-run needs --once") }
        if let poolSize, poolSize < 1 { throw ValidationError("--pool-size must be at least 1") }
        if let scrubTime, scrubTime < 0 { throw ValidationError("--scrub-time must not be negative") }
        if let leaderPriority, abs(leaderPriority) > 1_000_000 {
            throw ValidationError("--leader-priority must be from -1000000 to 1000000")
        }
        if let metricsListen, metricsListen != "none", ListenAddress(parsing: metricsListen) == nil {
            throw ValidationError("--metrics-listen must be HOST:PORT, got \(metricsListen)")
        }
        if progress == true && daemon { throw ValidationError("--progress needs a one-shot run (--once)") }
        if progress == true && common.logFormat == .json {
            throw ValidationError("--progress would put its line among the JSON log lines on stderr; use --log-format text")
        }
    }

    func run() async throws {
        let config = try common.configuration { config in
            if let nodeID { config.cluster.nodeID = nodeID }
            if noLead { config.cluster.leaderEligible = false }
            if let leaderPriority { config.cluster.leaderPriority = leaderPriority }
            if let poolSize { config.poolSize = poolSize }
            if let scrubTime { config.scrubTime = scrubTime }
            if let metricsListen { config.cluster.metricsListen = metricsListen == "none" ? nil : ListenAddress(parsing: metricsListen) }
        }
        // Like upstream: without a flag, [DEFAULT] daemon decides.
        let asDaemon = daemon || (!once && config.daemon)
        let logger = common.makeLogger()
        if dryRun { return try await DryRun(config: config, logger: logger).run() }
        let catalog = try await openCoordination(config, logger: logger)
        let router = try makeRouter(config)
        // Before the node makes its metric handles: they bind to the backend bootstrapped then.
        let registry = config.cluster.metricsListen.map { _ in MetricsEndpoint.bootstrap() }
        let options = NodeOptions(configuration: config, once: !asDaemon, version: Scrubber.version)
        let started = ContinuousClock.now
        let node = ScrubNode(catalog: catalog, router: router, options: options, logger: logger)
        // One ServiceGroup for the process. It starts the services in this order and, on SIGTERM
        // or SIGINT (or when `--once` is done), stops them in reverse: the leader loop, the
        // election (resigning), the workers (finishing in-flight deletes, handing back the
        // rest), membership (leaving), then the backlog gauges and the listener, so the probes
        // answer until the node has left.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let address = config.cluster.metricsListen, let registry {
            let app = MetricsEndpoint.application(
                host: address.host,
                port: address.port,
                registry: registry,
                logger: logger,
                sample: { node.sampleGauges() },
                ready: { node.isReady },
                status: { [scrubTime = config.scrubTime, store = config.stores.defaultBackend] in
                    try await catalog.status(scrubTime: scrubTime, failureLimit: 100).namingStores(default: store)
                },
                onListening: { port in logger.notice("metrics listening on http://\(ListenAddress(host: address.host, port: port))") }
            )
            services.append(.init(service: app))
            services.append(
                .init(
                    service: BacklogGauges(
                        catalog: catalog,
                        scrubTime: config.scrubTime,
                        defaultStore: config.stores.defaultBackend,
                        logger: logger
                    )
                )
            )
        }
        // Membership, workers, election, leader loop; each shuts the group down when it returns.
        services += node.services
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        // Cosmetic: a run whose first count fails runs without it.
        let progress =
            showsProgress(once: !asDaemon) ? try? await RunProgress(catalog: catalog, scrubTime: config.scrubTime, node: node) : nil
        let ticker = progress.map { progress in Task { await progress.run() } }
        do {
            try await group.run()
        } catch {
            ticker?.cancel()
            await ticker?.value
            StandardError.shared.endProgress()
            throw error
        }
        if let ticker, let progress {
            ticker.cancel()
            await ticker.value
            await progress.finish()
        }

        let summary = node.summary
        let seconds = (ContinuousClock.now - started).seconds
        let rate = seconds > 0 ? Double(summary.imagesDeleted) / seconds : 0
        if let reportFile {
            let report = RunReport(nodeID: options.nodeID, summary: summary, seconds: seconds)
            do {
                try report.encoded().write(to: URL(fileURLWithPath: reportFile))
            } catch {
                logger.error("cannot write the run report to \(reportFile): \(error)")
            }
        }
        logger.info(
            "run finished",
            metadata: [
                "images_deleted": "\(summary.imagesDeleted)", "locations_deleted": "\(summary.locationsDeleted)",
                "images_failed": "\(summary.failedImages.count)", "seconds": "\(String(format: "%.2f", seconds))",
                "images_per_second": "\(String(format: "%.1f", rate))",
                "latency_p50_s": "\(summary.latency.quantile(0.5).map { String(format: "%.4f", $0) } ?? "-")",
                "latency_p99_s": "\(summary.latency.quantile(0.99).map { String(format: "%.4f", $0) } ?? "-")",
            ]
        )
        // A one-shot run ends early on a paused cluster or a drained node: say so, not just "finished".
        if !asDaemon, let status = try? await catalog.status(scrubTime: config.scrubTime, failureLimit: 0) {
            let drainedBy = status.nodes.first { $0.nodeID == options.nodeID }?.drainedBy
            if let paused = status.paused {
                logger.notice(
                    "the cluster is paused since \(paused.sinceText) by \(paused.by): \(status.backlog.eligible) eligible images left for after scrubber resume"
                )
            } else if let drainedBy {
                logger.notice(
                    "node \(options.nodeID) is drained by \(drainedBy): it took no new work; \(status.backlog.eligible) eligible images left to the other nodes"
                )
            }
        }
        if !asDaemon && !summary.failedImages.isEmpty {
            for id in summary.failedImages.sorted().prefix(20) {
                logger.error("image \(id) stays pending_delete: \(summary.lastErrors[id] ?? "failed")")
            }
            throw ExitStatus.imagesFailed
        }
    }
}

extension RunCommand {
    /// `--progress` forces the line on, `--no-progress` off; otherwise a one-shot run shows it
    /// when stderr is a terminal and the logs are text.
    func showsProgress(once: Bool) -> Bool {
        guard once, !dryRun else { return false }
        return progress ?? (isatty(STDERR_FILENO) == 1 && common.logFormat == .text)
    }
}
