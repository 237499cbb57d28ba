import Foundation
import ScrubberCore

/// Who this node is and how it runs.
public struct NodeOptions: Sendable {
    public var registration: NodeRegistration
    public var configuration: ScrubberConfiguration
    /// `--once`: scrub until the eligible backlog is empty, then leave. Otherwise a daemon.
    public var once: Bool

    public init(configuration: ScrubberConfiguration, once: Bool, version: String) {
        let host = ProcessInfo.processInfo.hostName
        let pid = Int(ProcessInfo.processInfo.processIdentifier)
        registration = NodeRegistration(
            nodeID: configuration.cluster.nodeID ?? "\(host)-\(pid)",
            host: host,
            pid: pid,
            version: version,
            capacity: configuration.poolSize,
            leaderEligible: configuration.cluster.leaderEligible,
            leaderPriority: configuration.cluster.leaderPriority
        )
        self.configuration = configuration
        self.once = once
    }

    public var nodeID: String { registration.nodeID }
}
