import Foundation
import ScrubberCore
import ScrubberStores
import TestSupport
import Testing

/// The S3 store against a real S3 endpoint (Swift's s3api on a Swift All-In-One of the test's
/// own): what glance_store's S3 driver wrote is deleted, an object already gone is a success,
/// and every failure leaves the data and says its class.
@Suite(.serialized, .tags(.startsServers, .spawnsProcesses)) struct S3StoreTests {
    static func options(_ server: SwiftTestServer, secret: String = SwiftTestServer.s3.secretKey) -> S3Options {
        var options = S3Options()
        options.host = server.proxyURL
        options.accessKey = SwiftTestServer.s3.accessKey
        options.secretKey = secret
        options.bucketURLFormat = "path"
        return options
    }

    static func put(_ server: SwiftTestServer, _ path: String, _ body: String = "") async throws {
        let status = try await S3EndpointTests.send(server, S3EndpointTests.signer, "PUT", path, body: body).status
        guard status == 200 else { throw TestServerError("PUT \(path) answered \(status)") }
    }

    static func exists(_ server: SwiftTestServer, _ path: String) async throws -> Bool {
        try await S3EndpointTests.send(server, S3EndpointTests.signer, "HEAD", path).status == 200
    }

    @Test func theThreeURLShapesAreDeletedAndAnObjectAlreadyGoneIsASuccess() async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        try await Self.put(server, "/images")
        let host = "127.0.0.1:\(server.proxyPort)"
        let store = S3Store(name: "s3", options: Self.options(server))
        // The host in the URL is not what the store talks to (glance_store 5.7.0 neither): its options are.
        let shapes = ["s3://\(host)/images/one", "s3+http://\(host)/images/two", "s3://AKIA:old%2Fsecret@s3.example.com/images/three"]
        for (url, key) in zip(shapes, ["one", "two", "three"]) {
            try await Self.put(server, "/images/\(key)", "data of \(key)")
            try await Self.put(server, "/images/\(key)-neighbour", "must stay")
            #expect(try await store.exists(LocationURL(url)))
            #expect(try await store.delete(LocationURL(url)) == .deleted, "\(url)")
            #expect(try await !Self.exists(server, "/images/\(key)"), "\(url) is gone")
            #expect(try await Self.exists(server, "/images/\(key)-neighbour"), "nothing else is touched")
            #expect(try await store.delete(LocationURL(url)) == .notFound, "a second delete finds it gone")
            #expect(try await !store.exists(LocationURL(url)))
        }
    }

    @Test func failuresLeaveTheDataAndSayTheirClass() async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        try await Self.put(server, "/images")
        try await Self.put(server, "/images/kept", "data")
        let url = try LocationURL("s3://127.0.0.1:\(server.proxyPort)/images/kept")

        let badKey = S3Store(name: "s3", options: Self.options(server, secret: "not-the-secret"))
        await #expect { try await badKey.delete(url) } throws: {
            ($0 as? StoreError)?.description.hasPrefix("misconfigured: HEAD images/kept on s3 answered 403") == true
        }

        var noHost = Self.options(server)
        noHost.host = nil
        noHost.secretKey = nil
        await #expect { try await S3Store(name: "s3", options: noHost).delete(url) } throws: {
            ($0 as? StoreError)?.description == "misconfigured: store s3 (s3) has no s3_store_host, s3_store_secret_key; not deleted"
        }

        var down = Self.options(server)
        down.host = "http://127.0.0.1:\(try Ports.ephemeral())"
        // async-http-client keeps trying to connect until the request's deadline: a short one here.
        await #expect { try await S3Store(name: "s3", options: down, timeout: .seconds(1)).delete(url) } throws: {
            ($0 as? StoreError)?.description.hasPrefix("transient: HEAD images/kept") == true
        }

        await #expect(throws: StoreError.permitWithdrawn) {
            try await S3Store(name: "s3", options: Self.options(server)).delete(url, permit: { false })
        }
        #expect(try await Self.exists(server, "/images/kept"), "every failure left the data")
    }

    @Test func aVersionedBucketIsReportedAndNothingDeleted() async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        try await Self.put(server, "/plain")
        try await Self.put(server, "/plain/one", "data")
        try await Self.put(server, "/versioned")
        try await Self.put(server, "/versioned/one", "data")
        try await server.enableVersioning("versioned", as: SwiftTestServer.s3User)
        let store = S3Store(name: "s3", options: Self.options(server))
        #expect(try await store.delete(LocationURL("s3://host/plain/one")) == .deleted, "an unversioned bucket is no trouble")
        await #expect { try await store.delete(LocationURL("s3://host/versioned/one")) } throws: {
            ($0 as? StoreError)?.description.hasPrefix(
                "misconfigured: bucket versioned on s3 has versioning enabled: a DELETE would only add a delete marker"
            ) == true
        }
        #expect(try await Self.exists(server, "/versioned/one"), "the object is still its current version")
    }

    @Test func locationsAreReadAsGlanceStoreReadsThem() throws {
        #expect(try S3Store.parse(LocationURL("s3+https://s3.example.com:8443/path/prefix/bucket/key")) == ("bucket", "key"))
        #expect(throws: StoreError.self) { try S3Store.parse(LocationURL("s3://s3.example.com/key")) }
        #expect(throws: StoreError.self) { try S3Store.parse(LocationURL("s3://https://s3.amazonaws.com/bucket/key")) }
        #expect(throws: LocationError.self) { try S3Store.parse(LocationURL("swift://h/c/o")) }
    }
}
