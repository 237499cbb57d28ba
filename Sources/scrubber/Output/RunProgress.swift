import Foundation
import ScrubberCore
import ScrubberNode
import Synchronization

/// The progress line of `run --once` on a terminal: images done out of the eligible backlog,
/// the rate over the last 10 s, and the time left at that rate, redrawn in place at most four
/// times a second.
///
/// The backlog is counted in the catalog (the cluster's, not only this node's): `total` is
/// the eligible count at the start, raised when images become eligible during the run (this
/// node's deletions plus what is still eligible exceed it); `done` is `total` minus what is
/// still eligible, so with several nodes it counts theirs too. Images that failed stay
/// eligible and are shown apart. A count scans the backlog, so it is taken at most every
/// 250 ms and no more often than every tenth of the time it takes.
final class RunProgress: Sendable {
    private let catalog: any ScrubCatalog
    private let scrubTime: Double
    private let node: ScrubNode

    private struct State {
        var total: Int
        var done = 0
        /// (when, done) over the last 10 s: the rate is that window's, so the ETA follows the
        /// current pace rather than the whole run's average.
        var samples: [(at: ContinuousClock.Instant, done: Int)] = [(.now, 0)]
    }

    private let state: Mutex<State>

    /// Counts the backlog once: the starting total.
    init(catalog: any ScrubCatalog, scrubTime: Double, node: ScrubNode) async throws {
        self.catalog = catalog
        self.scrubTime = scrubTime
        self.node = node
        let eligible = try await catalog.backlog(scrubTime: scrubTime, failureLimit: 0).eligible
        state = Mutex(State(total: eligible))
    }

    /// Redraws the line until cancelled.
    func run() async {
        while !Task.isCancelled {
            let took = await refresh()
            StandardError.shared.showProgress(line())
            let pause = min(max(.milliseconds(250), took * 10), .seconds(5))
            try? await Task.sleep(for: pause)
        }
    }

    /// Draws the final count and ends the line.
    func finish() async {
        _ = await refresh()
        StandardError.shared.showProgress(line())
        StandardError.shared.endProgress()
    }

    private func refresh() async -> Duration {
        let start = ContinuousClock.now
        guard let eligible = try? await catalog.backlog(scrubTime: scrubTime, failureLimit: 0).eligible else {
            return ContinuousClock.now - start
        }
        let deletedHere = node.summary.imagesDeleted
        state.withLock { state in
            state.total = max(state.total, deletedHere + eligible)
            state.done = max(state.done, state.total - eligible)
            let now = ContinuousClock.now
            state.samples.append((now, state.done))
            if let recent = state.samples.firstIndex(where: { now - $0.at <= .seconds(10) }), recent > 0 {
                state.samples.removeFirst(recent - 1)  // keep one sample older than the window
            }
        }
        return ContinuousClock.now - start
    }

    private func line() -> String {
        let (total, done, oldest) = state.withLock { ($0.total, $0.done, $0.samples[0]) }
        let failed = node.summary.failedImages.count
        let seconds = (ContinuousClock.now - oldest.at).seconds
        let rate = seconds > 0 ? Double(done - oldest.done) / seconds : 0
        let left = max(0, total - done - failed)
        var text = "scrubbed \(done)/\(total) images, \(String(format: "%.1f", rate))/s"
        if failed > 0 { text += ", \(failed) failed" }
        text += left == 0 ? ", done" : rate > 0 ? ", ETA \(Self.clock(Double(left) / rate))" : ", ETA -"
        return text
    }

    /// `m:ss`, or `h:mm:ss` from an hour.
    static func clock(_ seconds: Double) -> String {
        let whole = Int(min(seconds.rounded(.up), 359_999))
        let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }
}
