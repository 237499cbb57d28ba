import Foundation
import Logging
import ScrubberCore
import ScrubberNode
import ScrubberStores
import TestSupport
import Testing

@Suite struct DaemonTests {
    @Test func aDaemonPicksUpImagesThatBecomeEligibleWhileItRuns() async throws {
        let box = try await Sandbox()
        var config = box.configuration()
        config.cluster.nodeID = "daemon"
        config.cluster.idlePollInterval = 0.2
        let router = try StoreRouter(configuration: config.stores, encryptionKey: nil)
        let node = ScrubNode(
            catalog: box.catalog,
            router: router,
            options: NodeOptions(configuration: config, once: false, version: "t"),
            logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
        )
        let running = Task { try await node.run() }
        defer { running.cancel() }

        for round in 0..<3 {
            let images = try await box.seed(20) { $0.namePrefix = "round-\(round)" }
            try await eventually("round \(round) scrubbed") {
                try box.count("SELECT count(*) FROM images WHERE status = 'pending_delete'") == 0
            }
            for image in images { #expect(try box.status(of: image.id) == "deleted") }
        }
        #expect(try box.row("SELECT state FROM scrub_nodes WHERE node_id = 'daemon'")?[0] as String? == "active")
    }
}
