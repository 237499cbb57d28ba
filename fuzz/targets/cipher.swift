// libFuzzer target: Glance's metadata_encryption_key cipher. decrypt() must throw or return
// for any input; and the input, as plaintext, must come back from decrypt(encrypt(p)).
import ScrubberCore

private let cipher = try! GlanceCipher(key: "0123456789abcdef")
private let iv: [UInt8] = Array(0..<16)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        _ = try cipher.decrypt(text)
    } catch {
        _ = String(describing: error)
    }

    if !text.utf8.contains(0) {
        // Pinned IV and pad bytes (as the pinned vectors), so a run is reproducible.
        let padLength = 16 - text.utf8.count % 16
        let pad = (0..<(padLength - 1)).map { UInt8($0 + 1) }
        do {
            let ciphertext = try cipher.encrypt(text, iv: iv, padBytes: pad)
            let back = try cipher.decrypt(ciphertext)
            guard back.utf8.elementsEqual(text.utf8) else {
                fatalError("round trip changed \(text.debugDescription) into \(back.debugDescription) via \(ciphertext)")
            }
        } catch {
            fatalError("round trip of \(text.debugDescription) threw \(error)")
        }
    }
    return 0
}
