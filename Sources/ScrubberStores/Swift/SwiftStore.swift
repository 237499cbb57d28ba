import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ScrubberCore

/// Deletes what glance_store's single-tenant Swift driver wrote (``SwiftLocation`` reads the
/// URL), as glance_store deletes it, without what it gets wrong:
///
/// 1. HEAD the object; 404: already gone.
/// 2. A static large object (`X-Static-Large-Object: True`): its manifest's segments are
///    deleted one by one, then the manifest with `?multipart-manifest=delete`, whose answer is
///    read. glance_store sends only that request and ignores the segment errors its answer
///    lists; and since Swift deletes the manifest even when a segment fails, the next attempt
///    would find nothing and the segment would leak. Here the manifest goes last, and only
///    when every segment is gone.
/// 3. A dynamic large object (`X-Object-Manifest: CONTAINER/PREFIX`): every object listed under
///    the prefix is deleted, then the manifest; one that fails keeps the manifest, so the
///    next attempt lists the rest again. A prefix that does not begin with the object's name
///    (glance_store writes `ID-`, the swift CLI `ID/…` in `CONTAINER_segments`) is refused: it
///    could name other objects.
/// 4. Anything else: DELETE. A 404 at any step is gone.
///
/// One login per account, reused until it expires; a 401 logs in again once
/// (``SwiftAuthenticator``). Failures begin with their class (``FailureClass``).
public final class SwiftStore: ImageStore {
    public let name: String
    private let options: SwiftOptions
    private let client: HTTPStoreClient
    private let authenticator: SwiftAuthenticator
    /// Segment deletes in flight for one large object.
    private let segmentConcurrency = 8

    /// - Parameters:
    ///   - connections: connections to the store at most (its `max_concurrent_deletes`).
    ///   - timeout: for each request.
    public init(name: String, options: SwiftOptions, connections: Int = 32, timeout: TimeAmount = .seconds(30)) {
        self.name = name
        self.options = options
        client = HTTPStoreClient(
            store: name,
            connections: connections,
            timeout: timeout,
            insecure: options.insecure,
            caFile: options.caFile
        )
        authenticator = SwiftAuthenticator(client: client, options: options)
    }

    /// Logins so far (one per account while tokens last).
    public var loginCount: Int {
        get async { await authenticator.loginCount }
    }

    public func delete(_ url: LocationURL, permit: @escaping @Sendable () -> Bool) async throws -> LocationOutcome {
        try await deleteMeasuring(url, permit: permit).outcome
    }

    public func deleteMeasuring(
        _ url: LocationURL,
        permit: @escaping @Sendable () -> Bool
    ) async throws -> (outcome: LocationOutcome, bytes: Int64?) {
        let location = try locate(url)
        let object = Object(container: location.container, name: location.object)
        let head = try await call("HEAD", location.credentials, object)
        switch head.status {
        case 404: return (.notFound, nil)
        case 200...299: break
        default: throw failure(head.status, "HEAD", object)
        }
        let bytes = head.headers.first(name: "Content-Length").flatMap(Int64.init)
        guard permit() else { throw StoreError.permitWithdrawn }
        if head.headers.first(name: "X-Static-Large-Object")?.lowercased() == "true" {
            return (try await deleteStaticLargeObject(object, location.credentials, permit: permit), bytes)
        }
        if let manifest = head.headers.first(name: "X-Object-Manifest") {
            try await deleteSegments(ofDynamic: object, manifest: manifest, location.credentials, permit: permit)
        }
        let answer = try await call("DELETE", location.credentials, object)
        switch answer.status {
        case 200...299: return (.deleted, bytes)
        case 404: return (.notFound, bytes)
        default: throw failure(answer.status, "DELETE", object)
        }
    }

    public func exists(_ url: LocationURL) async throws -> Bool {
        let location = try locate(url)
        let object = Object(container: location.container, name: location.object)
        let head = try await call("HEAD", location.credentials, object)
        switch head.status {
        case 404: return false
        case 200...299: return true
        default: throw failure(head.status, "HEAD", object)
        }
    }

    /// Writes `bytes` at `url` (making its container if need be): `scrubber bench` seeds with
    /// it; nodes only delete.
    public func upload(_ url: LocationURL, bytes: [UInt8]) async throws {
        let location = try locate(url)
        let object = Object(container: location.container, name: location.object)
        for attempt in 0..<2 {
            let status = try await call("PUT", location.credentials, object, body: bytes).status
            if (200...299).contains(status) { return }
            guard status == 404, attempt == 0 else { throw failure(status, "PUT", object) }
            let made = try await call("PUT", location.credentials, Object(container: object.container, name: "")).status
            guard (200...299).contains(made) else { throw failure(made, "PUT (container)", object) }
        }
    }

    private func locate(_ url: LocationURL) throws -> SwiftLocation {
        guard !options.multiTenant else {
            throw StoreError(
                .unsupported,
                "store \(name) has swift_store_multi_tenant = true: its objects live in users' own accounts, which only their tokens can delete; not deleted"
            )
        }
        return try SwiftLocation(url, options: options, store: name)
    }

    // MARK: Large objects

    struct Object: CustomStringConvertible {
        var container: String
        var name: String
        var description: String { "\(container)/\(name)" }
    }

    /// Segments first, then the manifest (see the type's documentation).
    private func deleteStaticLargeObject(
        _ manifest: Object,
        _ account: SwiftReference,
        permit: @escaping @Sendable () -> Bool
    ) async throws -> LocationOutcome {
        let listing = try await call("GET", account, manifest, query: "multipart-manifest=get", limit: 64 << 20)
        switch listing.status {
        case 404: return .notFound
        case 200...299: break
        default: throw failure(listing.status, "GET (manifest)", manifest)
        }
        guard let entries = try? JSONSerialization.jsonObject(with: Data(listing.body.readableBytesView)) as? [[String: Any]] else {
            throw StoreError(.transient, "the manifest of \(manifest) on \(name) is not a JSON list of segments; not deleted")
        }
        var segments: [(Object, nested: Bool)] = []
        for entry in entries {
            guard let path = entry["name"] as? String else { continue }  // a data segment has none
            let parts = path.drop { $0 == "/" }.split(separator: "/", maxSplits: 1)
            guard parts.count == 2 else { continue }
            segments.append((Object(container: String(parts[0]), name: String(parts[1])), entry["sub_slo"] as? Bool ?? false))
        }
        try await deleteAll(segments, of: manifest, account, permit: permit)
        guard permit() else { throw StoreError.permitWithdrawn }
        return try await deleteManifest(manifest, account)
    }

    /// `DELETE ?multipart-manifest=delete`, its bulk answer read: every error in it fails the delete.
    private func deleteManifest(_ manifest: Object, _ account: SwiftReference) async throws -> LocationOutcome {
        let answer = try await call(
            "DELETE",
            account,
            manifest,
            query: "multipart-manifest=delete",
            headers: [("Accept", "application/json")]
        )
        switch answer.status {
        case 404: return .notFound
        case 200...299: break
        default: throw failure(answer.status, "DELETE (manifest)", manifest)
        }
        guard let result = try? JSONSerialization.jsonObject(with: Data(answer.body.readableBytesView)) as? [String: Any] else {
            throw StoreError(
                .transient,
                "DELETE ?multipart-manifest=delete of \(manifest) on \(name) answered \(answer.status) with no bulk result; not deleted"
            )
        }
        let errors = (result["Errors"] as? [[Any]] ?? []).map { pair in pair.map { "\($0)" }.joined(separator: ": ") }
        let status = result["Response Status"] as? String ?? ""
        guard status.hasPrefix("2"), errors.isEmpty else {
            let code = Int(status.prefix(3)) ?? 500
            let kind = FailureClass(httpStatus: code) ?? .transient
            throw StoreError(
                kind,
                "DELETE ?multipart-manifest=delete of \(manifest) on \(name): \(status)\(errors.isEmpty ? "" : ", " + errors.joined(separator: "; ")); not deleted"
            )
        }
        return (result["Number Deleted"] as? Int ?? 0) > 0 ? .deleted : .notFound
    }

    /// Deletes every object under a DLO manifest's prefix (not the manifest itself).
    private func deleteSegments(
        ofDynamic manifest: Object,
        manifest value: String,
        _ account: SwiftReference,
        permit: @escaping @Sendable () -> Bool
    ) async throws {
        let decoded = value.removingPercentEncoding ?? value
        let parts = decoded.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw StoreError(
                .unsupported,
                "\(manifest) on \(name) has a malformed X-Object-Manifest '\(value)' (expected CONTAINER/PREFIX); not deleted"
            )
        }
        let container = String(parts[0])
        let prefix = String(parts[1])
        guard prefix.hasPrefix(manifest.name) else {
            throw StoreError(
                .unsupported,
                "the segments of \(manifest) on \(name) are everything under '\(decoded)', a prefix that does not begin with the object's name and may hold other data; delete them by hand; not deleted"
            )
        }
        var segments: [(Object, nested: Bool)] = []
        var marker = ""
        while true {
            var query = "format=json&prefix=\(SigV4Signer.encode(prefix))"
            if !marker.isEmpty { query += "&marker=\(SigV4Signer.encode(marker))" }
            let page = try await call("GET", account, Object(container: container, name: ""), query: query, limit: 64 << 20)
            if page.status == 404 { break }  // no segment container: no segments
            guard (200...299).contains(page.status) else {
                throw failure(page.status, "GET (segment listing)", Object(container: container, name: "?prefix=\(prefix)"))
            }
            guard page.body.readableBytes > 0 else { break }
            guard let items = try? JSONSerialization.jsonObject(with: Data(page.body.readableBytesView)) as? [[String: Any]] else {
                throw StoreError(.transient, "the listing of \(container) on \(name) is not JSON; not deleted")
            }
            let names = items.compactMap { $0["name"] as? String }
            guard let last = names.last else { break }
            for name in names where !(container == manifest.container && name == manifest.name) {
                segments.append((Object(container: container, name: name), false))
            }
            marker = last
        }
        try await deleteAll(segments, of: manifest, account, permit: permit)
        guard permit() else { throw StoreError.permitWithdrawn }
    }

    /// Deletes `segments`, a few at a time; 404 is gone. Every failure is collected and thrown
    /// as one error of the most pressing class, naming the segments.
    private func deleteAll(
        _ segments: [(Object, nested: Bool)],
        of manifest: Object,
        _ account: SwiftReference,
        permit: @escaping @Sendable () -> Bool
    ) async throws {
        var failures: [(Object, StoreError)] = []
        var withdrawn = false
        try await withThrowingTaskGroup(of: (Object, StoreError?).self) { group in
            var next = segments.makeIterator()
            func start() -> Bool {
                guard let (segment, nested) = next.next() else { return false }
                group.addTask {
                    do {
                        if nested {
                            _ = try await self.deleteManifest(segment, account)
                            return (segment, nil)
                        }
                        let answer = try await self.call("DELETE", account, segment)
                        guard (200...299).contains(answer.status) || answer.status == 404 else {
                            return (segment, self.failure(answer.status, "DELETE (segment)", segment))
                        }
                        return (segment, nil)
                    } catch let error as StoreError {
                        return (segment, error)
                    }
                }
                return true
            }
            for _ in 0..<segmentConcurrency where permit() {
                guard start() else { break }
            }
            while let (segment, error) = try await group.next() {
                if let error { failures.append((segment, error)) }
                if !permit() {
                    withdrawn = true
                    continue
                }
                _ = start()
            }
        }
        if !failures.isEmpty {
            let order: [FailureClass] = [.misconfigured, .throttled, .transient, .unsupported]
            let kind = order.first { kind in failures.contains { $0.1.failureClass == kind } } ?? .transient
            let named = failures.prefix(5).map { "\($0.0): \($0.1)" }.joined(separator: " | ")
            throw StoreError(
                kind,
                "\(failures.count) of \(segments.count) segments of \(manifest) on \(name) not deleted (\(named)); the manifest is kept for the next attempt; not deleted"
            )
        }
        if withdrawn { throw StoreError.permitWithdrawn }
    }

    // MARK: Requests

    /// One request with the account's token; a 401 logs in again and retries once.
    private func call(
        _ method: String,
        _ account: SwiftReference,
        _ object: Object,
        query: String? = nil,
        headers: [(String, String)] = [],
        body: [UInt8]? = nil,
        limit: Int = 1 << 20
    ) async throws -> HTTPStoreClient.Response {
        var session = try await authenticator.session(for: account)
        var path = "/" + SigV4Signer.encode(object.container)
        if !object.name.isEmpty { path += "/" + SigV4Signer.encode(object.name, keepSlash: true) }
        var attempt = 0
        while true {
            let base = session.storageURL.hasSuffix("/") ? String(session.storageURL.dropLast()) : session.storageURL
            var request = HTTPClientRequest(url: base + path + (query.map { "?" + $0 } ?? ""))
            request.method = HTTPMethod(rawValue: method)
            request.headers.add(name: "X-Auth-Token", value: session.token)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let body {
                request.body = .bytes(ByteBuffer(bytes: body))
                request.headers.add(name: "Content-Length", value: "\(body.count)")
            }
            let response = try await client.send(request, what: "\(method) \(object)", limit: limit)
            guard response.status == 401, attempt == 0 else { return response }
            attempt += 1
            await authenticator.invalidate(session, for: account)
            session = try await authenticator.session(for: account)
        }
    }

    private func failure(_ status: Int, _ method: String, _ object: Object) -> StoreError {
        let hint =
            status == 401
            ? "Swift refused a fresh token too: check the account reference's project and roles"
            : "the account may not write \(object.container)"
        return StoreError.answered(status, what: "\(method) \(object) on \(name)", hint: hint)
    }
}
