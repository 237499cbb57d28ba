import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import ScrubberCore
import Synchronization

/// Deletes what glance_store's S3 driver wrote: `s3://…/BUCKET/KEY`, `s3+http://…`,
/// `s3+https://…` (an old URL's `access:secret@host` is not used: like glance_store 5.7.0,
/// the endpoint and keys come from the store's options, the bucket and key from the URL).
///
/// A delete is glance_store's: HEAD the object (404: already gone), then DELETE it. A
/// completed multipart upload is one object. Requests are signed with ``SigV4Signer``, over
/// one HTTP client whose connections are reused across deletes.
///
/// Failures say their class first, so the operator reads what to do:
/// - `misconfigured`: 401/403, or an option missing (fix the configuration; nothing deleted);
/// - `throttled`: 429, 503, or S3's `SlowDown` (retried with the image's backoff);
/// - `transient`: any other 5xx, a timeout, a connection refused or reset (retried).
public final class S3Store: ImageStore {
    public let name: String
    private let options: S3Options
    private let client: HTTPStoreClient

    /// - Parameters:
    ///   - connections: connections to the endpoint at most (its `max_concurrent_deletes`).
    ///   - timeout: for each request.
    public init(name: String, options: S3Options, connections: Int = 32, timeout: TimeAmount = .seconds(30)) {
        self.name = name
        self.options = options
        client = HTTPStoreClient(store: name, connections: connections, timeout: timeout)
    }

    /// The bucket and key of an S3 location URL, as glance_store's `parse_uri` reads them: the
    /// last path part is the key, the one before it the bucket, and there must be something
    /// (the service URL) before that.
    public static func parse(_ url: LocationURL) throws -> (bucket: String, key: String) {
        guard ["s3", "s3+http", "s3+https"].contains(url.scheme) else {
            throw LocationError.unsupportedScheme(url.scheme, url: url.redacted)
        }
        guard !url.remainder.contains("://") else {
            throw StoreError(.unsupported, "\(url.redacted): a URL with two schemes (glance_store refuses it too); not deleted")
        }
        let parts = url.remainder.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 3 else {
            throw StoreError(.unsupported, "\(url.scheme)://…: not an S3 location (expected \(url.scheme)://HOST/BUCKET/KEY); not deleted")
        }
        return (String(parts[parts.count - 2]), String(parts[parts.count - 1]))
    }

    public func delete(_ url: LocationURL, permit: @escaping @Sendable () -> Bool) async throws -> LocationOutcome {
        try await deleteMeasuring(url, permit: permit).outcome
    }

    public func deleteMeasuring(
        _ url: LocationURL,
        permit: @escaping @Sendable () -> Bool
    ) async throws -> (outcome: LocationOutcome, bytes: Int64?) {
        let (bucket, key) = try Self.parse(url)
        let endpoint = try self.endpoint()
        let head = try await send("HEAD", endpoint, bucket: bucket, key: key)
        switch head.status {
        case 404: return (.notFound, nil)
        case 200...299: break
        case let status: throw failure(status, "HEAD", bucket, key)
        }
        let bytes = head.headers.first(name: "Content-Length").flatMap(Int64.init)
        try await refuseVersioned(bucket, endpoint)
        guard permit() else { throw StoreError.permitWithdrawn }
        switch try await send("DELETE", endpoint, bucket: bucket, key: key).status {
        case 200...299: return (.deleted, bytes)
        case 404: return (.notFound, bytes)
        case let status: throw failure(status, "DELETE", bucket, key)
        }
    }

    public func exists(_ url: LocationURL) async throws -> Bool {
        let (bucket, key) = try Self.parse(url)
        switch try await send("HEAD", try endpoint(), bucket: bucket, key: key).status {
        case 404: return false
        case 200...299: return true
        case let status: throw failure(status, "HEAD", bucket, key)
        }
    }

    // MARK: Requests

    struct Endpoint {
        var scheme: String
        var host: String
        var signer: SigV4Signer
        var virtual: (String) -> Bool
    }

    private func endpoint() throws -> Endpoint {
        var missing: [String] = []
        if options.host == nil { missing.append("s3_store_host") }
        if options.accessKey == nil { missing.append("s3_store_access_key") }
        if options.secretKey == nil { missing.append("s3_store_secret_key") }
        guard let host = options.host, let access = options.accessKey, let secret = options.secretKey else {
            throw StoreError(.misconfigured, "store \(name) (s3) has no \(missing.joined(separator: ", ")); not deleted")
        }
        var scheme = "http"
        var bare = host
        if host.hasPrefix("https://") {
            scheme = "https"
            bare = String(host.dropFirst(8))
        } else if host.hasPrefix("http://") {
            bare = String(host.dropFirst(7))
        }
        while bare.hasSuffix("/") { bare.removeLast() }
        let region = options.regionName ?? Self.region(ofHost: bare) ?? "us-east-1"
        let format = options.bucketURLFormat
        let amazon = bare.hasSuffix(".amazonaws.com") || bare.hasSuffix(".amazonaws.com.cn")
        return Endpoint(
            scheme: scheme,
            host: bare,
            signer: SigV4Signer(credentials: .init(accessKey: access, secretKey: secret), region: region),
            virtual: { bucket in format == "virtual" || (format == "auto" && amazon && Self.isDNSSafe(bucket)) }
        )
    }

    /// glance_store's `get_s3_location`: the region an `s3-REGION.amazonaws.com` host names.
    static func region(ofHost host: String) -> String? {
        let name = host.split(separator: ":").first.map(String.init) ?? host
        guard name.hasPrefix("s3-"), let dot = name.firstIndex(of: ".") else { return nil }
        let rest = name[dot...]
        guard rest == ".amazonaws.com" || rest == ".amazonaws.com.cn" else { return nil }
        return String(name[name.index(name.startIndex, offsetBy: 3)..<dot])
    }

    static func isDNSSafe(_ bucket: String) -> Bool {
        (3...63).contains(bucket.count) && !bucket.contains("..")
            && bucket.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }
            && bucket.first.map { $0.isLetter || $0.isNumber } == true
    }

    // MARK: Versioned buckets

    /// Buckets whose versioning was read, with when (read again after five minutes).
    private let versioning = Mutex<[String: (enabled: Bool, at: ContinuousClock.Instant)]>([:])

    /// Throws `misconfigured` for a bucket with versioning `Enabled`: a DELETE there only adds
    /// a delete marker, the data stays as a noncurrent version, and the image would be marked
    /// deleted with nothing reclaimed. Read with `GET ?versioning` once per bucket per five
    /// minutes; a bucket whose versioning cannot be read (no permission) is not refused.
    private func refuseVersioned(_ bucket: String, _ endpoint: Endpoint) async throws {
        let now = ContinuousClock.now
        var enabled = versioning.withLock { known in known[bucket].flatMap { now - $0.at < .seconds(300) ? $0.enabled : nil } }
        if enabled == nil {
            let answer = try await send("GET", endpoint, bucket: bucket, key: "", query: "versioning")
            if answer.status == 429 || answer.status >= 500 { throw failure(answer.status, "GET ?versioning", bucket, "") }
            let read = (200...299).contains(answer.status) && String(buffer: answer.body).contains("<Status>Enabled</Status>")
            versioning.withLock { $0[bucket] = (read, now) }
            enabled = read
        }
        if enabled == true {
            throw StoreError(
                .misconfigured,
                "bucket \(bucket) on \(name) has versioning enabled: a DELETE would only add a delete marker and reclaim nothing (suspend versioning, or expire noncurrent versions and delete these by hand); not deleted"
            )
        }
    }

    /// Writes `bytes` at `url` (making its bucket if need be): `scrubber bench` seeds with it;
    /// nodes only delete.
    public func upload(_ url: LocationURL, bytes: [UInt8]) async throws {
        let (bucket, key) = try Self.parse(url)
        let endpoint = try self.endpoint()
        for attempt in 0..<2 {
            let status = try await send("PUT", endpoint, bucket: bucket, key: key, body: bytes).status
            if (200...299).contains(status) { return }
            guard status == 404, attempt == 0 else { throw failure(status, "PUT", bucket, key) }
            let made = try await send("PUT", endpoint, bucket: bucket, key: "", body: []).status
            guard (200...299).contains(made) || made == 409 else { throw failure(made, "PUT (bucket)", bucket, "") }
        }
    }

    /// One signed request; S3's `SlowDown` (whatever its status) comes back as a 503.
    private func send(
        _ method: String,
        _ endpoint: Endpoint,
        bucket: String,
        key: String,
        query: String? = nil,
        body: [UInt8] = []
    ) async throws -> HTTPStoreClient.Response {
        let virtual = endpoint.virtual(bucket)
        let host = virtual ? "\(bucket).\(endpoint.host)" : endpoint.host
        let path = virtual ? "/\(key)" : (key.isEmpty ? "/\(bucket)" : "/\(bucket)/\(key)")
        let payloadHash = body.isEmpty ? SigV4Signer.emptyPayloadHash : SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        let signing = SigV4Signer.Request(
            method: method,
            path: path,
            query: query.map { [($0, "")] } ?? [],
            headers: [("Host", host), ("x-amz-content-sha256", payloadHash)]
        )
        var request = HTTPClientRequest(
            url: "\(endpoint.scheme)://\(host)\(SigV4Signer.encode(path, keepSlash: true))\(query.map { "?\($0)" } ?? "")"
        )
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in signing.headers + endpoint.signer.sign(signing, payloadHash: payloadHash, at: Date()) where name != "Host" {
            request.headers.add(name: name, value: value)
        }
        if !body.isEmpty {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Content-Length", value: "\(body.count)")
        }
        var response = try await client.send(request, what: "\(method) \(bucket)/\(key)", limit: 64 << 10)
        if String(buffer: response.body).contains("<Code>SlowDown</Code>") { response.status = 503 }
        return response
    }

    private func failure(_ status: Int, _ method: String, _ bucket: String, _ key: String) -> StoreError {
        StoreError.answered(
            status,
            what: "\(method) \(bucket)/\(key) on \(name)",
            hint: "check s3_store_access_key and s3_store_secret_key"
        )
    }
}
