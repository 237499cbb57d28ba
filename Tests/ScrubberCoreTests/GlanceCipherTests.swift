import Foundation
import ScrubberCore
import TestSupport
import Testing

/// One `metadata_encryption_key` vector made by Glance 33's `glance.common.crypt`.
struct GlanceCryptVector: Decodable, Sendable, CustomTestStringConvertible {
    var key: String
    var plaintext: String
    var blocksize: Int
    var pinned: Bool
    var ivHex: String?
    var ciphertext: String

    enum CodingKeys: String, CodingKey {
        case key, plaintext, blocksize, pinned, ciphertext
        case ivHex = "iv_hex"
    }

    var testDescription: String {
        "\(key.utf8.count * 8)-bit key, blocksize \(blocksize), \(pinned ? "pinned" : "random"), \(plaintext.debugDescription)"
    }

    /// Loads the vectors Glance's own cipher made (`Tests/TestSupport/Fixtures/glance-crypt-vectors.json`).
    static func load() throws -> [GlanceCryptVector] {
        let url = URL(fileURLWithPath: GlanceFixtures.cryptVectors)
        struct File: Decodable { var vectors: [GlanceCryptVector] }
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).vectors
    }

    static let all: [GlanceCryptVector] = (try? load()) ?? []
    static var pinnedVectors: [GlanceCryptVector] { all.filter(\.pinned) }
}

extension [UInt8] {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self = bytes
    }
}

@Suite("GlanceCipher: Glance's metadata_encryption_key cipher")
struct GlanceCipherTests {
    @Test("the fixture holds both pinned and random-IV vectors, so the vector tests cannot pass vacuously")
    func fixtureIsNotEmpty() throws {
        let vectors = try GlanceCryptVector.load()
        #expect(vectors.count == GlanceCryptVector.all.count)
        #expect(vectors.contains { $0.pinned })
        #expect(vectors.contains { !$0.pinned })
        #expect(Set(vectors.map(\.key.utf8.count)) == [16, 24, 32])
        #expect(Set(vectors.map(\.blocksize)) == [16, 64])
    }

    @Test("decrypting every Glance vector gives back its plaintext", arguments: GlanceCryptVector.all)
    func decryptsGlanceVector(_ vector: GlanceCryptVector) throws {
        let cipher = try GlanceCipher(key: vector.key)
        #expect(try cipher.decrypt(vector.ciphertext) == vector.plaintext)
    }

    @Test(
        "encrypting with the pinned IV 00..0f and pad bytes 01,02,03… reproduces Glance's ciphertext exactly",
        arguments: GlanceCryptVector.pinnedVectors
    )
    func reproducesPinnedVector(_ vector: GlanceCryptVector) throws {
        let ivHex = try #require(vector.ivHex)
        let iv = [UInt8](hex: ivHex)
        #expect(iv.count == 16)
        let padLength = vector.blocksize - vector.plaintext.utf8.count % vector.blocksize
        let padBytes = (0..<(padLength - 1)).map { UInt8($0 + 1) }
        let cipher = try GlanceCipher(key: vector.key)
        let ciphertext = try cipher.encrypt(vector.plaintext, blocksize: vector.blocksize, iv: iv, padBytes: padBytes)
        #expect(ciphertext == vector.ciphertext)
    }

    @Test(
        "random encrypt → decrypt round trips for AES-128/192/256, empty, block-aligned and non-ASCII plaintext",
        arguments: [16, 24, 32],
        [16, 64]
    )
    func roundTrips(keyLength: Int, blocksize: Int) throws {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$%&()*+,-./")
        let plaintexts = [
            "",
            "file:///var/lib/glance/images/6c2a5d4e-1f7b-4c1e-9d3a-2b8f0e4a7c91",
            "0123456789abcdef",  // exactly one block: a whole block of padding follows
            String(repeating: "x", count: 64),
            "file:///srv/画像/café-ümläut-🚀",
            "rbd://fsid/images/id/snap",
        ]
        for _ in 0..<5 {
            let key = String((0..<keyLength).map { _ in alphabet.randomElement()! })
            let cipher = try GlanceCipher(key: key)
            for plaintext in plaintexts {
                let ciphertext = try cipher.encrypt(plaintext, blocksize: blocksize)
                #expect(try cipher.decrypt(ciphertext) == plaintext)
                // URL-safe base64 with `=` padding, of a 16-byte IV plus whole blocks of `blocksize`.
                #expect(!ciphertext.contains("+") && !ciphertext.contains("/"))
                #expect(ciphertext.count % 4 == 0)
                let raw = try #require(
                    Data(
                        base64Encoded: ciphertext.replacingOccurrences(of: "-", with: "+")
                            .replacingOccurrences(of: "_", with: "/")
                    )
                )
                #expect((raw.count - 16) % blocksize == 0 && raw.count > 16)
            }
        }
    }

    @Test("two encryptions of the same plaintext differ (random IV and pad)")
    func encryptionIsRandomised() throws {
        let cipher = try GlanceCipher(key: "0123456789abcdef")
        let a = try cipher.encrypt("file:///srv/images/x")
        let b = try cipher.encrypt("file:///srv/images/x")
        #expect(a != b)
    }

    @Test("decrypt cuts at the last 0x00, so a plaintext containing NUL survives")
    func decryptCutsAtLastNul() throws {
        let cipher = try GlanceCipher(key: "0123456789abcdef")
        let plaintext = "a\u{0}b\u{0}c"
        #expect(try cipher.decrypt(cipher.encrypt(plaintext)) == plaintext)
    }

    @Test(
        "a key that is not 16, 24 or 32 UTF-8 bytes throws badKeyLength with its byte count",
        arguments: ["", "short", "0123456789abcde", "0123456789abcdef0", "0123456789abcdef0123456789abcdef0"]
    )
    func rejectsBadKeyLength(_ key: String) {
        #expect(throws: GlanceCipherError.badKeyLength(key.utf8.count)) {
            try GlanceCipher(key: key)
        }
    }

    @Test("key length counts UTF-8 bytes, not characters: 16 characters with an é are 17 bytes")
    func keyLengthIsInBytes() {
        let key = "é123456789abcdef"
        #expect(key.count == 16)
        #expect(throws: GlanceCipherError.badKeyLength(17)) {
            try GlanceCipher(key: key)
        }
    }

    @Test(
        "garbage that is not an IV plus whole AES blocks throws a GlanceCipherError",
        arguments: [
            "",
            "not base64 at all!",
            "file:///var/lib/glance/images/abc",  // a plaintext URL where ciphertext was expected
            "AAECAwQFBgcICQoLDA0ODw==",  // 16 bytes: an IV and no block
            Data(repeating: 7, count: 31).base64EncodedString(),
            Data(repeating: 7, count: 33).base64EncodedString(),
            Data(repeating: 7, count: 47).base64EncodedString(),
        ]
    )
    func rejectsGarbage(_ text: String) throws {
        let cipher = try GlanceCipher(key: "0123456789abcdef")
        #expect(throws: GlanceCipherError.self) {
            try cipher.decrypt(text)
        }
    }

    @Test(
        "a Glance ciphertext truncated mid-block or by its last block throws a GlanceCipherError",
        arguments: GlanceCryptVector.all.filter { $0.blocksize == 16 }
    )
    func rejectsTruncatedCiphertext(_ vector: GlanceCryptVector) throws {
        let cipher = try GlanceCipher(key: vector.key)
        var raw = try #require(
            Data(
                base64Encoded: vector.ciphertext.replacingOccurrences(of: "-", with: "+")
                    .replacingOccurrences(of: "_", with: "/")
            )
        )
        let midBlock = Data(raw.dropLast(3)).base64EncodedString()
        #expect(throws: GlanceCipherError.self) { try cipher.decrypt(midBlock) }
        // With blocksize 16 the 0x00 delimiter is in the last block; without it there is no delimiter.
        raw.removeLast(16)
        let lastBlockGone = raw.base64EncodedString()
        #expect(throws: GlanceCipherError.self) { try cipher.decrypt(lastBlockGone) }
    }

    @Test(
        "decrypting with the wrong key never returns the original plaintext",
        arguments: GlanceCryptVector.all
    )
    func wrongKeyNeverYieldsPlaintext(_ vector: GlanceCryptVector) throws {
        let wrongKey = String(repeating: "k", count: vector.key.utf8.count)
        let cipher = try GlanceCipher(key: wrongKey)
        // Garbage may by chance contain a 0x00 and valid UTF-8 before it; it must still not be the plaintext.
        do {
            let result = try cipher.decrypt(vector.ciphertext)
            #expect(result != vector.plaintext)
        } catch is GlanceCipherError {
            // The usual outcome: no delimiter or not UTF-8.
        }
    }
}
