import Foundation
import ScrubberCore
import ScrubberStores
import Testing

private func legacyStores(root: String) -> StoresConfiguration {
    var stores = StoresConfiguration()
    stores.backends = [BackendConfiguration(name: "file", type: "file", fileRoots: [FileRoot(path: root, priority: 0)])]
    stores.defaultBackend = "file"
    stores.multiStore = false
    return stores
}

/// `enabled_backends = a:file, b:file, vols:cinder`, default `a`.
private func multiStores(a: String = "/nonexistent/a", b: String = "/nonexistent/b") -> StoresConfiguration {
    var stores = StoresConfiguration()
    stores.backends = [
        BackendConfiguration(name: "a", type: "file", fileRoots: [FileRoot(path: a, priority: 0)]),
        BackendConfiguration(name: "b", type: "file", fileRoots: [FileRoot(path: b, priority: 0)]),
        BackendConfiguration(name: "vols", type: "cinder"),
    ]
    stores.defaultBackend = "a"
    stores.multiStore = true
    return stores
}

private func failureMessage(_ outcome: LocationOutcome, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    guard case .failed(let message) = outcome else {
        Issue.record("expected .failed, got \(outcome)", sourceLocation: sourceLocation)
        return nil
    }
    return message
}

@Suite("StoreRouter: picks the backend for each location and records every outcome")
struct StoreRouterTests {
    @Test(
        "legacy single store: every location goes to `file`, whatever its meta_data says",
        arguments: [nil, "{}", "garbage", #"{"store": "b"}"#, #"{"store": "nope"}"#] as [String?]
    )
    func legacyIgnoresMetaData(_ metaData: String?) async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let image = try tmp.file("images/img")
        let router = try StoreRouter(configuration: legacyStores(root: root), encryptionKey: nil)
        let location = PendingLocation(id: 42, value: "file://" + image, metaData: metaData)
        #expect(router.route(location).store == "file")
        let result = await router.delete(location)
        // The file store reports what it reclaimed: the file's 11 bytes ("image bytes").
        #expect(result == LocationResult(locationID: 42, store: "file", outcome: .deleted, bytes: 11))
        #expect(!entryExists(image))
    }

    @Test("multi-store: meta_data {\"store\": \"b\"} deletes from backend b's directory")
    func multiStoreRoutesByMetaData() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let a = try tmp.directory("a")
        let b = try tmp.directory("b")
        let inB = try tmp.file("b/img")
        let router = try StoreRouter(configuration: multiStores(a: a, b: b), encryptionKey: nil)
        let result = await router.delete(PendingLocation(id: 1, value: "file://" + inB, metaData: #"{"store": "b"}"#))
        #expect(result.store == "b")
        #expect(result.outcome == .deleted)
        #expect(!entryExists(inB))

        // The same file routed to backend a is outside a's roots: refused, not deleted.
        let other = try tmp.file("b/other")
        let refused = await router.delete(PendingLocation(id: 2, value: "file://" + other, metaData: #"{"store": "a"}"#))
        #expect(refused.store == "a")
        #expect(failureMessage(refused.outcome)?.contains("outside the store roots") == true)
        #expect(entryExists(other))
    }

    @Test(
        "multi-store: NULL, {} or unparsable meta_data falls back to the default backend",
        arguments: [nil, "", "{}", "garbage", #"{"store": 3}"#] as [String?]
    )
    func multiStoreDefault(_ metaData: String?) async throws {
        let a = SimulatedStore()
        let b = SimulatedStore()
        let router = try StoreRouter(configuration: multiStores(), encryptionKey: nil, replacing: ["a": a, "b": b])
        let result = await router.delete(PendingLocation(id: 7, value: "file:///srv/a/img", metaData: metaData))
        #expect(result == LocationResult(locationID: 7, store: "a", outcome: .deleted))
        #expect(a.deletedCount == 1)
        #expect(b.deletedCount == 0)
    }

    @Test("`replacing:` injects a store by backend name")
    func replacingInjects() async throws {
        let a = SimulatedStore()
        let b = SimulatedStore()
        let router = try StoreRouter(configuration: multiStores(), encryptionKey: nil, replacing: ["a": a, "b": b])
        let result = await router.delete(PendingLocation(id: 3, value: "file:///srv/b/img", metaData: #"{"store":"b"}"#))
        #expect(result.outcome == .deleted)
        #expect(b.deletedCount == 1)
        #expect(a.deletedCount == 0)
        #expect(try await router.exists(PendingLocation(id: 3, value: "file:///srv/b/img", metaData: #"{"store":"b"}"#)) == false)
        #expect(try await router.exists(PendingLocation(id: 4, value: "file:///srv/b/other", metaData: #"{"store":"b"}"#)))
    }

    @Test("a store name not in enabled_backends fails the location, naming it and the known stores")
    func unknownStoreFails() async throws {
        let a = SimulatedStore()
        let router = try StoreRouter(configuration: multiStores(), encryptionKey: nil, replacing: ["a": a])
        let location = PendingLocation(id: 5, value: "file:///srv/a/img", metaData: #"{"store": "nope"}"#)
        let result = await router.delete(location)
        #expect(result.store == "nope")
        let message = try #require(failureMessage(result.outcome))
        #expect(message.contains("'nope'"))
        #expect(message.contains("a, b, vols"))
        #expect(message.contains("not deleted"))
        #expect(a.deletedCount == 0)
        await #expect(throws: LocationError.unknownStore("nope", known: ["a", "b", "vols"])) {
            try await router.exists(location)
        }
    }

    @Test("a backend of a type this scrubber cannot delete from (cinder) fails the location")
    func unsupportedBackendFails() async throws {
        let router = try StoreRouter(configuration: multiStores(), encryptionKey: nil)
        let location = PendingLocation(id: 6, value: "cinder://0a1b2c3d", metaData: #"{"store": "vols"}"#)
        let result = await router.delete(location)
        #expect(result.store == "vols")
        let message = try #require(failureMessage(result.outcome))
        #expect(message.contains("cannot delete from"))
        #expect(message.contains("cinder"))
        await #expect(throws: LocationError.unsupportedBackend(store: "vols", type: "cinder")) {
            try await router.exists(location)
        }
    }

    @Test("a location with an unknown scheme on a file backend fails, naming the scheme")
    func unknownSchemeFails() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let router = try StoreRouter(configuration: legacyStores(root: try tmp.directory("images")), encryptionKey: nil)
        let result = await router.delete(PendingLocation(id: 8, value: "swift://container/object", metaData: nil))
        let message = try #require(failureMessage(result.outcome))
        #expect(message.contains("swift://"))
        #expect(message.contains("not deleted"))
    }

    @Test("a value that is not a URL fails the location")
    func notAURLFails() async throws {
        let router = try StoreRouter(configuration: legacyStores(root: "/nonexistent"), encryptionKey: nil)
        let result = await router.delete(PendingLocation(id: 9, value: "/var/lib/glance/images/x", metaData: nil))
        #expect(failureMessage(result.outcome)?.contains("not a URL") == true)
    }

    @Test("with metadata_encryption_key, Glance ciphertext is decrypted and its file deleted", arguments: [16, 64])
    func decryptsCiphertext(blocksize: Int) async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let image = try tmp.file("images/encrypted-img")
        let key = "0123456789abcdef0123456789abcdef"
        let ciphertext = try GlanceCipher(key: key).encrypt("file://" + image, blocksize: blocksize)
        let router = try StoreRouter(configuration: legacyStores(root: root), encryptionKey: key)
        let location = PendingLocation(id: 10, value: ciphertext, metaData: "{}")
        #expect(try await router.exists(location))
        #expect(await router.delete(location).outcome == .deleted)
        #expect(!entryExists(image))
        #expect(try await router.exists(location) == false)
    }

    @Test("with metadata_encryption_key, a plaintext or wrongly encrypted value fails as undecryptable and nothing is deleted")
    func plaintextWithKeyFails() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let root = try tmp.directory("images")
        let image = try tmp.file("images/img")
        let router = try StoreRouter(configuration: legacyStores(root: root), encryptionKey: "0123456789abcdef")
        let plaintext = await router.delete(PendingLocation(id: 11, value: "file://" + image, metaData: nil))
        #expect(failureMessage(plaintext.outcome)?.contains("cannot be decrypted") == true)
        #expect(entryExists(image))

        let otherKey = try GlanceCipher(key: "fedcba9876543210").encrypt("file://" + image)
        let wrong = await router.delete(PendingLocation(id: 12, value: otherKey, metaData: nil))
        if case .failed = wrong.outcome {} else { Issue.record("a value encrypted with another key was not refused: \(wrong.outcome)") }
        #expect(entryExists(image))
    }

    @Test("a bad encryption key is rejected when the router is made")
    func badKeyThrows() {
        #expect(throws: GlanceCipherError.badKeyLength(5)) {
            try StoreRouter(configuration: StoresConfiguration(), encryptionKey: "short")
        }
    }

    @Test("a configured `simulated` backend is built from its configuration")
    func configuredSimulatedBackend() async throws {
        var stores = StoresConfiguration()
        var sim = BackendConfiguration(name: "sim", type: "simulated")
        sim.simulatedFailureRate = 1
        stores.backends = [sim, BackendConfiguration(name: "ok", type: "simulated")]
        stores.defaultBackend = "ok"
        stores.multiStore = true
        let router = try StoreRouter(configuration: stores, encryptionKey: nil)
        #expect(await router.delete(PendingLocation(id: 1, value: "sim://x", metaData: nil)).outcome == .deleted)
        #expect(await router.delete(PendingLocation(id: 1, value: "sim://x", metaData: nil)).outcome == .notFound)
        let failed = await router.delete(PendingLocation(id: 2, value: "sim://y", metaData: #"{"store":"sim"}"#))
        #expect(failureMessage(failed.outcome)?.contains("simulated backend failure") == true)
    }

    @Test("a simulated backend that does not remember deletes answers .deleted every time (its memory stays flat)")
    func forgetfulSimulatedBackend() async throws {
        var stores = StoresConfiguration()
        var sim = BackendConfiguration(name: "sim", type: "simulated")
        sim.simulatedRemembersDeletes = false
        stores.backends = [sim]
        stores.defaultBackend = "sim"
        stores.multiStore = true
        let router = try StoreRouter(configuration: stores, encryptionKey: nil)
        for _ in 0..<3 {
            #expect(await router.delete(PendingLocation(id: 1, value: "sim://x", metaData: nil)).outcome == .deleted)
        }
        let store = SimulatedStore(remembersDeletes: false)
        _ = try await store.delete(LocationURL("sim://y"))
        _ = try await store.delete(LocationURL("sim://y"))
        #expect(store.deletedCount == 2)
    }
}

@Suite("SimulatedStore: configurable latency and failures")
struct SimulatedStoreTests {
    @Test("a URL in the failing set always fails, through the router as .failed")
    func failingSet() async throws {
        let store = SimulatedStore(failing: ["file:///srv/bad"])
        let router = try StoreRouter(configuration: legacyStores(root: "/srv"), encryptionKey: nil, replacing: ["file": store])
        for _ in 0..<3 {
            let result = await router.delete(PendingLocation(id: 1, value: "file:///srv/bad", metaData: nil))
            #expect(failureMessage(result.outcome)?.contains("file:///srv/bad") == true)
        }
        #expect(await router.delete(PendingLocation(id: 2, value: "file:///srv/good", metaData: nil)).outcome == .deleted)
        #expect(store.deletedCount == 1)
        #expect(try await store.exists(LocationURL("file:///srv/bad")))
    }

    @Test("failureRate 1 fails every delete")
    func failureRateOne() async throws {
        let store = SimulatedStore(failureRate: 1)
        let router = try StoreRouter(configuration: legacyStores(root: "/srv"), encryptionKey: nil, replacing: ["file": store])
        for i in 0..<20 {
            let result = await router.delete(PendingLocation(id: Int64(i), value: "file:///srv/\(i)", metaData: nil))
            #expect(!result.outcome.isGone)
        }
        #expect(store.deletedCount == 0)
    }

    @Test("a delete takes at least the configured latency")
    func latency() async throws {
        let store = SimulatedStore(latency: 0.01)
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try await store.delete(LocationURL("file:///srv/x")) == .deleted)
        #expect(clock.now - start >= .milliseconds(10))
    }

    @Test("every URL exists until deleted once; a second delete is notFound")
    func deleteOnce() async throws {
        let store = SimulatedStore()
        let url = try LocationURL("file:///srv/x")
        #expect(try await store.exists(url))
        #expect(try await store.delete(url) == .deleted)
        #expect(try await store.exists(url) == false)
        #expect(try await store.delete(url) == .notFound)
        #expect(store.deletedCount == 1)
    }
}
