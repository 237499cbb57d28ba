import Foundation
import ScrubberCore
import TestSupport
import Testing

@testable import ScrubberStores

/// The Swift store against a real Swift (an All-In-One of the test's own, Keystone v3 through
/// the SAIO's stand-in): every shape glance_store writes is deleted with all its segments,
/// nothing else is touched, and every failure leaves the data and says its class.
@Suite(.serialized, .tags(.startsServers, .spawnsProcesses)) struct SwiftStoreTests {
    static let glance = SwiftTestServer.glance

    /// A store whose reference `ref1` logs in to the stand-in Keystone as service:glance.
    static func options(_ server: SwiftTestServer, key: String = SwiftTestServer.glance.key) -> SwiftOptions {
        var options = SwiftOptions()
        options.references["ref1"] = SwiftReference(authAddress: server.keystoneURL, user: glance.user, key: key)
        return options
    }

    @Test func theURLShapesAreDeletedWithOneLoginAndAnObjectAlreadyGoneIsASuccess() async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        let ids = (1...4).map { "0000000\($0)-aaaa-bbbb-cccc-dddddddddddd" }
        try await server.put(ids.prefix(3) + ["unrelated"], in: "glance", as: Self.glance)
        try await server.put([ids[3]], in: "glance_000", as: Self.glance)
        let host = "127.0.0.1:\(server.keystonePort)"
        let key = SwiftTestServer.glance.key.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        var options = Self.options(server)
        // v1 through tempauth: an operator's reference to a v1 auth URL.
        options.references["tempauth"] = SwiftReference(authAddress: server.tempauthURL, user: Self.glance.user, key: Self.glance.key)
        let store = SwiftStore(name: "swift1", options: options)
        let shapes = [
            "swift+config://ref1/glance/\(ids[0])",
            "swift+http://service%3Aglance:\(key)@\(host)/v3/glance/\(ids[1])",
            "swift+config://tempauth/glance/\(ids[2])",
            "swift+config://ref1/glance_000/\(ids[3])",  // swift_store_multiple_containers_seed = 3
        ]
        for url in shapes {
            #expect(try await store.exists(LocationURL(url)), "\(url)")
            #expect(try await store.delete(LocationURL(url)) == .deleted, "\(url)")
            #expect(try await store.delete(LocationURL(url)) == .notFound, "a second delete of \(url) finds it gone")
            #expect(try await !store.exists(LocationURL(url)))
        }
        let after = try await server.everything(as: Self.glance)
        #expect(after == ["glance": ["unrelated"], "glance_000": []])
        #expect(
            try await server.keystoneStats().tokens == 1,
            "one Keystone login for ref1 and the URL's same credentials, not one per delete"
        )
        #expect(await store.loginCount == 2, "Keystone, and tempauth for the v1 reference")
    }

    @Test func largeObjectsGoWithEverySegmentAndNothingElse() async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        let store = SwiftStore(name: "swift1", options: Self.options(server))
        // glance_store's DLO: segments ID-00001… beside the manifest; its neighbour's stay.
        try await server.putDynamicLargeObject("img-dlo", in: "glance", segments: "glance", prefix: "img-dlo-", count: 3, as: Self.glance)
        try await server.putDynamicLargeObject("img-dlo2", in: "glance", segments: "glance", prefix: "img-dlo2-", count: 2, as: Self.glance)
        // The swift CLI's DLO: segments in CONTAINER_segments under ID/…
        try await server.putDynamicLargeObject(
            "img-cli",
            in: "glance",
            segments: "glance_segments",
            prefix: "img-cli/1700000000/3072/1024/",
            count: 3,
            as: Self.glance
        )
        // An SLO, its segments in another container; one more, untouched.
        try await server.putStaticLargeObject("img-slo", in: "glance", segments: "glance_segments", count: 4, as: Self.glance)
        try await server.putStaticLargeObject("img-slo-kept", in: "glance", segments: "glance_segments", count: 2, as: Self.glance)
        let before = try await server.everything(as: Self.glance)
        #expect(before["glance"]?.count == 10, "3 + 1 and 2 + 1 of glance_store's DLOs, the CLI's manifest, two SLO manifests")

        for name in ["img-dlo", "img-cli", "img-slo"] {
            let url = try LocationURL("swift+config://ref1/glance/\(name)")
            let (outcome, bytes) = try await store.deleteMeasuring(url, permit: { true })
            #expect(outcome == .deleted, "\(name)")
            let sizes: [String: Int64] = ["img-dlo": 3072, "img-cli": 3072, "img-slo": 4096]
            #expect(bytes == sizes[name], "the whole object's size, \(name)")
            #expect(try await store.delete(url) == .notFound)
        }
        #expect(
            try await server.everything(as: Self.glance) == [
                "glance": ["img-dlo2", "img-dlo2-00001", "img-dlo2-00002", "img-slo-kept"],
                "glance_segments": ["img-slo-kept/seg00001", "img-slo-kept/seg00002"],
            ],
            "exactly the three objects and their segments are gone"
        )
    }

    @Test func aManifestWhosePrefixCouldNameOtherDataIsRefused() async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        let store = SwiftStore(name: "swift1", options: Self.options(server))
        try await server.put(["other-image-00001"], in: "glance", as: Self.glance)
        try await server.putDynamicLargeObject("img", in: "glance", segments: "glance", prefix: "other-", count: 1, as: Self.glance)
        let before = try await server.everything(as: Self.glance)
        await #expect { try await store.delete(LocationURL("swift+config://ref1/glance/img")) } throws: {
            ($0 as? StoreError)?.description.hasPrefix(
                "unsupported: the segments of glance/img on swift1 are everything under 'glance/other-'"
            ) == true
        }
        #expect(try await server.everything(as: Self.glance) == before, "nothing deleted")
    }

    @Test func failuresLeaveTheDataAndSayTheirClass() async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        try await server.put(["kept"], in: "glance", as: Self.glance)
        let url = try LocationURL("swift+config://ref1/glance/kept")

        await #expect { try await SwiftStore(name: "swift1", options: Self.options(server, key: "wrong")).delete(url) } throws: {
            ($0 as? StoreError)?.description.hasPrefix(
                "misconfigured: Keystone login of service:glance at \(server.keystoneURL)/auth/tokens answered 401"
            ) == true
        }
        await #expect {
            try await SwiftStore(name: "swift1", options: Self.options(server)).delete(LocationURL("swift+config://nosuch/glance/kept"))
        } throws: {
            ($0 as? StoreError)?.description
                == "misconfigured: store swift1 has no account reference 'nosuch' (no swift_store_config_file; swift_store_user/key/auth_address form default_swift_reference); known: ref1; not deleted"
        }
        // The catalog's internal endpoint is a closed port: the option is honoured.
        var inside = Self.options(server)
        inside.endpointType = "internalURL"
        await #expect { try await SwiftStore(name: "swift1", options: inside, timeout: .seconds(1)).delete(url) } throws: {
            ($0 as? StoreError)?.description.hasPrefix("transient: HEAD glance/kept on swift1") == true
        }
        var elsewhere = Self.options(server)
        elsewhere.region = "RegionThree"
        await #expect { try await SwiftStore(name: "swift1", options: elsewhere).delete(url) } throws: {
            ($0 as? StoreError)?.description
                == "misconfigured: Keystone's catalog for service:glance has no object-store endpoint of swift_store_endpoint_type publicURL in region RegionThree; not deleted"
        }
        var multiTenant = Self.options(server)
        multiTenant.multiTenant = true
        await #expect { try await SwiftStore(name: "swift1", options: multiTenant).delete(url) } throws: {
            ($0 as? StoreError)?.description.hasPrefix("unsupported: store swift1 has swift_store_multi_tenant = true") == true
        }
        await #expect(throws: StoreError.permitWithdrawn) {
            try await SwiftStore(name: "swift1", options: Self.options(server)).delete(url, permit: { false })
        }

        // The proxy stopped: transient, and the data is there when it is back.
        let store = SwiftStore(name: "swift1", options: Self.options(server), timeout: .seconds(2))
        #expect(try await store.exists(url))
        server.stopProxy()
        await #expect { try await store.delete(url) } throws: {
            ($0 as? StoreError)?.description.hasPrefix("transient: HEAD glance/kept on swift1") == true
        }
        try await server.startProxy()
        #expect(try await server.list("glance", as: Self.glance) == ["kept"], "every failure left the data")
        #expect(try await store.delete(url) == .deleted, "and the store deletes it once Swift is back")
    }

    @Test func aRefusedTokenLogsInAgainOnce() async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        try await server.put(["a", "b", "c"], in: "glance", as: Self.glance)
        let store = SwiftStore(name: "swift1", options: Self.options(server))
        try await server.invalidateNextToken()  // as if the token had been revoked
        #expect(try await store.delete(LocationURL("swift+config://ref1/glance/a")) == .deleted)
        #expect(try await server.keystoneStats().tokens == 2, "Swift's 401 made the store log in again")
        #expect(try await store.delete(LocationURL("swift+config://ref1/glance/b")) == .deleted)
        #expect(try await server.keystoneStats().tokens == 2, "and the new token is reused")
        // Two refused tokens in a row: misconfigured, not a loop.
        let other = SwiftStore(name: "swift1", options: Self.options(server))
        try await server.invalidateNextToken()
        try await server.invalidateNextToken()
        await #expect { try await other.delete(LocationURL("swift+config://ref1/glance/c")) } throws: {
            ($0 as? StoreError)?.description.hasPrefix("misconfigured: HEAD glance/c on swift1 answered 401") == true
        }
        #expect(try await server.list("glance", as: Self.glance) == ["c"])
    }
}

/// How Swift locations and Keystone answers are read (no server).
@Suite struct SwiftLocationTests {
    /// The location's auth address, user, key, container and object.
    func read(
        _ url: LocationURL,
        options: SwiftOptions
    ) throws -> (authAddress: String, user: String, key: String, container: String, object: String) {
        let location = try SwiftLocation(url, options: options, store: "swift1")
        return (location.credentials.authAddress, location.credentials.user, location.credentials.key, location.container, location.object)
    }

    @Test func glanceStoresShapesAreReadAsItReadsThem() throws {
        var options = SwiftOptions()
        options.references["ref1"] = SwiftReference(authAddress: "http://keystone:5000/v3", user: "service:glance", key: "k")
        let config = try read(LocationURL("swift+config://ref1/glance_a1b/0a1b2c3d"), options: options)
        #expect(config.authAddress == "http://keystone:5000/v3")
        #expect(config.container == "glance_a1b")
        #expect(config.object == "0a1b2c3d")
        // Credentials percent-encoded; the key may hold ':' and '@' (quoted); the auth path stays.
        let legacy = try read(
            LocationURL("swift+https://proj%3Auser:p%3Aa%40ss@keystone.example.com:5000/v3/glance/0a1b"),
            options: options
        )
        #expect(legacy.authAddress == "https://keystone.example.com:5000/v3")
        #expect(legacy.user == "proj:user")
        #expect(legacy.key == "p:a@ss")
        #expect(legacy.container == "glance")
        #expect(legacy.object == "0a1b")
        #expect(try read(LocationURL("swift://p:u:k@host/v3/c/o"), options: options).authAddress == "https://host/v3")
        #expect(
            try read(LocationURL("swift+http://p:u:k@host:8080/auth/v1.0/c/o"), options: options).authAddress
                == "http://host:8080/auth/v1.0"
        )

        for bad in [
            "swift+config://ref1/onlyone", "swift+http://u:k@host", "swift://http://host/v3/c/o", "swift+http://host/v3/c/o",
            "swift+http://user:k@host/v3/c/o",
        ] {
            #expect(throws: StoreError.self, "\(bad)") { try read(LocationURL(bad), options: options) }
        }
        #expect(throws: LocationError.self) { try read(LocationURL("s3://host/b/k"), options: options) }
    }

    @Test func theCatalogsEndpointIsChosenByTypeInterfaceAndRegion() {
        let catalog: [[String: Any]] = [
            ["type": "identity", "endpoints": [["interface": "public", "region_id": "R1", "url": "http://keystone"]]],
            [
                "type": "object-store",
                "endpoints": [
                    ["interface": "internal", "region_id": "R1", "url": "http://internal-r1"],
                    ["interface": "public", "region_id": "R1", "url": "http://public-r1"],
                    ["interface": "public", "region": "R2", "url": "http://public-r2"],
                ],
            ],
        ]
        #expect(SwiftAuthenticator.endpoint(in: catalog, type: "object-store", interface: "publicURL", region: nil) == "http://public-r1")
        #expect(
            SwiftAuthenticator.endpoint(in: catalog, type: "object-store", interface: "internalURL", region: nil) == "http://internal-r1"
        )
        #expect(SwiftAuthenticator.endpoint(in: catalog, type: "object-store", interface: "public", region: "R2") == "http://public-r2")
        #expect(SwiftAuthenticator.endpoint(in: catalog, type: "object-store", interface: "adminURL", region: nil) == nil)
        #expect(SwiftAuthenticator.endpoint(in: catalog, type: "object-store", interface: "internalURL", region: "R2") == nil)
    }

    @Test func keystonesExpiryTimesAreRead() {
        #expect(SwiftAuthenticator.parseDate("2026-12-05T04:00:00.123456Z") == Date(timeIntervalSince1970: 1_796_443_200))
        #expect(SwiftAuthenticator.parseDate("2026-12-05T04:00:00Z") == Date(timeIntervalSince1970: 1_796_443_200))
        #expect(SwiftAuthenticator.parseDate("2026-12-05T05:00:00.5+01:00") == Date(timeIntervalSince1970: 1_796_443_200))
        #expect(SwiftAuthenticator.parseDate("tomorrow") == nil)
    }
}
