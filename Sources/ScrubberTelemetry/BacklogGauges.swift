import Logging
import Metrics
import ScrubberCore
import ServiceLifecycle
import Synchronization

/// Samples the cluster's state into gauges every `interval`, from one
/// ``ScrubCatalog/status(scrubTime:failureLimit:)`` per interval per node (not one per scrape):
/// - `scrubber_backlog_images{state}`: `eligible` (past `scrub_time`), `waiting` (still inside
///   it), `failing` (pending with a failed attempt); `scrubber_backlog_oldest_eligible_age_seconds`;
/// - `scrubber_backlog_store_images{store}` and `scrubber_backlog_bytes{store}`: the eligible
///   backlog per store, with Glance's `images.size`;
/// - `scrubber_images_failing{class,store}`: failing images by class (``FailureClass``);
/// - `scrubber_paused`: 1 while an operator has paused the cluster.
///
/// A label set that disappears (a class no image fails with any more) is set to 0, not left at
/// its last value.
public struct BacklogGauges: Service {
    let catalog: any ScrubCatalog
    let scrubTime: Double
    let defaultStore: String
    let interval: Duration
    let logger: Logger
    private let eligible = Gauge(label: "scrubber_backlog_images", dimensions: [("state", "eligible")])
    private let waiting = Gauge(label: "scrubber_backlog_images", dimensions: [("state", "waiting")])
    private let failing = Gauge(label: "scrubber_backlog_images", dimensions: [("state", "failing")])
    private let oldest = Gauge(label: "scrubber_backlog_oldest_eligible_age_seconds")
    private let paused = Gauge(label: "scrubber_paused")
    private let labelled = LabelledGauges()

    public init(catalog: any ScrubCatalog, scrubTime: Double, defaultStore: String, interval: Duration = .seconds(15), logger: Logger) {
        self.catalog = catalog
        self.scrubTime = scrubTime
        self.defaultStore = defaultStore
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                var failures = 0
                while true {
                    do {
                        record(try await catalog.status(scrubTime: scrubTime, failureLimit: 0).namingStores(default: defaultStore))
                        failures = 0
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        // Once, then every 20th: the node's own loops report outages already.
                        if failures % 20 == 0 { logger.warning("reading the cluster's status for metrics failed: \(error)") }
                        failures += 1
                    }
                    try await Task.sleep(for: interval)
                }
            }
        } catch is CancellationError {}
    }

    func record(_ status: ClusterStatus) {
        let backlog = status.backlog
        eligible.record(backlog.eligible)
        waiting.record(backlog.waiting)
        failing.record(backlog.failing)
        oldest.record(backlog.oldestAgeSeconds ?? 0)
        paused.record(status.paused == nil ? 0 : 1)
        var values: [LabelledGauges.Key: Int64] = [:]
        for store in backlog.stores {
            let name = store.store ?? defaultStore
            values[.init(label: "scrubber_backlog_store_images", dimensions: [("store", name)]), default: 0] += Int64(store.images)
            values[.init(label: "scrubber_backlog_bytes", dimensions: [("store", name)]), default: 0] += store.bytes
        }
        for group in status.failingByClass {
            let key = LabelledGauges.Key(
                label: "scrubber_images_failing",
                dimensions: [("class", group.failureClass.rawValue), ("store", group.store ?? defaultStore)]
            )
            values[key, default: 0] += Int64(group.images)
        }
        labelled.record(values)
    }
}

/// Gauges whose label sets come and go: each recorded set is kept, and one missing from the
/// next sample is recorded as 0.
private final class LabelledGauges: Sendable {
    struct Key: Hashable, Sendable {
        var label: String
        var dimensions: [String]

        init(label: String, dimensions: [(String, String)]) {
            self.label = label
            self.dimensions = dimensions.flatMap { [$0.0, $0.1] }
        }

        var pairs: [(String, String)] { stride(from: 0, to: dimensions.count, by: 2).map { (dimensions[$0], dimensions[$0 + 1]) } }
    }

    private let known = Mutex<[Key: Gauge]>([:])

    func record(_ values: [Key: Int64]) {
        known.withLock { known in
            for (key, value) in values {
                let gauge = known[key] ?? Gauge(label: key.label, dimensions: key.pairs)
                known[key] = gauge
                gauge.record(value)
            }
            for (key, gauge) in known where values[key] == nil { gauge.record(0) }
        }
    }
}
