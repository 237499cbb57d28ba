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
    @Test(arguments: [false, true])
    func aNodeDeletesExactlyTheEligibleImagesObjects(encrypted: Bool) async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        let box = try await Sandbox()
        let key = encrypted ? "0123456789abcdef0123456789abcdef" : nil
        let pending = try await box.seed(6) { $0.storeID = "objects"; $0.fileBytes = 0 }
        let active = try await box.seed(2) { $0.storeID = "objects"; $0.fileBytes = 0; $0.status = .active }
        let notYet = try await box.seed(2) { $0.storeID = "objects"; $0.fileBytes = 0; $0.deletedAgo = 10 }
        let all = pending + active + notYet
        // glance-api's URLs for them; one pending image's object is already gone.
        let cipher = try key.map(GlanceCipher.init(key:))
        try await box.queue().write { db in
            for image in all {
                let url = "s3://127.0.0.1:\(server.proxyPort)/images/\(image.id)"
                try db.execute(sql: "UPDATE image_locations SET value = ? WHERE image_id = ?", arguments: [try cipher?.encrypt(url) ?? url, image.id])
            }
        }
        try await server.put(all.dropFirst().map(\.id) + ["unrelated"], in: "images", as: SwiftTestServer.s3User)

        var config = box.configuration(scrubTime: 60)
        config.metadataEncryptionKey = key
        var objects = BackendConfiguration(name: "objects", type: "s3")
        objects.s3.host = server.proxyURL
        objects.s3.accessKey = SwiftTestServer.s3.accessKey
        objects.s3.secretKey = SwiftTestServer.s3.secretKey
        config.stores.multiStore = true
        config.stores.backends = [objects]
        config.stores.defaultBackend = "objects"
        let summary = try await box.runOnce(config)

        #expect(summary.imagesDeleted == pending.count, "\(summary.failedImages)")
        #expect(summary.failedImages.isEmpty)
        for image in pending { #expect(try box.status(of: image.id) == "deleted") }
        for image in active { #expect(try box.status(of: image.id) == "active") }
        for image in notYet { #expect(try box.status(of: image.id) == "pending_delete") }
        #expect(try await server.list("images", as: SwiftTestServer.s3User) == (active + notYet).map(\.id).sorted() + ["unrelated"],
                "exactly the eligible images' objects are gone")
    }
}
