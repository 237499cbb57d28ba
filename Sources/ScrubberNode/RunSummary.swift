import ScrubberCore

/// What a node did, for the result line, progress and the `--once` exit code.
public struct RunSummary: Sendable, Hashable {
    public var imagesDeleted = 0
    public var locationsDeleted = 0
    /// Images whose scrub failed in this run and that still stand failed (a later success in
    /// the same run removes them).
    public var failedImages: Set<String> = []
    /// Failure messages, by image, for the run's report.
    public var lastErrors: [String: String] = [:]
    public var claimsLost = 0
    /// From each image's claim (the claim transaction returned) to its completion (the
    /// completion transaction committed), for every image recorded.
    public var latency = LatencyHistogram()

    public init() {}

    mutating func record(_ report: CompletionReport, batch: [ScrubOutcome]) {
        imagesDeleted += report.imagesDeleted.count
        locationsDeleted += report.locationsDeleted
        claimsLost += report.claimsLost.count
        for id in report.imagesDeleted {
            failedImages.remove(id)
            lastErrors[id] = nil
        }
        let failed = Set(report.imagesFailed)
        for outcome in batch where failed.contains(outcome.imageID) {
            failedImages.insert(outcome.imageID)
            lastErrors[outcome.imageID] = outcome.firstError
        }
    }
}
