import Foundation
import GRDB
import TestSupport
import Testing

/// The done-when of the object stores: a catalog whose data glance_store itself wrote (5.7.0
/// from PyPI, the glance-api.conf below, Keystone v3 through the SAIO's stand-in) is scrubbed
/// by `scrubber run --once` reading the same file. Every eligible image's object goes with all
/// its segments or parts; everything else is still there, byte for byte, as glance_store reads it.
@Suite(.serialized, .tags(.startsServers, .spawnsProcesses)) struct GlanceStoreScrubTests {
    @Test func runOnceDeletesWhatGlanceStoreWroteAndNothingElse() async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        let ws = try Workspace()
        try ws.write(
            "glance-swift.conf",
            """
            [ref1]
            user = \(SwiftTestServer.glance.user)
            key = "\(SwiftTestServer.glance.key)"
            auth_address = \(server.keystoneURL)
            """
        )
        // One file for glance_store and for the scrubber, as an operator points both at glance-api.conf.
        let config = try ws.write(
            "glance-api.conf",
            """
            [DEFAULT]
            enabled_backends = swift1:swift, s3a:s3
            scrub_time = 300
            scrub_pool_size = 4

            [database]
            connection = sqlite:///glance.sqlite

            [glance_store]
            default_backend = swift1

            [swift1]
            swift_store_config_file = glance-swift.conf
            default_swift_reference = ref1
            swift_store_container = glance
            swift_store_create_container_on_put = True
            swift_store_multiple_containers_seed = 2
            # glance_store's MB is 1,024,000 bytes: a 1 MB object limit and 1 MB segments.
            swift_store_large_object_size = 1
            swift_store_large_object_chunk_size = 1

            [s3a]
            s3_store_host = \(server.proxyURL)
            s3_store_access_key = \(SwiftTestServer.s3.accessKey)
            s3_store_secret_key = \(SwiftTestServer.s3.secretKey)
            s3_store_bucket = images
            s3_store_create_bucket_on_put = True
            s3_store_bucket_url_format = path
            # Multipart from 5 MiB, in 5 MiB parts (S3's smallest).
            s3_store_large_object_size = 5
            s3_store_large_object_chunk_size = 5
            """
        )
        // Glance's rows: eligible, not yet eligible (deleted 10 s ago), and active images.
        func seed(_ count: Int, _ extra: [String]) async throws -> [String] {
            try await ws.seed(
                ["--store", ws.directory + "/unused", "--images", "\(count)", "--bytes", "0"] + extra,
                config: config,
                idsFile: "ids"
            )
        }
        let eligible = try await seed(8, [])
        let waiting = try await seed(2, ["--deleted-ago", "10"])
        let active = try await seed(2, ["--status", "active"])
        // Plain objects, dynamic large objects (uploads of unknown size), a multipart upload; one
        // eligible Swift image already gone.
        var images: [GlanceStorePeer.Image] = []
        for (index, id) in (eligible + waiting + active).enumerated() {
            switch index % 4 {
            case 0: images.append(.init(id: id, backend: "swift1", bytes: 4_000))
            case 1: images.append(.init(id: id, backend: "swift1", bytes: 2_500_000, sizeKnown: false))
            case 2: images.append(.init(id: id, backend: "s3a", bytes: 3_000))
            default: images.append(.init(id: id, backend: "s3a", bytes: 11 << 20))
            }
        }
        let written = try await GlanceStorePeer.add(images, config: config)
        #expect(written.count == images.count)
        try await ws.queue().write { db in
            for image in written {
                try db.execute(sql: "UPDATE images SET size = ? WHERE id = ?", arguments: [image.size, image.id])
                let metadata = String(decoding: try JSONEncoder().encode(image.metadata), as: UTF8.self)
                try db.execute(
                    sql: "UPDATE image_locations SET value = ?, meta_data = ? WHERE image_id = ?",
                    arguments: [image.url, metadata, image.id]
                )
            }
        }
        let gone = try #require(written.first { $0.url.hasPrefix("swift+config://") && $0.id == eligible[0] })
        try await Self.deleteWithGlanceStore(gone, server: server)

        let swiftBefore = try await server.everything(as: SwiftTestServer.glance)
        let s3Before = try await server.everything(as: SwiftTestServer.s3User)
        #expect(swiftBefore.values.joined().contains { $0.hasPrefix(eligible[1] + "-0000") }, "glance_store wrote DLO segments")
        #expect(s3Before["images+segments"]?.contains { $0.hasPrefix(eligible[3] + "/") } == true, "and a multipart upload")

        let result = try await CLI.run(["run", "--once", "--config-file", config], in: ws.directory)

        #expect(result.status == 0, "stderr: \(result.stderr)")
        for id in eligible { #expect(try ws.status(id) == "deleted", "\(id)") }
        for id in waiting { #expect(try ws.status(id) == "pending_delete") }
        for id in active { #expect(try ws.status(id) == "active") }
        // Exactly the eligible images' objects, segments and parts are gone from every container.
        func without(_ listing: [String: [String]]) -> [String: [String]] {
            listing.mapValues { names in names.filter { name in !eligible.contains { name.hasPrefix($0) } } }
        }
        #expect(try await server.everything(as: SwiftTestServer.glance) == without(swiftBefore))
        let s3After = try await server.everything(as: SwiftTestServer.s3User)
        #expect(s3After == without(s3Before))
        // What stays reads back byte for byte through glance_store; what went does not.
        let kept = written.filter { !eligible.contains($0.id) }
        let digests = try await GlanceStorePeer.read(kept.map { ($0.url, $0.metadata["store"] ?? "") }, config: config)
        for image in kept { #expect(digests[image.url] == .some(image.sha512), "\(image.id) is intact") }
        let went = written.filter { eligible.contains($0.id) }
        let after = try await GlanceStorePeer.read(went.map { ($0.url, $0.metadata["store"] ?? "") }, config: config)
        for image in went { #expect(after[image.url] == .some(nil), "\(image.id) cannot be read any more") }
    }

    /// Deletes one image's data as glance-api would (through Swift's API), before the run.
    static func deleteWithGlanceStore(_ image: GlanceStorePeer.Written, server: SwiftTestServer) async throws {
        let container = image.url.split(separator: "/").dropLast().last.map(String.init) ?? ""
        let names = try await server.list(container, as: SwiftTestServer.glance).filter { $0.hasPrefix(image.id) }
        try await server.remove(names, from: container, as: SwiftTestServer.glance)
    }
}
