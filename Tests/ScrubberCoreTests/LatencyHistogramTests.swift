import ScrubberCore
import Testing

@Suite struct LatencyHistogramTests {
    @Test func quantilesFallInTheBucketOfTheTrueValueAndMergingAddsCounts() {
        var a = LatencyHistogram()
        #expect(a.quantile(0.5) == nil)
        for ms in 1...100 { a.record(Double(ms) / 1000) }  // 1 ms … 100 ms
        // The true p50 is 50 ms and p99 99 ms; a bucket is 10^0.1 ≈ 1.26× wide.
        let p50 = try! #require(a.quantile(0.5))
        #expect(p50 >= 0.050 && p50 < 0.050 * 1.26)
        let p99 = try! #require(a.quantile(0.99))
        #expect(p99 >= 0.099 && p99 <= 0.100)
        #expect(a.quantile(1) == 0.1, "capped by the largest duration seen")

        var b = LatencyHistogram()
        for _ in 0..<300 { b.record(2) }
        a.merge(b)
        #expect(a.total == 400)
        #expect(try! #require(a.quantile(0.5)) >= 2)
        #expect(a.maximum == 2)
        // Out of range both ways lands in the end buckets, not out of bounds.
        var c = LatencyHistogram()
        c.record(0)
        c.record(1e9)
        #expect(c.total == 2)
    }
}
