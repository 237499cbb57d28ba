import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ScrubberCore

/// Logs in to Swift once per account and hands the token to every delete until it expires.
///
/// - Keystone v3 (what glance_store 5.7.0 speaks): `POST AUTH/auth/tokens` with the password
///   method and a project scope (`user = PROJECT:USER`, domains from the reference, `default`
///   when unset); the storage URL is the catalog's `swift_store_service_type` endpoint of
///   `swift_store_endpoint_type` in `swift_store_region` (or `swift_store_endpoint`).
/// - v1 (tempauth, swauth), for an auth address ending in `/v1.0`: `GET` with `X-Auth-User`
///   and `X-Auth-Key`; the storage URL is `X-Storage-Url`.
///
/// Concurrent deletes of one account wait for one login. A token is used until a minute before
/// it expires, or until Swift refuses it (``invalidate(_:)``).
actor SwiftAuthenticator {
    struct Session: Equatable {
        var token: String
        var storageURL: String
        var expires: Date
    }

    private let client: HTTPStoreClient
    private let options: SwiftOptions
    private var sessions: [SwiftReference: Session] = [:]
    private var logins: [SwiftReference: Task<Session, any Error>] = [:]
    /// Logins made (tests and the benchmark read it: one per account, not one per delete).
    private(set) var loginCount = 0

    init(client: HTTPStoreClient, options: SwiftOptions) {
        self.client = client
        self.options = options
    }

    /// A session for `account`: the cached one while it is good, else a new login.
    func session(for account: SwiftReference) async throws -> Session {
        if let session = sessions[account], session.expires.timeIntervalSinceNow > 60 { return session }
        if let login = logins[account] { return try await login.value }
        let login = Task { try await self.login(account) }
        logins[account] = login
        defer { logins[account] = nil }
        let session = try await login.value
        sessions[account] = session
        return session
    }

    /// Forgets `session` (Swift answered 401 with it), unless a newer one replaced it already.
    func invalidate(_ session: Session, for account: SwiftReference) {
        if sessions[account] == session { sessions[account] = nil }
    }

    // MARK: Logins

    private func login(_ account: SwiftReference) async throws -> Session {
        loginCount += 1
        guard let auth = URL(string: account.authAddress), let scheme = auth.scheme, ["http", "https"].contains(scheme), auth.host != nil
        else {
            throw StoreError(
                .misconfigured,
                "auth_address '\(account.authAddress)' of store \(client.store) is not an http(s) URL; not deleted"
            )
        }
        let path = auth.path.hasSuffix("/") ? String(auth.path.dropLast()) : auth.path
        if path.hasSuffix("/v1.0") || path.hasSuffix("/v1") {
            return try await loginV1(account)
        }
        return try await loginV3(account, base: path.isEmpty ? account.authAddress + "/v3" : account.authAddress)
    }

    private func loginV3(_ account: SwiftReference, base: String) async throws -> Session {
        let (project, user) = try Self.split(account)
        func domain(id: String?, name: String?) -> [String: String] {
            if let id { return ["id": id] }
            if let name { return ["name": name] }
            return ["id": "default"]
        }
        let body: [String: Any] = [
            "auth": [
                "identity": [
                    "methods": ["password"],
                    "password": [
                        "user": [
                            "name": user, "password": account.key,
                            "domain": domain(id: account.userDomainID, name: account.userDomainName),
                        ]
                    ],
                ],
                "scope": ["project": ["name": project, "domain": domain(id: account.projectDomainID, name: account.projectDomainName)]],
            ]
        ]
        let url = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/auth/tokens"
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let what = "Keystone login of \(account.user) at \(url)"
        let response = try await client.send(request, what: what)
        guard response.status == 201 || response.status == 200 else {
            throw StoreError.answered(response.status, what: what, hint: "check user, key and the domains of the account reference")
        }
        guard let token = response.headers.first(name: "X-Subject-Token"),
            let json = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any],
            let answer = json["token"] as? [String: Any]
        else {
            throw StoreError(.transient, "\(what) answered \(response.status) without a token; not deleted")
        }
        let expires = (answer["expires_at"] as? String).flatMap(Self.parseDate) ?? Date().addingTimeInterval(3600)
        if let endpoint = options.endpoint {
            return Session(token: token, storageURL: endpoint, expires: expires)
        }
        let catalog = answer["catalog"] as? [[String: Any]] ?? []
        guard let storage = Self.endpoint(in: catalog, type: options.serviceType, interface: options.endpointType, region: options.region)
        else {
            let region = options.region.map { " in region \($0)" } ?? ""
            throw StoreError(
                .misconfigured,
                "Keystone's catalog for \(account.user) has no \(options.serviceType) endpoint of swift_store_endpoint_type \(options.endpointType)\(region); not deleted"
            )
        }
        return Session(token: token, storageURL: storage, expires: expires)
    }

    private func loginV1(_ account: SwiftReference) async throws -> Session {
        var request = HTTPClientRequest(url: account.authAddress)
        request.headers.add(name: "X-Auth-User", value: account.user)
        request.headers.add(name: "X-Auth-Key", value: account.key)
        let what = "v1 login of \(account.user) at \(account.authAddress)"
        let response = try await client.send(request, what: what)
        guard (200...299).contains(response.status) else {
            throw StoreError.answered(response.status, what: what, hint: "check user and key of the account reference")
        }
        guard let token = response.headers.first(name: "X-Auth-Token"), let storage = response.headers.first(name: "X-Storage-Url") else {
            throw StoreError(.transient, "\(what) answered \(response.status) without a token; not deleted")
        }
        let life = response.headers.first(name: "X-Auth-Token-Expires").flatMap(Double.init) ?? 3600
        return Session(token: token, storageURL: options.endpoint ?? storage, expires: Date().addingTimeInterval(life))
    }

    /// `PROJECT:USER` (glance_store's `tenant_name, user = location.user.split(':')`).
    static func split(_ account: SwiftReference) throws -> (project: String, user: String) {
        let parts = account.user.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw StoreError(.misconfigured, "user '\(account.user)' is not PROJECT:USER; not deleted")
        }
        return (String(parts[0]), String(parts[1]))
    }

    /// The URL of the first endpoint of `type` with `interface` (`publicURL` or `public`) in
    /// `region` (any when nil), as keystoneauth's `url_for` picks it.
    static func endpoint(in catalog: [[String: Any]], type: String, interface: String, region: String?) -> String? {
        let wanted = interface.hasSuffix("URL") ? String(interface.dropLast(3)) : interface
        for service in catalog where service["type"] as? String == type {
            for endpoint in service["endpoints"] as? [[String: Any]] ?? [] where endpoint["interface"] as? String == wanted {
                if let region, endpoint["region_id"] as? String != region, endpoint["region"] as? String != region { continue }
                if let url = endpoint["url"] as? String { return url }
            }
        }
        return nil
    }

    /// Keystone's `expires_at` (`2026-12-05T04:00:00.000000Z`: microseconds, which
    /// ISO8601DateFormatter does not read; the fraction is dropped).
    static func parseDate(_ text: String) -> Date? {
        var whole = text
        if let dot = text.firstIndex(of: ".") {
            let zone = text[dot...].firstIndex { $0 == "Z" || $0 == "+" || $0 == "-" } ?? text.endIndex
            whole = String(text[..<dot] + text[zone...])
        }
        if !whole.hasSuffix("Z"), !whole.dropFirst(19).contains(where: { $0 == "+" || $0 == "-" }) { whole += "Z" }
        return ISO8601DateFormatter().date(from: whole)
    }
}
