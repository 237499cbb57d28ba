import Foundation
import ScrubberCore

/// What `run --report-file` writes: one node's totals and its claim-to-completion latencies
/// (the histogram, so `bench` can merge the nodes' exactly).
public struct RunReport: Codable, Sendable {
    public var nodeID: String
    public var imagesDeleted: Int
    public var locationsDeleted: Int
    public var imagesFailed: Int
    public var claimsLost: Int
    public var seconds: Double
    public var latencyP50: Double?
    public var latencyP99: Double?
    public var latency: LatencyHistogram
    /// This process's peak resident set (`VmHWM`), bytes; nil where /proc is missing.
    public var peakRSS: Int?

    enum CodingKeys: String, CodingKey {
        case nodeID = "node_id"
        case imagesDeleted = "images_deleted"
        case locationsDeleted = "locations_deleted"
        case imagesFailed = "images_failed"
        case claimsLost = "claims_lost"
        case seconds
        case latencyP50 = "latency_p50_s"
        case latencyP99 = "latency_p99_s"
        case latency
        case peakRSS = "peak_rss_bytes"
    }

    public init(nodeID: String, summary: RunSummary, seconds: Double) {
        self.nodeID = nodeID
        imagesDeleted = summary.imagesDeleted
        locationsDeleted = summary.locationsDeleted
        imagesFailed = summary.failedImages.count
        claimsLost = summary.claimsLost
        self.seconds = seconds
        latencyP50 = summary.latency.quantile(0.5)
        latencyP99 = summary.latency.quantile(0.99)
        latency = summary.latency
        peakRSS = Self.peakResidentSet()
    }

    /// `VmHWM` of /proc/self/status: the peak of this program only. (`getrusage`'s `ru_maxrss`
    /// would not do: Linux carries it over `exec`, so a node started by a large parent reports
    /// the parent's size at the fork.)
    public static func peakResidentSet() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kB = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kB * 1024
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }
}
