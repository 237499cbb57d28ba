import Foundation
import GRDB
import ScrubberCore
import ScrubberStores
import TestSupport
import Testing

/// A catalog whose locations are S3 objects, as glance-api's S3 store writes them
/// (`s3://HOST/BUCKET/IMAGE_ID`, `meta_data = {"store": NAME}`, ciphertext with
/// `metadata_encryption_key`), scrubbed by a node against a real S3 endpoint (the SAIO's
/// s3api): exactly the eligible images' objects disappear.
@Suite(.serialized, .tags(.startsServers, .spawnsProcesses)) struct S3ScrubTests {
    /// Multi-store (`meta_data.store` names the backend), encrypted or not; and legacy
    /// (`[glance_store] stores = file, s3`: no store in `meta_data`, the URL's scheme picks it).
    @Test(arguments: [(encrypted: false, legacy: false), (encrypted: true, legacy: false), (encrypted: false, legacy: true)])
    func aNodeDeletesExactlyTheEligibleImagesObjects(encrypted: Bool, legacy: Bool) async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        let box = try await Sandbox()
        let key = encrypted ? "0123456789abcdef0123456789abcdef" : nil
        let store = legacy ? nil : "objects"
        let pending = try await box.seed(6) {
            $0.storeID = store
            $0.fileBytes = 0
        }
        let active = try await box.seed(2) {
            $0.storeID = store
            $0.fileBytes = 0
            $0.status = .active
        }
        let notYet = try await box.seed(2) {
            $0.storeID = store
            $0.fileBytes = 0
            $0.deletedAgo = 10
        }
        let files = legacy ? try await box.seed(2) { $0.fileBytes = 10 } : []
        let all = pending + active + notYet
        // glance-api's URLs for them; one pending image's object is already gone.
        let cipher = try key.map(GlanceCipher.init(key:))
        try await box.queue().write { db in
            for image in all {
                let url = "s3://127.0.0.1:\(server.proxyPort)/images/\(image.id)"
                try db.execute(
                    sql: "UPDATE image_locations SET value = ? WHERE image_id = ?",
                    arguments: [try cipher?.encrypt(url) ?? url, image.id]
                )
            }
        }
        try await server.put(all.dropFirst().map(\.id) + ["unrelated"], in: "images", as: SwiftTestServer.s3User)

        var config = box.configuration(scrubTime: 60)
        config.metadataEncryptionKey = key
        var objects = BackendConfiguration(name: legacy ? "s3" : "objects", type: "s3")
        objects.s3.host = server.proxyURL
        objects.s3.accessKey = SwiftTestServer.s3.accessKey
        objects.s3.secretKey = SwiftTestServer.s3.secretKey
        if legacy {
            config.stores.backends.append(objects)  // beside the legacy file store; file is the default
        } else {
            config.stores.multiStore = true
            config.stores.backends = [objects]
            config.stores.defaultBackend = "objects"
        }
        let summary = try await box.runOnce(config)

        #expect(summary.imagesDeleted == pending.count + files.count, "\(summary.failedImages)")
        for image in files { #expect(!box.exists(image.paths[0]), "the legacy file store's images go too") }
        #expect(summary.failedImages.isEmpty)
        for image in pending { #expect(try box.status(of: image.id) == "deleted") }
        for image in active { #expect(try box.status(of: image.id) == "active") }
        for image in notYet { #expect(try box.status(of: image.id) == "pending_delete") }
        #expect(
            try await server.list("images", as: SwiftTestServer.s3User) == (active + notYet).map(\.id).sorted() + ["unrelated"],
            "exactly the eligible images' objects are gone"
        )
    }
}
