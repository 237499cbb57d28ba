import Foundation
import GRDB
import TestSupport
import Testing

/// The done-when of the RBD store: a multi-store catalog of `file` and `rbd` locations, written
/// as glance-api writes them (RBD images made with glance_store's librbd calls: create, snapshot
/// `snap`, protect; locations `rbd://FSID/POOL/ID/snap` with `{"store": "ceph1"}`), scrubbed by
/// `scrubber run --once` against a real Ceph, connected as `client.glance` (`profile rbd`).
@Suite(.serialized, .tags(.startsServers, .spawnsProcesses)) struct RBDScrubTests {
    @Test func runOnceDeletesWhatIsFreeKeepsWhatClonesPinAndNamesThem() async throws {
        let ceph = try await CephTestServer.start()
        defer { ceph.destroy() }
        let ws = try Workspace()
        let files = ws.directory + "/images"
        let config = try ws.write(
            "glance-api.conf",
            """
            [DEFAULT]
            enabled_backends = fast:file, ceph1:rbd
            scrub_time = 300

            [database]
            connection = sqlite:///glance.sqlite

            [glance_store]
            default_backend = fast

            [fast]
            filesystem_store_datadir = \(files)

            [ceph1]
            rbd_store_pool = images
            rbd_store_user = \(CephTestServer.glanceUser)
            rbd_store_ceph_conf = \(ceph.conf)
            rados_connect_timeout = 10
            """
        )
        func seed(_ count: Int, _ extra: [String]) async throws -> [String] {
            try await ws.seed(["--store", files, "--images", "\(count)"] + extra, config: config, idsFile: "ids")
        }
        let fileImages = try await seed(3, ["--store-id", "fast"])
        let pending = try await seed(5, ["--store-id", "ceph1", "--bytes", "0"])
        let pinned = try await seed(2, ["--store-id", "ceph1", "--bytes", "0"])
        let active = try await seed(2, ["--store-id", "ceph1", "--bytes", "0", "--status", "active"])
        let waiting = try await seed(2, ["--store-id", "ceph1", "--bytes", "0", "--deleted-ago", "10"])
        let onCeph = pending + pinned + active + waiting
        try await ws.queue().write { db in
            for id in onCeph {
                try db.execute(
                    sql: "UPDATE image_locations SET value = ? WHERE image_id = ?",
                    arguments: ["rbd://\(ceph.fsid)/images/\(id)/snap", id]
                )
            }
        }
        for id in onCeph { try await ceph.glanceImage(id) }
        // Nova's boot-from-image: a clone of the snapshot in vms pins each pinned image.
        for id in pinned { try await ceph.rbd(["clone", "images/\(id)@snap", "vms/\(id)_disk"]) }

        let result = try await CLI.run(["run", "--once", "--config-file", config], in: ws.directory)

        #expect(result.status == 3, "some images are in use: exit 3. stderr: \(result.stderr)")
        for id in fileImages + pending { #expect(try ws.status(id) == "deleted", "\(id)") }
        for id in pinned + waiting { #expect(try ws.status(id) == "pending_delete") }
        for id in active { #expect(try ws.status(id) == "active") }
        for id in fileImages { #expect(!FileManager.default.fileExists(atPath: files + "/" + id)) }
        #expect(try await ceph.images(in: "images") == (pinned + active + waiting).sorted(), "exactly the free eligible images are gone")
        for id in pinned + active + waiting { #expect(try await ceph.snapshots(of: id) == ["snap"]) }
        #expect(try await ceph.images(in: "vms") == pinned.map { "\($0)_disk" }.sorted(), "the clones are untouched")
        for id in pinned {
            let error = try await ws.queue().read {
                try String.fetchOne($0, sql: "SELECT last_error FROM scrub_assignments WHERE image_id = ?", arguments: [id])
            }
            #expect(
                error == "in_use: rbd image images/\(id) on ceph1 is in use (its snapshot snap has clones: vms/\(id)_disk); not deleted"
            )
        }
        // status names the pinning clones too, under their class, and so does its JSON.
        let status = try await CLI.run(["status", "--config-file", config], in: ws.directory)
        for id in pinned { #expect(status.stdout.contains("vms/\(id)_disk"), "\(status.stdout)") }
        #expect(status.stdout.contains("failing, in_use: 2 image(s) (ceph1 2)"), "\(status.stdout)")
        let json = try await CLI.run(["status", "--json", "--config-file", config], in: ws.directory)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let failures = try #require(object["failures"] as? [[String: Any]])
        for id in pinned {
            let failure = try #require(failures.first { $0["image_id"] as? String == id })
            #expect(failure["class"] as? String == "in_use" && failure["store"] as? String == "ceph1")
            #expect(failure["dependents"] as? [String] == ["vms/\(id)_disk"])
        }
        let groups = try #require(object["failing_by_class"] as? [[String: Any]])
        #expect(groups.count == 1 && groups.first?["class"] as? String == "in_use" && groups.first?["images"] as? Int == 2)
        #expect(try ws.count("SELECT count(*) FROM scrub_events WHERE action = 'failed' AND failure_class = 'in_use'") == 2)
    }
}
