import Crypto
import Foundation
import TestSupport
import Testing

/// `run --once --dry-run` lists what would be deleted and changes nothing at all.
@Suite(.tags(.spawnsProcesses)) struct DryRunTests {
    @Test func aDryRunListsTheBacklogAndLeavesCatalogAndFilesByteIdentical() async throws {
        let ws = try Workspace()
        let root = ws.directory + "/images"
        let outside = ws.directory + "/outside"
        let config = try ws.write(
            "d.conf",
            """
            [DEFAULT]
            scrub_time = 60
            [database]
            connection = sqlite:///glance.sqlite
            [glance_store]
            filesystem_store_datadir = \(root)
            """
        )
        let pending = try await ws.seed(["--store", root, "--images", "5", "--locations", "2"], config: config, idsFile: "p")
        let missing = try await ws.seed(["--store", root, "--images", "1", "--bytes", "0"], config: config, idsFile: "m")
        let escaping = try await ws.seed(["--store", outside, "--images", "1"], config: config, idsFile: "e")
        let waiting = try await ws.seed(["--store", root, "--images", "2", "--deleted-ago", "5"], config: config, idsFile: "w")
        let before = try snapshot(ws)

        let result = try await CLI.run(["run", "--once", "--dry-run", "--config-file", config], in: ws.directory)

        #expect(result.status == 0, "\(result.stderr)")
        #expect(try snapshot(ws) == before, "the catalog and every file must be byte-identical")
        for id in pending { #expect(result.stdout.contains("\(id)\t"), "\(id) missing from the listing") }
        #expect(result.stdout.components(separatedBy: "would delete").count - 1 == 10)
        #expect(result.stdout.contains("\(missing[0])\t") && result.stdout.contains("already gone"))
        #expect(result.stdout.contains("\(escaping[0])\t") && result.stdout.contains("outside the store roots"))
        for id in waiting { #expect(!result.stdout.contains(id), "inside scrub_time: not listed") }
        // The bytes it would free: Glance's `images.size` (1 KiB each here) of every location it would delete.
        #expect(
            result.stdout.contains(
                """
                dry run: 7 eligible images; 10 locations would be deleted, freeing 10.0 KiB (10240 bytes); 1 already gone, 1 would fail; \
                nothing was changed
                """
            ),
            "\(result.stdout)"
        )
    }

    /// SHA-256 of the database file and of every file under the workspace's image directories.
    private func snapshot(_ ws: Workspace) throws -> [String: String] {
        var result: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: ws.directory)
        while let name = enumerator?.nextObject() as? String {
            guard name == "glance.sqlite" || name.hasPrefix("images/") || name.hasPrefix("outside/") else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: ws.directory + "/" + name))
            result[name] = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        }
        return result
    }
}
