import Foundation
import Testing

@testable import ScrubberService

/// The lease service's replay cache stays bounded whatever its clients send: request ids count
/// toward its bytes (not only the answers), and it keeps a bounded number of entries.
@Suite struct ReplayCacheTests {
    static func ok(_ bytes: Int) -> CatalogService.Answer {
        CatalogService.Answer(status: .ok, body: Data(repeating: 0x61, count: bytes))
    }

    @Test func keysCountTowardItsBytes() async {
        let cache = ReplayCache(window: .seconds(120), maxBytes: 100_000)
        // 2,000 tiny answers under 256-byte ids: counted by their answers alone they would be 4 KB.
        for i in 0..<2000 {
            _ = await cache.answer(key: String(repeating: "k", count: 250) + "\(i)") { Self.ok(2) }
        }
        let size = await cache.size
        #expect(size.bytes <= 100_000, "within its byte bound: \(size)")
        #expect(size.entries < 2000, "the oldest went out to keep it so: \(size)")
        #expect(size.entries > 100, "\(size)")
    }

    @Test func entriesAreCapped() async {
        let cache = ReplayCache(window: .seconds(120), maxBytes: 1 << 30, maxEntries: 500)
        for i in 0..<2000 { _ = await cache.answer(key: "\(i)") { Self.ok(1) } }
        #expect(await cache.size.entries == 500)
        // The newest are kept: a retry of one is answered from the cache, not run again.
        let rerun = await cache.answer(key: "1999") { Self.ok(7) }
        #expect(rerun.body.count == 1)
        let expired = await cache.answer(key: "0") { Self.ok(7) }
        #expect(expired.body.count == 7, "the oldest were dropped")
    }
}
