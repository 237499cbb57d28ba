import Crypto
import Foundation

/// AWS Signature Version 4 for S3 requests (`Authorization` header, signed payload hash),
/// written from AWS's specification and checked against its published examples: there is
/// no AWS SDK for Swift here.
///
/// S3's rules: the path is URI-encoded once (each segment; `/` kept) and never normalised;
/// the query is encoded and sorted by name, then value; header values are trimmed, inner
/// runs of spaces folded to one. Other services encode the path twice; this signer is S3's.
public struct SigV4Signer: Sendable {
    public struct Credentials: Sendable, Hashable {
        public var accessKey: String
        public var secretKey: String
        /// For temporary credentials: sent and signed as `x-amz-security-token`.
        public var sessionToken: String?

        public init(accessKey: String, secretKey: String, sessionToken: String? = nil) {
            self.accessKey = accessKey
            self.secretKey = secretKey
            self.sessionToken = sessionToken
        }
    }

    /// A request to sign: the method, the unencoded path (`/bucket/key`), the unencoded
    /// query, and the headers to send (`host` among them; names in any case).
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var query: [(name: String, value: String)]
        public var headers: [(name: String, value: String)]

        public init(
            method: String,
            path: String,
            query: [(name: String, value: String)] = [],
            headers: [(name: String, value: String)]
        ) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
        }
    }

    /// The SHA-256 of an empty payload, in hex: what a HEAD, GET or DELETE signs.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public let credentials: Credentials
    public let region: String
    public let service: String

    public init(credentials: Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The headers to add to `request` so that it is signed at `date`: `x-amz-date`, the
    /// session token if any, and `Authorization`. `payloadHash` is the hex SHA-256 of the body
    /// (sign it as `x-amz-content-sha256` too, as S3 requires, by passing that header in).
    public func sign(
        _ request: Request,
        payloadHash: String = SigV4Signer.emptyPayloadHash,
        at date: Date
    ) -> [(name: String, value: String)] {
        let (amzDate, day) = Self.timestamps(date)
        var added: [(name: String, value: String)] = [("x-amz-date", amzDate)]
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        var signing = request
        signing.headers += added
        let parts = canonical(signing, payloadHash: payloadHash)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = Self.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: parts.request)
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day: day)))
        added.append(
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope), SignedHeaders=\(parts.signedHeaders), Signature=\(signature)"
            )
        )
        return added
    }

    /// The canonical request and its signed-header list (exposed for the test vectors).
    func canonical(_ request: Request, payloadHash: String) -> (request: String, signedHeaders: String) {
        var byName: [String: [String]] = [:]
        for (name, value) in request.headers {
            byName[name.lowercased(), default: []].append(Self.trimmed(value))
        }
        let names = byName.keys.sorted()
        let headers = names.map { "\($0):\(byName[$0]!.joined(separator: ","))\n" }.joined()
        let signed = names.joined(separator: ";")
        let encoded: [(name: String, value: String)] = request.query.map { (Self.encode($0.name), Self.encode($0.value)) }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        let query = sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        let path = request.path.isEmpty ? "/" : Self.encode(request.path, keepSlash: true)
        return ([request.method, path, query, headers, signed, payloadHash].joined(separator: "\n"), signed)
    }

    static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(hex(SHA256.hash(data: Data(canonicalRequest.utf8))))"
    }

    func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// `yyyyMMdd'T'HHmmss'Z'` and `yyyyMMdd`, in UTC.
    static func timestamps(_ date: Date) -> (amzDate: String, day: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d%02d%02d", c.year!, c.month!, c.day!)
        return (day + String(format: "T%02d%02d%02dZ", c.hour!, c.minute!, c.second!), day)
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters (and `/` when
    /// `keepSlash`), byte by byte of the UTF-8, upper-case hex.
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// A header value as signed: trimmed, inner runs of spaces folded to one.
    static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
    }

    /// The hex SHA-256 of a payload: what `x-amz-content-sha256` and the signature carry.
    public static func hexSHA256(_ payload: Data) -> String {
        hex(SHA256.hash(data: payload))
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
