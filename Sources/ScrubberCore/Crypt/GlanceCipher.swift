import Foundation
import _CryptoExtras

/// Glance's `metadata_encryption_key` cipher (`glance/common/crypt.py`), byte for byte.
///
/// - Key: the option's UTF-8 bytes, used as they are (16, 24 or 32 bytes: AES-128/192/256; no KDF).
/// - Encrypt: 16 random IV bytes, then AES-CBC (no PKCS#7) of
///   `plaintext + 0x00 + (padLength − 1) random bytes in 1…255`, `padLength = blocksize − len % blocksize`;
///   the IV and ciphertext together in URL-safe base64 with `=` padding.
/// - Decrypt: cut the plaintext at the **last** 0x00 byte.
public struct GlanceCipher: Sendable {
    private let key: SymmetricKey

    /// - Throws: ``GlanceCipherError/badKeyLength(_:)`` unless the key is 16, 24 or 32 UTF-8 bytes.
    public init(key: String) throws {
        let bytes = Array(key.utf8)
        guard [16, 24, 32].contains(bytes.count) else { throw GlanceCipherError.badKeyLength(bytes.count) }
        self.key = SymmetricKey(data: bytes)
    }

    /// Encrypts as Glance's `urlsafe_encrypt` does.
    ///
    /// - Parameters:
    ///   - iv: 16 bytes; random when nil (pass one only to reproduce a pinned vector).
    ///   - padBytes: the bytes after the 0x00 delimiter, each in 1…255; random when nil.
    public func encrypt(_ plaintext: String, blocksize: Int = 16, iv: [UInt8]? = nil, padBytes: [UInt8]? = nil) throws -> String {
        precondition(blocksize > 0 && blocksize % 16 == 0, "blocksize must be a positive multiple of 16")
        var data = Array(plaintext.utf8)
        let padLength = blocksize - data.count % blocksize
        let pad = padBytes ?? (0..<(padLength - 1)).map { _ in UInt8.random(in: 1...255) }
        precondition(pad.count == padLength - 1 && !pad.contains(0), "pad must be padLength-1 non-zero bytes")
        data.append(0)
        data.append(contentsOf: pad)
        let ivBytes = iv ?? (0..<16).map { _ in UInt8.random(in: 0...255) }
        let sealed = try AES._CBC.encrypt(data, using: key, iv: AES._CBC.IV(ivBytes: ivBytes), noPadding: true)
        return Data(ivBytes + Array(sealed)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
    }

    /// Decrypts as Glance's `urlsafe_decrypt` does.
    ///
    /// - Throws: ``GlanceCipherError`` when the text is not URL-safe base64 of an IV and whole
    ///   AES blocks, or the plaintext has no 0x00 delimiter or is not UTF-8 (a wrong key, usually).
    public func decrypt(_ ciphertext: String) throws -> String {
        var text = ciphertext.trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/")
        if text.count % 4 != 0 { text += String(repeating: "=", count: 4 - text.count % 4) }
        guard let raw = Data(base64Encoded: text) else { throw GlanceCipherError.notBase64 }
        let bytes = Array(raw)
        guard bytes.count >= 32, (bytes.count - 16) % 16 == 0 else { throw GlanceCipherError.badLength(bytes.count) }
        let plain: Data
        do {
            plain = try AES._CBC.decrypt(bytes[16...], using: key, iv: AES._CBC.IV(ivBytes: bytes[..<16]), noPadding: true)
        } catch {
            throw GlanceCipherError.badLength(bytes.count)
        }
        guard let cut = plain.lastIndex(of: 0) else { throw GlanceCipherError.noDelimiter }
        guard let string = String(validating: plain[..<cut], as: UTF8.self) else { throw GlanceCipherError.notUTF8 }
        return string
    }
}

/// Why a value could not be decrypted with `metadata_encryption_key`.
public enum GlanceCipherError: Error, Sendable, Equatable, CustomStringConvertible {
    case badKeyLength(Int)
    case notBase64
    case badLength(Int)
    case noDelimiter
    case notUTF8

    public var description: String {
        switch self {
        case .badKeyLength(let n):
            "metadata_encryption_key must be 16, 24 or 32 bytes (AES-128/192/256); it is \(n) bytes"
        case .notBase64:
            "value is not URL-safe base64, so it is not Glance ciphertext"
        case .badLength(let n):
            "ciphertext decodes to \(n) bytes, not a 16-byte IV plus whole 16-byte AES blocks"
        case .noDelimiter:
            "decrypted value has no 0x00 delimiter: wrong metadata_encryption_key, or the value was not encrypted"
        case .notUTF8:
            "decrypted value is not UTF-8: wrong metadata_encryption_key"
        }
    }
}
