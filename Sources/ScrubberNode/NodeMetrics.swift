import Metrics
import ScrubberCore
import Synchronization

/// What a node reports through swift-metrics. A no-op until the process bootstraps a backend
/// (`run --metrics-listen` bootstraps Prometheus); handles are made once and reused.
///
/// Names are Prometheus's conventions: `_total` counters, `_seconds` durations. Store labels
/// are the configured backend names; any other name a location's `meta_data` gives is
/// reported as `unknown`, so bad input cannot grow the label set.
final class NodeMetrics: Sendable {
    let claimed = Counter(label: "scrubber_claimed_images_total")
    let inFlight = Meter(label: "scrubber_deletes_in_flight")
    let membershipRenewFailures = Counter(label: "scrubber_lease_renew_failures_total", dimensions: [("lease", "membership")])
    let leaderRenewFailures = Counter(label: "scrubber_lease_renew_failures_total", dimensions: [("lease", "leader")])
    private let imagesDeleted = Counter(label: "scrubber_images_total", dimensions: [("outcome", "deleted")])
    private let imagesFailed = Counter(label: "scrubber_images_total", dimensions: [("outcome", "failed")])
    private let isLeader = Gauge(label: "scrubber_is_leader")
    private let leaderTerm = Gauge(label: "scrubber_leader_term")
    private let isReady = Gauge(label: "scrubber_node_ready")
    private let stores: [String: StoreMetrics]
    private let unknownStore: StoreMetrics

    /// One store's handles.
    struct StoreMetrics: Sendable {
        let deleted: Counter
        let notFound: Counter
        let failed: Counter
        let bytes: Counter
        let latency: Timer

        init(_ store: String) {
            func locations(_ outcome: String) -> Counter {
                Counter(label: "scrubber_locations_total", dimensions: [("store", store), ("outcome", outcome)])
            }
            deleted = locations("deleted")
            notFound = locations("not_found")
            failed = locations("failed")
            bytes = Counter(label: "scrubber_deleted_bytes_total", dimensions: [("store", store)])
            latency = Timer(label: "scrubber_delete_duration_seconds", dimensions: [("store", store)])
        }
    }

    init(stores names: [String]) {
        stores = Dictionary(names.map { ($0, StoreMetrics($0)) }, uniquingKeysWith: { a, _ in a })
        unknownStore = StoreMetrics("unknown")
        // Present from the first scrape, before anything happened.
        for metrics in stores.values {
            for counter in [metrics.deleted, metrics.notFound, metrics.failed, metrics.bytes] { counter.increment(by: 0) }
        }
        for counter in [claimed, membershipRenewFailures, leaderRenewFailures, imagesDeleted, imagesFailed] { counter.increment(by: 0) }
        inFlight.set(0)
        leadership(term: nil)
        ready(false)
    }

    /// Records one location's delete: its outcome, the bytes it reclaimed and how long it took.
    func record(_ result: LocationResult, duration: Duration) {
        let metrics = result.store.flatMap { stores[$0] } ?? unknownStore
        switch result.outcome {
        case .deleted: metrics.deleted.increment()
        case .notFound: metrics.notFound.increment()
        case .failed: metrics.failed.increment()
        }
        if let bytes = result.bytes, bytes > 0 { metrics.bytes.increment(by: bytes) }
        metrics.latency.recordNanoseconds(duration.nanoseconds)
    }

    /// Records a committed completion batch.
    func completed(imagesDeleted deleted: Int, imagesFailed failed: Int) {
        if deleted > 0 { imagesDeleted.increment(by: deleted) }
        if failed > 0 { imagesFailed.increment(by: failed) }
    }

    func leadership(term: Int64?) {
        isLeader.record(term == nil ? 0 : 1)
        // The term this node leads under; 0 while it follows.
        leaderTerm.record(term ?? 0)
    }

    func ready(_ ready: Bool) {
        isReady.record(ready ? 1 : 0)
    }
}
