import Foundation
import ScrubberCore
import Testing

@Suite("GlanceTimestamp: naive UTC text YYYY-MM-DD HH:MM:SS.ffffff")
struct GlanceTimestampTests {
    // Expected texts computed with Python: datetime.fromtimestamp(t, timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f').
    static let known: [(Double, String)] = [
        (0, "1970-01-01 00:00:00.000000"),
        (1_700_000_000.123456, "2023-11-14 22:13:20.123456"),
        (-14_182_940, "1969-07-20 20:17:40.000000"),  // before 1970
        (-0.5, "1969-12-31 23:59:59.500000"),  // a fraction before 1970 counts forward from the earlier second
        (-0.000001, "1969-12-31 23:59:59.999999"),
        (-2_208_988_800, "1900-01-01 00:00:00.000000"),
        (1_709_210_096.789012, "2024-02-29 12:34:56.789012"),  // leap day
        (951_825_600.000001, "2000-02-29 12:00:00.000001"),  // leap day of a 400-year century
        (4_107_542_399.999999, "2100-02-28 23:59:59.999999"),  // 2100 is not a leap year
        (4_107_542_400, "2100-03-01 00:00:00.000000"),
        (253_402_300_799, "9999-12-31 23:59:59.000000"),
        (0.000014, "1970-01-01 00:00:00.000014"),  // near 1970 a Date holds this as 13.99999…µs
        (86_400.000021, "1970-01-02 00:00:00.000021"),
    ]

    @Test("string(from:) formats known instants in UTC with microseconds", arguments: known)
    func formatsKnownDates(seconds: Double, text: String) {
        #expect(GlanceTimestamp.string(from: Date(timeIntervalSince1970: seconds)) == text)
    }

    @Test("date(from:) parses the known texts back to the same instant, to the microsecond", arguments: known)
    func parsesKnownTexts(seconds: Double, text: String) throws {
        let date = try #require(GlanceTimestamp.date(from: text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_000_5)
    }

    @Test("text → date → text round-trips every microsecond value, across 1900…2100")
    func roundTripsMicroseconds() throws {
        var failures: [String] = []
        for base in [
            "1900-01-01 00:00:00", "1969-12-31 23:59:59", "1970-01-01 00:00:00", "1999-12-31 23:59:59",
            "2024-02-29 12:34:56", "2100-02-28 23:59:59",
        ] {
            for micros in stride(from: 0, to: 1_000_000, by: 997) {
                let text = base + "." + String(format: "%06d", micros)
                guard let date = GlanceTimestamp.date(from: text) else {
                    failures.append("\(text): not parsed")
                    continue
                }
                let back = GlanceTimestamp.string(from: date)
                if back != text { failures.append("\(text) → \(back)") }
            }
        }
        #expect(failures.count == 0, "round trips failed, e.g. \(failures.prefix(5))")
    }

    @Test(
        "date(from:) accepts no fraction, a shorter or longer fraction, and a T separator",
        arguments: [
            ("2023-11-14 22:13:20", 1_700_000_000.0),
            ("2023-11-14T22:13:20", 1_700_000_000.0),
            ("2023-11-14T22:13:20.5", 1_700_000_000.5),
            ("2023-11-14 22:13:20.123", 1_700_000_000.123),
            ("2023-11-14 22:13:20.123456789", 1_700_000_000.123456789),
        ]
    )
    func parsesVariants(text: String, seconds: Double) throws {
        let date = try #require(GlanceTimestamp.date(from: text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_001)
    }

    @Test(
        "date(from:) rejects garbage without crashing",
        arguments: [
            "", "garbage", "2023-11-14", "2023-11-14 22:13", "2023/11/14 22:13:20", "2023-11-14_22:13:20",
            "2023-13-01 00:00:00", "2023-00-01 00:00:00", "2023-01-32 00:00:00", "2023-01-01 24:00:00",
            "2023-01-01 00:60:00", "2023-01-01 00:00:61", "2023-01-01 00:00:00.", "2023-01-01 00:00:00,5",
            "2023-01-01 00:00:00.12a", "2023-01-01 00:00:00Z", "2023-01-01 00:00:00+00:00", "+023-01-01 00:00:00",
            "2023-01-01 00:00:00." + String(repeating: "9", count: 40),
        ]
    )
    func rejectsGarbage(text: String) {
        #expect(GlanceTimestamp.date(from: text) == nil)
    }

    @Test("formatting and parsing never consult the machine's time zone (TZ=Asia/Kolkata gives the same text)")
    func independentOfTimeZone() throws {
        let saved = getenv("TZ").map { String(cString: $0) }
        defer {
            if let saved { setenv("TZ", saved, 1) } else { unsetenv("TZ") }
            tzset()
        }
        let before = Self.known.map { GlanceTimestamp.string(from: Date(timeIntervalSince1970: $0.0)) }
        let parsedBefore = Self.known.map { GlanceTimestamp.date(from: $0.1) }

        setenv("TZ", "Asia/Kolkata", 1)
        tzset()
        // The zone really changed for this process: local midnight UTC on 1970-01-01 is 05:30 in Kolkata.
        var epoch = time_t(0)
        var local = tm()
        localtime_r(&epoch, &local)
        #expect(local.tm_hour == 5 && local.tm_min == 30)

        let after = Self.known.map { GlanceTimestamp.string(from: Date(timeIntervalSince1970: $0.0)) }
        let parsedAfter = Self.known.map { GlanceTimestamp.date(from: $0.1) }
        #expect(after == before)
        #expect(after == Self.known.map(\.1))
        #expect(parsedAfter == parsedBefore)
    }
}

@Suite("Backoff: base · 2^(attempts − 1), capped at max")
struct BackoffTests {
    @Test("no failure yet means no delay", arguments: [0, -1, Int.min])
    func noDelayBeforeFirstFailure(attempts: Int) {
        #expect(Backoff(base: 2, max: 600).delay(afterAttempts: attempts) == 0)
    }

    @Test("the delay doubles from base with each failure", arguments: [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (9, 512.0)])
    func doubles(attempts: Int, delay: Double) {
        #expect(Backoff(base: 2, max: 600).delay(afterAttempts: attempts) == delay)
    }

    @Test("the delay is capped at max", arguments: [10, 11, 62, 63, 64, 1_000, Int.max])
    func cappedAtMax(attempts: Int) {
        #expect(Backoff(base: 2, max: 600).delay(afterAttempts: attempts) == 600)
    }

    @Test("fractional base and max: 0.25 s doubling to a 10 s cap")
    func fractional() {
        let backoff = Backoff(base: 0.25, max: 10)
        #expect(backoff.delay(afterAttempts: 1) == 0.25)
        #expect(backoff.delay(afterAttempts: 2) == 0.5)
        #expect(backoff.delay(afterAttempts: 6) == 8)
        #expect(backoff.delay(afterAttempts: 7) == 10)
    }

    @Test("the delay never decreases and stays finite as attempts grow, even for huge counts")
    func monotoneAndFinite() {
        let backoff = Backoff(base: 1e300, max: .greatestFiniteMagnitude)
        var previous = 0.0
        for attempts in [1, 2, 3, 10, 60, 61, 62, 63, 64, 100, 1 << 40, Int.max - 1, Int.max] {
            let delay = Backoff(base: 2, max: 600).delay(afterAttempts: attempts)
            #expect(delay >= previous)
            previous = delay
            #expect(backoff.delay(afterAttempts: attempts) > 0 && backoff.delay(afterAttempts: attempts).isFinite)
        }
    }

    @Test("defaults are a 2 s base and a 600 s cap")
    func defaults() {
        #expect(Backoff() == Backoff(base: 2, max: 600))
    }
}
