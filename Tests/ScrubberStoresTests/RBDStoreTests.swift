import Foundation
import ScrubberCore
import TestSupport
import Testing

@testable import ScrubberStores

/// The RBD store against a real Ceph (one monitor, one memstore OSD, the test's own), connected
/// as `client.glance` with `profile rbd`: what glance_store wrote goes, snapshot and all; an
/// image pinned by a clone or held open stays and names who pins it.
@Suite(.serialized, .tags(.startsServers, .spawnsProcesses)) struct RBDStoreTests {
    static func options(_ ceph: CephTestServer, timeout: Double = 30) -> RBDOptions {
        var options = RBDOptions()
        options.cephConf = ceph.conf
        options.user = CephTestServer.glanceUser
        options.timeout = timeout
        return options
    }

    @Test func glanceStoresImagesGoWithTheirSnapshotAndWhatPinsThemIsNamed() async throws {
        let ceph = try await CephTestServer.start()
        defer { ceph.destroy() }
        let store = RBDStore(name: "ceph1", options: Self.options(ceph))
        func url(_ image: String) throws -> LocationURL { try LocationURL("rbd://\(ceph.fsid)/images/\(image)/snap") }

        // An image as glance_store writes it: deleted, snapshot and all; a second delete finds it gone.
        try await ceph.glanceImage("plain", megabytes: 2)
        try await ceph.glanceImage("neighbour")
        #expect(try await store.exists(url("plain")))
        let (outcome, bytes) = try await store.deleteMeasuring(url("plain"), permit: { true })
        #expect(outcome == .deleted)
        #expect(bytes == 2 << 20)
        #expect(try await store.delete(url("plain")) == .notFound)
        #expect(try await !store.exists(url("plain")))

        // A clone of its snapshot in vms (as Nova makes one): in use, the child named, nothing touched.
        try await ceph.glanceImage("parent")
        try await ceph.rbd(["clone", "images/parent@snap", "vms/child-disk"])
        await #expect { try await store.delete(url("parent")) } throws: {
            guard let error = $0 as? StoreError else { return false }
            return error.description
                == "in_use: rbd image images/parent on ceph1 is in use (its snapshot snap has clones: vms/child-disk); not deleted"
                && error.failureClass == .inUse && error.dependents == ["vms/child-disk"]
        }
        #expect(try await ceph.snapshots(of: "parent") == ["snap"])
        #expect(try await ceph.images(in: "vms") == ["child-disk"])

        // Open in another client: in use, the watcher named; deleted once it lets go.
        try await ceph.glanceImage("open")
        let watcher = try ceph.holdOpen("open")
        try await eventually("rbd watch holds the image") { try await ceph.rbd(["status", "images/open"]).contains("watcher=") }
        await #expect { try await store.delete(url("open")) } throws: {
            guard let message = ($0 as? StoreError)?.description else { return false }
            return message.hasPrefix("in_use: rbd image images/open on ceph1 is in use (it is open by another client: client.")
                && message.contains(" at 127.0.0.1:")
        }
        #expect(try await ceph.images(in: "images").contains("open"))
        ceph.release(watcher)
        try await eventually("the watch ends") { try await !ceph.rbd(["status", "images/open"]).contains("watcher=") }
        #expect(try await store.delete(url("open")) == .deleted, "the snapshot went at the first attempt; the image goes now")

        // A snapshot Glance did not make: moved to the trash, counted done.
        try await ceph.glanceImage("backed-up")
        try await ceph.rbd(["snap", "create", "images/backed-up@nightly"])
        #expect(try await store.delete(url("backed-up")) == .deleted)
        #expect(try await ceph.trash(in: "images") == ["backed-up"])

        // The legacy one-part URL: the store's pool, no snapshot.
        try await ceph.rbd(["create", "--size", "1M", "images/legacy"])
        #expect(try await store.delete(LocationURL("rbd://legacy")) == .deleted)

        #expect(try await ceph.images(in: "images") == ["neighbour", "parent"], "exactly the deleted images are gone")
        #expect(try await ceph.snapshots(of: "neighbour") == ["snap"])
    }

    @Test func failuresLeaveTheImageAndSayTheirClass() async throws {
        let ceph = try await CephTestServer.start()
        defer { ceph.destroy() }
        try await ceph.glanceImage("kept")
        let url = try LocationURL("rbd://\(ceph.fsid)/images/kept/snap")

        var stranger = Self.options(ceph)
        stranger.user = "nobody"
        await #expect { try await RBDStore(name: "ceph1", options: stranger).delete(url) } throws: {
            ($0 as? StoreError)?.description.hasPrefix("misconfigured: store ceph1 cannot connect to Ceph as client.nobody") == true
        }
        await #expect {
            try await RBDStore(name: "ceph1", options: Self.options(ceph)).delete(LocationURL("rbd://\(ceph.fsid)/nopool/kept/snap"))
        } throws: {
            ($0 as? StoreError)?.description == "misconfigured: pool nopool does not exist in the Ceph cluster of store ceph1; not deleted"
        }
        await #expect(throws: StoreError.permitWithdrawn) {
            try await RBDStore(name: "ceph1", options: Self.options(ceph)).delete(url, permit: { false })
        }
        #expect(try await ceph.snapshots(of: "kept") == ["snap"], "the permit is read before the snapshot is touched")

        // The monitor dead: a clear error within the timeout, nothing touched.
        ceph.killMonitor()
        await #expect { try await RBDStore(name: "ceph1", options: Self.options(ceph, timeout: 2)).delete(url) } throws: {
            ($0 as? StoreError)?.description.hasPrefix("transient: store ceph1 cannot connect to Ceph as client.glance") == true
        }
    }

    @Test func locationsAreReadAsGlanceStoreReadsThem() throws {
        #expect(try RBDStore.parse(LocationURL("rbd://fsid/images/0a1b/snap")) == .init(pool: "images", image: "0a1b", snapshot: "snap"))
        #expect(try RBDStore.parse(LocationURL("rbd://0a1b")) == .init(pool: nil, image: "0a1b", snapshot: nil))
        #expect(try RBDStore.parse(LocationURL("rbd://fsid/my%20pool/img/snap")).pool == "my pool")
        for bad in ["rbd://fsid/images/img", "rbd://fsid//img/snap", "rbd://", "rbd://a/b/c/d/e"] {
            #expect(throws: StoreError.self, "\(bad)") { try RBDStore.parse(LocationURL(bad)) }
        }
        #expect(throws: LocationError.self) { try RBDStore.parse(LocationURL("swift://c/o")) }
    }
}
