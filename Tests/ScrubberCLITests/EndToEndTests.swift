import Foundation
import GRDB
import TestSupport
import Testing

/// The real binary on a copy of Glance's own database, as an operator runs it from cron.
@Suite(.tags(.spawnsProcesses)) struct EndToEndTests {
    @Test func runOnceScrubsAThousandMixedImagesAndTouchesNothingElse() async throws {
        let ws = try Workspace()
        let fast = ws.directory + "/fast"
        let slow = ws.directory + "/slow"
        let config = try ws.write(
            "glance-scrubber.conf",
            """
            [DEFAULT]
            # as glance-scrubber.conf is written for upstream
            scrub_time = 300
            scrub_pool_size = 8
            wakeup_time = 10
            daemon = False
            enabled_backends = fast:file, slow:file
            unknown_option = ignored

            [database]
            connection = sqlite:///glance.sqlite

            [glance_store]
            default_backend = fast

            [fast]
            filesystem_store_datadir = \(fast)

            [slow]
            filesystem_store_datadirs = \(slow):100
            """
        )
        var pending: [String] = []
        pending += try await ws.seed(["--store", fast, "--images", "400"], config: config, idsFile: "pending")
        pending += try await ws.seed(["--store", fast, "--images", "150", "--locations", "3"], config: config, idsFile: "pending")
        pending += try await ws.seed(["--store", fast, "--images", "100", "--visibility", "community"], config: config, idsFile: "pending")
        pending += try await ws.seed(["--store", fast, "--images", "100", "--null-meta-data"], config: config, idsFile: "pending")
        pending += try await ws.seed(["--store", fast, "--images", "100", "--bytes", "0"], config: config, idsFile: "pending")
        pending += try await ws.seed(
            ["--store", slow, "--images", "150", "--store-id", "slow", "--visibility", "public"],
            config: config,
            idsFile: "pending"
        )
        let active = try await ws.seed(["--store", fast, "--images", "200", "--status", "active"], config: config, idsFile: "active")
        let waiting = try await ws.seed(
            ["--store", slow, "--images", "100", "--store-id", "slow", "--deleted-ago", "10"],
            config: config,
            idsFile: "waiting"
        )
        #expect(pending.count == 1000)
        let glanceSchema = try schema(ws)

        let result = try await CLI.run(["run", "--once", "--config-file", config], in: ws.directory)

        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try ws.count("SELECT count(*) FROM images WHERE status = 'deleted' AND deleted = 1") == 1000)
        #expect(
            try ws.count(
                "SELECT count(*) FROM image_locations l JOIN images i ON i.id = l.image_id WHERE i.status = 'deleted' AND (l.status != 'deleted' OR l.deleted != 1)"
            ) == 0
        )
        for id in pending {
            #expect(!FileManager.default.fileExists(atPath: fast + "/" + id) && !FileManager.default.fileExists(atPath: slow + "/" + id))
        }
        for id in active { #expect(FileManager.default.fileExists(atPath: fast + "/" + id)) }
        for id in waiting { #expect(FileManager.default.fileExists(atPath: slow + "/" + id)) }
        #expect(try ws.count("SELECT count(*) FROM images WHERE status = 'active'") == 200)
        #expect(try ws.count("SELECT count(*) FROM images WHERE status = 'pending_delete'") == 100)
        // Glance's tables keep their exact shape.
        #expect(try schema(ws) == glanceSchema)
    }

    private func schema(_ ws: Workspace) throws -> [String] {
        try ws.queue().read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT sql FROM sqlite_master WHERE tbl_name IN ('images', 'image_locations') AND sql IS NOT NULL ORDER BY name
                    """
            )
        }
    }

    @Test func runOnceExitsThreeAndKeepsFailedImagesPendingWithTheirError() async throws {
        let ws = try Workspace()
        let root = ws.directory + "/images"
        let outside = ws.directory + "/elsewhere"
        let config = try ws.write(
            "scrubber.conf",
            """
            [DEFAULT]
            scrub_pool_size = 4
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            filesystem_store_datadir = \(root)
            """
        )
        let good = try await ws.seed(["--store", root, "--images", "20"], config: config, idsFile: "good")
        let bad = try await ws.seed(["--store", outside, "--images", "2"], config: config, idsFile: "bad")

        let result = try await CLI.run(["run", "--once", "--config-file", config], in: ws.directory)

        #expect(result.status == 3)
        #expect(result.stderr.contains(bad[0]))
        #expect(result.stderr.contains("outside the store roots"))
        for id in good { #expect(try ws.status(id) == "deleted") }
        for id in bad {
            #expect(try ws.status(id) == "pending_delete")
            #expect(FileManager.default.fileExists(atPath: outside + "/" + id))
        }
        #expect(
            try ws.count("SELECT count(*) FROM scrub_assignments WHERE attempts = 1 AND last_error LIKE '%outside the store roots%'") == 2
        )
    }

    @Test func dbUpgradeIsIdempotentAndCreatesGlanceTablesOnlyWhenAbsent() async throws {
        let ws = try Workspace(copyFixture: false)
        let fresh = ws.directory + "/fresh.sqlite"
        for _ in 0..<2 {
            let result = try await CLI.run(["db", "upgrade", "--db", "sqlite:///" + fresh], in: ws.directory)
            #expect(result.status == 0, "stderr: \(result.stderr)")
        }
        let tables = try await DatabaseQueue(path: fresh).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        #expect(tables.contains("images"))
        #expect(tables.contains("image_locations"))
        #expect(tables.contains("scrub_assignments"))
        #expect(tables.contains("scrub_events"))
        #expect(tables.contains("scrub_nodes"))
        #expect(!tables.contains(where: { $0.hasPrefix("grdb") }))
    }
}
