import Logging
import Metrics
import ScrubberCore
import ServiceLifecycle

/// Samples the cluster's backlog into gauges every `interval`: `scrubber_backlog_images` by
/// state (`eligible`: past `scrub_time`; `waiting`: still inside it; `failing`: pending with a
/// failed attempt) and the age of the oldest eligible image. One count of the backlog per
/// interval per node, so not on every scrape.
public struct BacklogGauges: Service {
    let catalog: any ScrubCatalog
    let scrubTime: Double
    let interval: Duration
    let logger: Logger
    private let eligible = Gauge(label: "scrubber_backlog_images", dimensions: [("state", "eligible")])
    private let waiting = Gauge(label: "scrubber_backlog_images", dimensions: [("state", "waiting")])
    private let failing = Gauge(label: "scrubber_backlog_images", dimensions: [("state", "failing")])
    private let oldest = Gauge(label: "scrubber_backlog_oldest_eligible_age_seconds")

    public init(catalog: any ScrubCatalog, scrubTime: Double, interval: Duration = .seconds(15), logger: Logger) {
        self.catalog = catalog
        self.scrubTime = scrubTime
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                var failures = 0
                while true {
                    do {
                        let backlog = try await catalog.backlog(scrubTime: scrubTime, failureLimit: 0)
                        eligible.record(backlog.eligible)
                        waiting.record(backlog.waiting)
                        failing.record(backlog.failing)
                        oldest.record(backlog.oldestAgeSeconds ?? 0)
                        failures = 0
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        // Once, then every 20th: the node's own loops report outages already.
                        if failures % 20 == 0 { logger.warning("counting the backlog for metrics failed: \(error)") }
                        failures += 1
                    }
                    try await Task.sleep(for: interval)
                }
            }
        } catch is CancellationError {}
    }
}
