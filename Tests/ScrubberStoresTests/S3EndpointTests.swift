import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ScrubberStores
import TestSupport
import Testing

/// The S3 signer against a real S3 endpoint: Swift's s3api on a Swift All-In-One started for
/// the test. It accepts what the signer signs (list, bucket and object writes, HEAD, DELETE),
/// and refuses a wrong secret as a bad signature.
@Suite(.serialized, .tags(.startsServers, .spawnsProcesses)) struct S3EndpointTests {
    struct Answer {
        var status: Int
        var body: String
    }

    /// A request signed by `signer`, sent to the SAIO's S3 endpoint (path style).
    static func send(
        _ server: SwiftTestServer,
        _ signer: SigV4Signer,
        _ method: String,
        _ path: String,
        body: String = ""
    ) async throws -> Answer {
        let payload = Data(body.utf8)
        let payloadHash = SigV4Signer.hexSHA256(payload)
        let host = "127.0.0.1:\(server.proxyPort)"
        let request = SigV4Signer.Request(method: method, path: path, headers: [("Host", host), ("x-amz-content-sha256", payloadHash)])
        var http = HTTPClientRequest(url: server.proxyURL + SigV4Signer.encode(path, keepSlash: true))
        http.method = HTTPMethod(rawValue: method)
        for (name, value) in request.headers + signer.sign(request, payloadHash: payloadHash, at: Date()) where name != "Host" {
            http.headers.add(name: name, value: value)
        }
        if !payload.isEmpty { http.body = .bytes(ByteBuffer(bytes: payload)) }
        let response = try await HTTPClient.shared.execute(http, timeout: .seconds(Int64(patienceSeconds)))
        let text = try await response.body.collect(upTo: 1 << 20)
        return Answer(status: Int(response.status.code), body: String(buffer: text))
    }

    static let signer = SigV4Signer(
        credentials: .init(accessKey: SwiftTestServer.s3.accessKey, secretKey: SwiftTestServer.s3.secretKey),
        region: SwiftTestServer.s3Region
    )

    @Test func aRealEndpointAcceptsWhatTheSignerSignsAndRefusesAWrongSecret() async throws {
        let server = try await SwiftTestServer.start()
        defer { server.destroy() }
        let signer = Self.signer

        let list = try await Self.send(server, signer, "GET", "/")
        #expect(list.status == 200 && list.body.contains("ListAllMyBucketsResult"), "\(list)")
        #expect(try await Self.send(server, signer, "PUT", "/images").status == 200)
        // A key with characters the signer must encode, as an image id never has but a prefix might.
        let key = "/images/0f3a b+c$d"
        #expect(try await Self.send(server, signer, "PUT", key, body: "image data").status == 200)
        #expect(try await Self.send(server, signer, "HEAD", key).status == 200)
        #expect(try await Self.send(server, signer, "DELETE", key).status == 204)
        #expect(try await Self.send(server, signer, "HEAD", key).status == 404, "gone")
        #expect(try await Self.send(server, signer, "DELETE", key).status == 204, "S3 answers a delete of nothing with 204")

        let wrong = SigV4Signer(
            credentials: .init(accessKey: SwiftTestServer.s3.accessKey, secretKey: "not-the-secret"),
            region: SwiftTestServer.s3Region
        )
        let refused = try await Self.send(server, wrong, "GET", "/")
        #expect(refused.status == 403 && refused.body.contains("SignatureDoesNotMatch"), "\(refused)")
    }
}
