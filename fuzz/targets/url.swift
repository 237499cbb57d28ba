// libFuzzer target: location URLs, file:// path normalisation, the store-root check and
// image_locations.meta_data. Input: the URL on the first line, an optional store root on the
// second (default /srv/images); the whole input is also tried as meta_data.
//
// Invariants, checked on bytes because the kernel resolves bytes (Swift's String compares
// Characters, i.e. grapheme clusters, under canonical equivalence):
// - a path filePath() returns is absolute and normalised: no empty, `.` or `..` component;
// - path(_:isInside:) says yes only if the path's bytes are the root's, or the root's then `/`.
import ScrubberCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = LocationMetadata.storeName(in: text)

    let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    let urlText = String(lines[0])
    let root = lines.count > 1 ? String(lines[1]) : "/srv/images"

    var candidate = urlText
    do {
        let url = try LocationURL(urlText)
        _ = url.description
        let path = try url.filePath()
        checkNormalised(path, url: urlText)
        candidate = path
    } catch {
        _ = String(describing: error)
    }
    if LocationURL.path(candidate, isInside: root) {
        checkInside(candidate, root: root)
    }
    return 0
}

private let slash = UInt8(ascii: "/")

private func checkNormalised(_ path: String, url: String) {
    let bytes = Array(path.utf8)
    guard bytes.first == slash else { fatalError("filePath() of \(url.debugDescription) is not absolute: \(path.debugDescription)") }
    guard bytes.count > 1 else { return }
    for component in bytes.dropFirst().split(separator: slash, omittingEmptySubsequences: false) {
        if component.isEmpty || component.elementsEqual([0x2E]) || component.elementsEqual([0x2E, 0x2E]) || component.contains(0) {
            fatalError("filePath() of \(url.debugDescription) is not normalised: \(path.debugDescription)")
        }
    }
}

private func checkInside(_ path: String, root: String) {
    var rootBytes = Array(root.utf8)
    if rootBytes.count > 1, rootBytes.last == slash { rootBytes.removeLast() }
    let pathBytes = Array(path.utf8)
    let inside =
        rootBytes == [slash]
        ? pathBytes.first == slash
        : pathBytes == rootBytes || pathBytes.starts(with: rootBytes + [slash])
    guard inside else {
        fatalError("path(\(path.debugDescription), isInside: \(root.debugDescription)) is true, but its bytes are not under the root's")
    }
}
