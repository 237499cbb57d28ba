import Foundation
import GRDB
import ScrubberCore
import ScrubberStores
import ScrubberTestKit
import Synchronization
import TestSupport
import Testing

/// A catalog whose locations are Swift objects, as glance-api's Swift store writes them
/// (`swift+config://REF/CONTAINER/ID`, or the legacy `swift+http://PROJECT:USER:KEY@…` with the
/// credentials in the URL; ciphertext with `metadata_encryption_key`), scrubbed by a node
/// against a real Swift: exactly the eligible images' objects disappear, and a Swift that goes
/// away mid-run loses nothing.
@Suite(.serialized, .tags(.startsServers, .spawnsProcesses)) struct SwiftScrubTests {
    static let glance = SwiftTestServer.glance

    static func configuration(_ box: Sandbox, _ server: SwiftTestServer, key: String? = nil) -> ScrubberConfiguration {
        var config = box.configuration(scrubTime: 60)
        config.metadataEncryptionKey = key
        var swift = BackendConfiguration(name: "swift1", type: "swift")
        swift.swift.references["ref1"] = SwiftReference(authAddress: server.keystoneURL, user: glance.user, key: glance.key)
        config.stores.multiStore = true
        config.stores.backends = [swift]
        config.stores.defaultBackend = "swift1"
        return config
    }

    /// Points each image's location at its object in `glance`, through `url` (encrypted with `key`).
    static func locate(_ images: [SeededImage], in box: Sandbox, key: String?, url: @escaping @Sendable (String) -> String) async throws {
        let cipher = try key.map(GlanceCipher.init(key:))
        try await box.queue().write { db in
            for image in images {
                let text = url(image.id)
                try db.execute(
                    sql: "UPDATE image_locations SET value = ? WHERE image_id = ?",
                    arguments: [try cipher?.encrypt(text) ?? text, image.id]
                )
            }
        }
    }

    @Test(arguments: [false, true]) func aNodeDeletesExactlyTheEligibleImagesObjects(encrypted: Bool) async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        let box = try await Sandbox()
        let key = encrypted ? "0123456789abcdef0123456789abcdef" : nil
        let pending = try await box.seed(6) {
            $0.storeID = "swift1"
            $0.fileBytes = 0
        }
        let legacy = try await box.seed(2) {
            $0.storeID = "swift1"
            $0.fileBytes = 0
        }
        let active = try await box.seed(2) {
            $0.storeID = "swift1"
            $0.fileBytes = 0
            $0.status = .active
        }
        let notYet = try await box.seed(2) {
            $0.storeID = "swift1"
            $0.fileBytes = 0
            $0.deletedAgo = 10
        }
        try await Self.locate(pending + active + notYet, in: box, key: key) { "swift+config://ref1/glance/\($0)" }
        let host = "127.0.0.1:\(server.keystonePort)"
        try await Self.locate(legacy, in: box, key: key) {
            "swift+http://service%3Aglance:\(SwiftTestServer.glance.key)@\(host)/v3/glance/\($0)"
        }
        // One pending image's object is already gone.
        try await server.put((pending.dropFirst() + legacy + active + notYet).map(\.id) + ["unrelated"], in: "glance", as: Self.glance)

        let summary = try await box.runOnce(Self.configuration(box, server, key: key))

        #expect(summary.imagesDeleted == pending.count + legacy.count, "\(summary.failedImages)")
        #expect(summary.failedImages.isEmpty)
        for image in pending + legacy { #expect(try box.status(of: image.id) == "deleted") }
        for image in active { #expect(try box.status(of: image.id) == "active") }
        for image in notYet { #expect(try box.status(of: image.id) == "pending_delete") }
        #expect(
            try await server.list("glance", as: Self.glance) == (active + notYet).map(\.id).sorted() + ["unrelated"],
            "exactly the eligible images' objects are gone"
        )
        #expect(try await server.keystoneStats().tokens == 1, "one login for the run, the legacy URLs' credentials being ref1's")
    }

    @Test func swiftStoppingMidRunKeepsTheRestWithATransientError() async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        let box = try await Sandbox()
        let images = try await box.seed(12) {
            $0.storeID = "swift1"
            $0.fileBytes = 0
        }
        try await Self.locate(images, in: box, key: nil) { "swift+config://ref1/glance/\($0)" }
        try await server.put(images.map(\.id), in: "glance", as: Self.glance)
        var config = Self.configuration(box, server)
        config.poolSize = 1
        let swift = SwiftStore(name: "swift1", options: config.stores.backends[0].swift, timeout: .seconds(5))
        // The proxy dies once four deletes are done (SIGKILL: the connections drop).
        let store = StopsAfter(4, inner: swift) { server.stopProxy() }

        let summary = try await box.runOnce(config, replacing: ["swift1": store])

        #expect(summary.imagesDeleted == 4)
        let kept = images.filter { (try? box.status(of: $0.id)) == "pending_delete" }
        #expect(kept.count == 8, "every image not deleted before the proxy died stays pending_delete")
        for image in kept {
            let error = try #require(try box.row("SELECT last_error FROM scrub_assignments WHERE image_id = ?", [image.id])?[0] as String?)
            #expect(error.hasPrefix("transient: HEAD glance/\(image.id) on swift1"), "\(error)")
        }
        try await server.startProxy()
        #expect(try await server.list("glance", as: Self.glance) == kept.map(\.id).sorted(), "and their objects are all there")

        // Once Swift is back (and their backoff over), the next run deletes them.
        try await box.queue().write { try $0.execute(sql: "UPDATE scrub_assignments SET not_before = 0") }
        let again = try await box.runOnce(config)
        #expect(again.imagesDeleted == 8, "\(again.failedImages)")
        #expect(try await server.list("glance", as: Self.glance).isEmpty)
    }
}

/// Passes deletes to `inner`; after the `limit`-th success, runs `then` once.
final class StopsAfter: ImageStore {
    let limit: Int
    let inner: any ImageStore
    let then: @Sendable () -> Void
    private let done = Mutex(0)

    init(_ limit: Int, inner: any ImageStore, then: @escaping @Sendable () -> Void) {
        self.limit = limit
        self.inner = inner
        self.then = then
    }

    func delete(_ url: LocationURL, permit: @escaping @Sendable () -> Bool) async throws -> LocationOutcome {
        let outcome = try await inner.delete(url, permit: permit)
        if done.withLock({
            $0 += 1
            return $0 == limit
        }) {
            then()
        }
        return outcome
    }

    func exists(_ url: LocationURL) async throws -> Bool { try await inner.exists(url) }
}
