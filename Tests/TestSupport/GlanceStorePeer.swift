import Foundation

/// OpenStack glance_store itself (5.7.0 from PyPI, with python-swiftclient and boto3, pinned
/// by `Fixtures/glance-store-requirements.txt`), in a virtualenv of its own, writing and
/// reading image data the way glance-api does (`Fixtures/glance_store_peer.py`).
///
/// The virtualenv is `$SCRUBBER_GLANCE_STORE_VENV` or `/tmp/scrubber-glance-store-venv`;
/// `./test` makes it before the tests, and the first test to need it makes it if it is missing
/// (python3-venv and PyPI, about 15 s), under a lock so parallel test processes make it once.
public enum GlanceStorePeer {
    public static var venv: String {
        ProcessInfo.processInfo.environment["SCRUBBER_GLANCE_STORE_VENV"] ?? "/tmp/scrubber-glance-store-venv"
    }

    /// What glance_store's `add_with_multihash` returned for one image.
    public struct Written: Sendable, Decodable, Equatable {
        public var id: String
        public var url: String
        /// Glance stores it as the location's `meta_data` (JSON).
        public var metadata: [String: String]
        public var size: Int
        public var sha512: String
    }

    /// One image to write: `bytes` of data derived from its id, into backend `backend`;
    /// `sizeKnown: false` uploads with size 0, as glance-api's chunked uploads do.
    public struct Image: Sendable, Encodable {
        public var id: String
        public var backend: String
        public var bytes: Int
        public var sizeKnown: Bool

        public init(id: String, backend: String, bytes: Int, sizeKnown: Bool = true) {
            self.id = id
            self.backend = backend
            self.bytes = bytes
            self.sizeKnown = sizeKnown
        }

        enum CodingKeys: String, CodingKey {
            case id, backend, bytes
            case sizeKnown = "size_known"
        }
    }

    /// Writes `images` with glance_store configured by the glance-api.conf at `config`.
    public static func add(_ images: [Image], config: String) async throws -> [Written] {
        let lines = try await run(config, "add", try JSONEncoder().encode(images))
        return try lines.map { try JSONDecoder().decode(Written.self, from: Data($0.utf8)) }
    }

    /// The SHA-512 of the data glance_store reads at each location, or nil where it cannot read
    /// any (gone), by URL.
    public static func read(_ locations: [(url: String, backend: String)], config: String) async throws -> [String: String?] {
        let spec = try JSONSerialization.data(withJSONObject: locations.map { ["url": $0.url, "backend": $0.backend] })
        var digests: [String: String?] = [:]
        for line in try await run(config, "read", spec) {
            let item = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String] ?? [:]
            if let url = item["url"] { digests[url] = item["sha512"] }
        }
        return digests
    }

    private static func run(_ config: String, _ command: String, _ spec: Data) async throws -> [String] {
        try await PostgresTestServer.offload {
            try ensureInstalled()
            let file = NSTemporaryDirectory() + "glance-store-spec-\(UUID().uuidString).json"
            try spec.write(to: URL(fileURLWithPath: file))
            defer { try? FileManager.default.removeItem(atPath: file) }
            let output = try PostgresTestServer.exec(
                venv + "/bin/python",
                ["-s", GlanceFixtures.path("glance_store_peer.py"), config, command, file]
            )
            return output.split(separator: "\n").filter { $0.hasPrefix("RESULT ") }.map { String($0.dropFirst(7)) }
        }
    }

    /// Makes the virtualenv unless it imports glance_store, swiftclient and boto3 already.
    static func ensureInstalled() throws {
        let python = venv + "/bin/python"
        if (try? PostgresTestServer.exec(python, ["-c", "import glance_store, swiftclient, boto3"])) != nil { return }
        let requirements = GlanceFixtures.path("glance-store-requirements.txt")
        let script = """
            set -e
            [ -x '\(python)' ] && '\(python)' -c 'import glance_store, swiftclient, boto3' 2>/dev/null && exit 0
            rm -rf '\(venv)'
            python3 -m venv '\(venv)'
            '\(venv)/bin/pip' install -q --disable-pip-version-check -r '\(requirements)'
            """
        do {
            try PostgresTestServer.exec("/usr/bin/flock", [venv + ".lock", "/bin/sh", "-c", script])
        } catch {
            throw TestServerError(
                "cannot install glance_store into \(venv) (python3-venv and PyPI are needed; ./test installs them): \(error)"
            )
        }
    }
}
