import Foundation
import Testing

@testable import ScrubberStores

/// The S3 signer against AWS's published examples: the SigV4 test suite's cases (example
/// credentials `AKIDEXAMPLE`, 2015-08-30 12:36:00 UTC, us-east-1, service `service`) and the
/// Amazon S3 API Reference's "Signature Calculations for the Authorization Header" examples
/// (`AKIAIOSFODNN7EXAMPLE`, 2013-05-24, bucket `examplebucket`). A signer that drifts by one
/// byte of canonical form gets every one of them wrong.
@Suite struct SigV4Tests {
    static let suite = SigV4Signer(
        credentials: .init(accessKey: "AKIDEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1",
        service: "service"
    )
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
    static let s3 = SigV4Signer(
        credentials: .init(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1"
    )
    static let s3Date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z

    static func authorization(_ headers: [(name: String, value: String)]) -> String? {
        headers.first { $0.name == "Authorization" }?.value
    }

    @Test func theTestSuitesGetVanillaStepByStep() throws {
        let request = SigV4Signer.Request(
            method: "GET",
            path: "/",
            headers: [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]
        )
        let canonical = Self.suite.canonical(request, payloadHash: SigV4Signer.emptyPayloadHash)
        #expect(
            canonical.request == """
                GET
                /

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """
        )
        let stringToSign = SigV4Signer.stringToSign(
            amzDate: "20150830T123600Z",
            scope: "20150830/us-east-1/service/aws4_request",
            canonicalRequest: canonical.request
        )
        #expect(stringToSign.hasSuffix("\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"))
        #expect(SigV4Signer.timestamps(Self.suiteDate) == ("20150830T123600Z", "20150830"))
    }

    @Test(arguments: [
        ("get-vanilla", "GET", [(String, String)](), "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        (
            "get-vanilla-query-order-key-case", "GET", [("Param2", "value2"), ("Param1", "value1")],
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        ),
        ("post-vanilla", "POST", [], "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ])
    func theTestSuitesCases(name: String, method: String, query: [(String, String)], signature: String) {
        let request = SigV4Signer.Request(
            method: method,
            path: "/",
            query: query.map { (name: $0.0, value: $0.1) },
            headers: [("Host", "example.amazonaws.com")]
        )
        let headers = Self.suite.sign(request, at: Self.suiteDate)
        #expect(headers.first { $0.name == "x-amz-date" }?.value == "20150830T123600Z")
        #expect(
            Self.authorization(headers) == """
                AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                SignedHeaders=host;x-amz-date, Signature=\(signature)
                """,
            "\(name)"
        )
    }

    /// S3's documented GET Object (a ranged read of `test.txt`).
    @Test func s3sDocumentedGetObject() {
        let request = SigV4Signer.Request(
            method: "GET",
            path: "/test.txt",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"), ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash),
            ]
        )
        #expect(
            Self.authorization(Self.s3.sign(request, at: Self.s3Date)) == """
                AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
                SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
                Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41
                """
        )
    }

    /// S3's documented PUT Object: a key with a character to encode (`$`), a signed payload.
    @Test func s3sDocumentedPutObject() {
        let payload = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"  // "Welcome to Amazon S3."
        let request = SigV4Signer.Request(
            method: "PUT",
            path: "/test$file.text",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"), ("x-amz-content-sha256", payload),
            ]
        )
        #expect(Self.s3.canonical(request, payloadHash: payload).request.hasPrefix("PUT\n/test%24file.text\n\n"))
        #expect(
            Self.authorization(Self.s3.sign(request, payloadHash: payload, at: Self.s3Date)) == """
                AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
                SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, \
                Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd
                """
        )
    }

    /// S3's documented GET Bucket Lifecycle (a query parameter without a value) and GET Bucket
    /// (two parameters, sorted).
    @Test(arguments: [
        ([("lifecycle", "")], "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        ([("prefix", "J"), ("max-keys", "2")], "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ])
    func s3sDocumentedBucketRequests(query: [(String, String)], signature: String) {
        let request = SigV4Signer.Request(
            method: "GET",
            path: "/",
            query: query.map { (name: $0.0, value: $0.1) },
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash),
            ]
        )
        #expect(Self.authorization(Self.s3.sign(request, at: Self.s3Date))?.hasSuffix("Signature=\(signature)") == true)
    }

    @Test func encodingIsRFC3986ByteByByteAndHeaderValuesAreFolded() {
        #expect(SigV4Signer.encode("a b/ü~*") == "a%20b%2F%C3%BC~%2A")
        #expect(SigV4Signer.encode("/bucket/a b", keepSlash: true) == "/bucket/a%20b")
        #expect(SigV4Signer.trimmed("  a   b  c ") == "a b c")
        let token = SigV4Signer(credentials: .init(accessKey: "AK", secretKey: "SK", sessionToken: "TOKEN"), region: "r")
        let headers = token.sign(.init(method: "HEAD", path: "/b/k", headers: [("Host", "h")]), at: Self.s3Date)
        #expect(headers.contains { $0 == ("x-amz-security-token", "TOKEN") })
        #expect(Self.authorization(headers)?.contains("SignedHeaders=host;x-amz-date;x-amz-security-token") == true)
    }
}
