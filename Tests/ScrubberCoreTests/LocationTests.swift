import ScrubberCore
import Testing

@Suite("LocationURL: parsing and the file:// rules")
struct LocationURLTests {
    @Test(
        "a URL splits at :// into a lower-cased scheme and the rest as written",
        arguments: [
            ("file:///var/lib/glance/images/x", "file", "/var/lib/glance/images/x"),
            ("FILE:///A/B", "file", "/A/B"),
            ("rbd://fsid/images/id/snap", "rbd", "fsid/images/id/snap"),
            ("Swift+HTTPS://user:key@host/v1/c/o", "swift+https", "user:key@host/v1/c/o"),
        ]
    )
    func parses(text: String, scheme: String, remainder: String) throws {
        let url = try LocationURL(text)
        #expect(url.scheme == scheme)
        #expect(url.remainder == remainder)
        #expect(url.description == "\(scheme)://\(remainder)")
    }

    @Test("redacted hides the password of a URL's credentials, and only that")
    func redacted() throws {
        #expect(
            try LocationURL("swift+http://service:glance:s3cr%40t@keystone:5000/v3/glance/id").redacted
                == "swift+http://service:glance:***@keystone:5000/v3/glance/id"
        )
        #expect(
            try LocationURL("s3://AKIA:se/cret@s3.example.com/bucket/id").redacted == "s3://AKIA:***@s3.example.com/bucket/id",
            "a slash in the secret ends the authority early: the secret is still cut at the last @ before it"
        )
        #expect(try LocationURL("s3://token@host/b/k").redacted == "s3://***@host/b/k")
        #expect(try LocationURL("swift+config://ref1/glance/id").redacted == "swift+config://ref1/glance/id")
        #expect(try LocationURL("file:///srv/a@b/id").redacted == "file:///srv/a@b/id", "an @ in a path is no userinfo")
    }

    @Test(
        "text without a scheme:// is notAURL",
        arguments: ["", "/var/lib/glance/images/x", "file:/x", "://x", "fi le:///x", "images/x"]
    )
    func notAURL(text: String) {
        #expect(throws: LocationError.notAURL(text)) { try LocationURL(text) }
    }

    @Test(
        "filePath resolves . and .. and duplicate slashes lexically",
        arguments: [
            ("file:///a/b/../c", "/a/c"),
            ("file:///a/./b//c/", "/a/b/c"),
            ("file:///a/b/../../c", "/c"),
            ("file:///", "/"),
            ("file:///var/lib/glance/images/6c2a5d4e", "/var/lib/glance/images/6c2a5d4e"),
        ]
    )
    func filePathNormalises(text: String, path: String) throws {
        #expect(try LocationURL(text).filePath() == path)
    }

    @Test("file://localhost/x is the absolute path /x")
    func localhost() throws {
        #expect(try LocationURL("file://localhost/x").filePath() == "/x")
        #expect(try LocationURL("file://localhost/srv/images/../img").filePath() == "/srv/img")
    }

    @Test("file://images/x names no absolute path: relativeFilePath")
    func relativePath() throws {
        let url = try LocationURL("file://images/x")
        #expect(throws: LocationError.relativeFilePath("file://images/x")) { try url.filePath() }
    }

    @Test("a .. that climbs above / is refused", arguments: ["file:///..", "file:///a/../../etc/passwd", "file:///../x"])
    func climbsAboveRoot(text: String) throws {
        let url = try LocationURL(text)
        let error = #expect(throws: LocationError.self) { try url.filePath() }
        guard case .badFilePath? = error else {
            Issue.record("expected badFilePath, got \(String(describing: error))")
            return
        }
    }

    @Test("a NUL byte in the path is refused")
    func nulByte() throws {
        let url = try LocationURL("file:///srv/images/x\u{0}/../../etc/passwd")
        let error = #expect(throws: LocationError.self) { try url.filePath() }
        guard case .badFilePath(_, let reason)? = error else {
            Issue.record("expected badFilePath, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("NUL"))
    }

    // Found by fuzz/run url: split as Characters, a `/` followed by a combining mark was no
    // separator, so `.`, `..` and `//` survived normalisation, and a NUL so followed was missed.
    @Test(
        "filePath splits and checks the path as bytes, whatever follows a `/` or a NUL",
        arguments: [
            ("file:///srv/images/./\u{301}x", "/srv/images/\u{301}x"),
            ("file:///srv/images/../\u{301}x", "/srv/\u{301}x"),
            ("file:///srv/images//\u{301}x", "/srv/images/\u{301}x"),
            ("file:///srv/caf\u{e9}/./x", "/srv/caf\u{e9}/x"),
        ]
    )
    func filePathIsNormalisedAsBytes(text: String, path: String) throws {
        #expect(Array(try LocationURL(text).filePath().utf8) == Array(path.utf8))
    }

    @Test("a NUL byte followed by a combining mark is refused")
    func nulByteWithCombiningMark() throws {
        let url = try LocationURL("file:///srv/images/x\u{0}\u{301}")
        #expect(throws: LocationError.badFilePath(url.description, reason: "it contains a NUL byte")) { try url.filePath() }
    }

    // Found by fuzz/run url (seed nfd-path-nfc-root): String comparison is canonical equivalence,
    // so a path in /srv/cafe\u{301} was inside the root /srv/caf\u{e9}, a different directory on disk.
    @Test(
        "path(_:isInside:) compares bytes, not canonically equivalent text",
        arguments: [
            ("/srv/cafe\u{301}/x", "/srv/caf\u{e9}", false),
            ("/srv/caf\u{e9}/x", "/srv/cafe\u{301}", false),
            ("/srv/cafe\u{301}", "/srv/caf\u{e9}/", false),
            ("/srv/caf\u{e9}/x", "/srv/caf\u{e9}", true),
            ("/srv/images/\u{301}x", "/srv/images", true),
        ]
    )
    func isInsideComparesBytes(path: String, root: String, inside: Bool) {
        #expect(LocationURL.path(path, isInside: root) == inside)
    }

    @Test("filePath of a non-file scheme throws unsupportedScheme", arguments: ["rbd://fsid/images/id/snap", "swift://c/o", "http://x/y"])
    func unsupportedScheme(text: String) throws {
        let url = try LocationURL(text)
        #expect(throws: LocationError.unsupportedScheme(url.scheme, url: url.description)) { try url.filePath() }
    }

    @Test(
        "path(_:isInside:) compares whole components, and accepts a root written with a trailing slash",
        arguments: [
            ("/srv/images/x", "/srv/images", true),
            ("/srv/images/a/b", "/srv/images", true),
            ("/srv/images", "/srv/images", true),
            ("/srv/images2/x", "/srv/images", false),
            ("/srv/images2", "/srv/images", false),
            ("/srv/image", "/srv/images", false),
            ("/srv", "/srv/images", false),
            ("/srv/images/x", "/srv/images/", true),
            ("/srv/images", "/srv/images/", true),
            ("/srv/images2/x", "/srv/images/", false),
            ("/anything", "/", true),
        ]
    )
    func isInside(path: String, root: String, inside: Bool) {
        #expect(LocationURL.path(path, isInside: root) == inside)
    }
}

@Suite("LocationMetadata: the store named by image_locations.meta_data")
struct LocationMetadataTests {
    @Test(
        "NULL, empty, {}, garbage, a non-object, a non-string or empty store fall back to no store",
        arguments: [
            nil, "", "{}", "garbage", "[1]", "\"fast\"", #"{"store": 3}"#, #"{"store": null}"#,
            #"{"store": ""}"#, #"{"store": ["fast"]}"#, #"{"backend": "fast"}"#, #"{"store": "fast""#,
        ] as [String?]
    )
    func noStore(_ metaData: String?) {
        #expect(LocationMetadata.storeName(in: metaData) == nil)
    }

    @Test(
        "a string store is the backend name, whatever else the metadata holds",
        arguments: [(#"{"store": "fast"}"#, "fast"), (#"{"store":"ceph-1","size":3}"#, "ceph-1"), (#" { "store" : "é" } "#, "é")]
    )
    func namedStore(metaData: String, store: String) {
        #expect(LocationMetadata.storeName(in: metaData) == store)
    }
}

@Suite("LocationError: what the operator reads")
struct LocationErrorTests {
    static let all: [LocationError] = [
        .notAURL("/var/lib/x"),
        .unsupportedScheme("swift", url: "swift://c/o"),
        .relativeFilePath("file://images/x"),
        .badFilePath("file:///..", reason: "its `..` climbs above /"),
        .outsideStoreRoots(url: "file:///etc/passwd", resolved: "/etc/passwd", roots: ["/a", "/b"]),
        .undecryptable("no delimiter"),
        .unknownStore("nope", known: ["fast", "slow"]),
        .unsupportedBackend(store: "ceph", type: "rbd"),
    ]

    @Test("every location error says the data was not deleted", arguments: all)
    func saysNotDeleted(_ error: LocationError) {
        #expect(error.description.contains("not deleted"))
    }

    @Test("outsideStoreRoots names the location, where it resolved and every root")
    func outsideNamesRoots() {
        let text = LocationError.outsideStoreRoots(url: "file:///etc/passwd", resolved: "/etc/passwd", roots: ["/a", "/b"]).description
        #expect(text.contains("file:///etc/passwd"))
        #expect(text.contains("/a, /b"))
    }

    @Test("a very long non-URL value is shortened in the message")
    func longValueIsShortened() {
        let text = LocationError.notAURL(String(repeating: "x", count: 1000)).description
        #expect(text.count < 300)
        #expect(text.contains("…"))
    }
}
