import Foundation
import ScrubberCore
import Testing

/// Errors on the lease service's wire (``CatalogWire/ErrorBody``): readable by peers of every
/// version, and a code a newer peer adds is a retry here, not a crash or a stop.
@Suite struct CatalogErrorTests {
    /// The error body as services and nodes before version 2 wrote and read it: a Swift enum's
    /// synthesised coding, kept here to stand for those peers.
    enum OldCatalogError: Codable, Equatable {
        case membershipExpired(String)
        case unavailable(String)
        case unauthorized(String)
        case rejected(String)
        case nodeIDInUse(String)
        case wrongIncarnation(String)
    }

    struct OldErrorBody: Codable {
        enum Kind: String, Codable {
            case badRequest = "bad_request"
            case unauthorized
            case tooLarge = "too_large"
            case notFound = "not_found"
            case catalog
            case restoreRefused = "restore_refused"
            case serverError = "internal"
            case nodeIDInUse = "node_id_in_use"
            case wrongIncarnation = "wrong_incarnation"
        }

        var kind: Kind
        var message: String
        var catalogError: OldCatalogError?
        var refusal: RestoreRefusal?
    }

    static let expiredMessage = "membership of node n1 has expired (no heartbeat within node_ttl); its work may have been reassigned"

    /// Each error as a version-1 peer sends it and as this version makes it.
    static let pairs: [(old: OldCatalogError, kind: OldErrorBody.Kind, new: CatalogError)] = [
        (.membershipExpired("n1"), .catalog, .membershipExpired("n1")),
        (.unavailable("db down"), .catalog, .unavailable("db down")),
        (.unauthorized("bad token"), .catalog, .unauthorized("bad token")),
        (.rejected("too old"), .catalog, .rejected("too old")),
        (.nodeIDInUse("in use by host-a"), .nodeIDInUse, .nodeIDInUse("in use by host-a")),
        (.wrongIncarnation("not you"), .wrongIncarnation, .wrongIncarnation("not you")),
    ]

    @Test func todaysBodyReadsAsBefore() throws {
        let json = #"{"kind":"catalog","message":"\#(Self.expiredMessage)","catalogError":{"membershipExpired":{"_0":"n1"}}}"#
        let body = try JSONDecoder().decode(CatalogWire.ErrorBody.self, from: Data(json.utf8))
        #expect(body.version == 1)
        #expect(body.kind == .catalog)
        #expect(body.catalogError == .membershipExpired("n1"))
        #expect(body.catalogError?.code == .membershipExpired)
        #expect(body.catalogError?.message == Self.expiredMessage)

        let refused = #"{"kind":"restore_refused","message":"image x does not exist","refusal":{"noSuchImage":{"_0":"x"}}}"#
        let refusal = try JSONDecoder().decode(CatalogWire.ErrorBody.self, from: Data(refused.utf8))
        #expect(refusal.refusal == .noSuchImage("x"))
        #expect(refusal.catalogError == nil)
        let plain = try JSONDecoder().decode(CatalogWire.ErrorBody.self, from: Data(#"{"kind":"bad_request","message":"m"}"#.utf8))
        #expect(plain.kind == .badRequest && plain.catalogError == nil)
    }

    /// Version 1 → this version, every error: the old peer's bytes are our own enum's coding.
    @Test func everyErrorOfAnOlderPeerReadsAsItsOwn() throws {
        for (old, kind, new) in Self.pairs {
            let message = if case .membershipExpired = old { Self.expiredMessage } else { new.message }
            let data = try JSONEncoder().encode(OldErrorBody(kind: kind, message: message, catalogError: old))
            let body = try JSONDecoder().decode(CatalogWire.ErrorBody.self, from: data)
            #expect(body.catalogError == new, "\(String(decoding: data, as: UTF8.self))")
            #expect(body.catalogError?.isFatal == new.isFatal)
        }
    }

    /// This version → version 1, every error: the older peer reads the same error and kind.
    @Test func everyErrorReadsAsItsOwnForAnOlderPeer() throws {
        for (old, kind, new) in Self.pairs {
            let data = try JSONEncoder().encode(CatalogWire.ErrorBody(new))
            let body = try JSONDecoder().decode(OldErrorBody.self, from: data)
            #expect(body.catalogError == old, "\(String(decoding: data, as: UTF8.self))")
            #expect(body.kind == kind)
            #expect(body.message == new.message)
            // And this version reads its own.
            #expect(try JSONDecoder().decode(CatalogWire.ErrorBody.self, from: data).catalogError == new)
        }
    }

    @Test func aBodyOfThisVersionCarriesItsVersionAndCode() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(CatalogWire.ErrorBody(.membershipExpired("n1"))), as: UTF8.self)
        #expect(
            json == #"{"catalogError":{"membershipExpired":{"_0":"n1"}},"code":"membership_expired","kind":"catalog","#
                + #""message":"\#(Self.expiredMessage)","version":2}"#
        )
    }

    /// A newer peer's code: kept with its message, and retried like an unavailable store (no
    /// retry can do harm: the operation did not happen), never taken for a fatal refusal.
    @Test func anUnknownCodeIsKeptAndRetried() throws {
        let json = #"{"kind":"catalog","message":"slow down","version":3,"code":"throttled","catalogError":{"throttled":{"_0":"x"}}}"#
        let body = try JSONDecoder().decode(CatalogWire.ErrorBody.self, from: Data(json.utf8))
        let error = try #require(body.catalogError)
        #expect(error.code == CatalogError.Code(rawValue: "throttled"))
        #expect(error.message == "slow down")
        #expect(error.description == "slow down")
        #expect(!error.isFatal)
        try CatalogError.rethrowIfFatal(error)
        // A service that passes it on tells a version-1 peer it is unavailable: a retry there too.
        let relayed = try JSONDecoder().decode(OldErrorBody.self, from: try JSONEncoder().encode(body))
        #expect(relayed.catalogError == .unavailable("slow down"))
        // A kind this version does not know leaves the rest readable.
        let teapot = #"{"kind":"teapot","message":"short and stout","version":3,"code":"rejected"}"#
        let other = try JSONDecoder().decode(CatalogWire.ErrorBody.self, from: Data(teapot.utf8))
        #expect(other.kind.rawValue == "teapot")
        #expect(other.catalogError == .rejected("short and stout"))
    }

    @Test func codesAreStableAndFatalOnesStop() throws {
        #expect(
            Self.pairs.map(\.new.code.rawValue)
                == ["membership_expired", "unavailable", "unauthorized", "rejected", "node_id_in_use", "wrong_incarnation"]
        )
        #expect(Self.pairs.map(\.new.isFatal) == [false, false, true, true, true, true])
        #expect(CatalogError.membershipExpired("n1").description == Self.expiredMessage)
        #expect(CatalogError.unavailable("a") != CatalogError.rejected("a"))
        #expect(throws: CatalogError.rejected("no")) { try CatalogError.rethrowIfFatal(CatalogError.rejected("no")) }
        try CatalogError.rethrowIfFatal(CatalogError.unavailable("later"))
    }
}
