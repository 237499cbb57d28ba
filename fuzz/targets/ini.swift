// libFuzzer target: the oslo.config INI parser and the configuration read from it.
// Any input must either parse or throw; throwing ConfigError is fine, a crash is a bug.
import ScrubberCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        var document = try INIDocument(parsing: text, file: "fuzz.conf")
        _ = try? ScrubberConfiguration(ini: document)
        // A second --config-file over the first, as `--config-file a --config-file b` does.
        document.merge(document)
        let configuration = try ScrubberConfiguration(ini: document)
        _ = configuration.database?.description
    } catch {
        _ = String(describing: error)
    }
    return 0
}
