import Foundation

/// Glance's timestamp text: naive UTC `YYYY-MM-DD HH:MM:SS.ffffff`, as SQLAlchemy writes it on SQLite.
///
/// The machine's time zone never enters: formatting and parsing are done in UTC by hand.
public enum GlanceTimestamp {
    /// Formats `date` as `YYYY-MM-DD HH:MM:SS.ffffff` in UTC.
    public static func string(from date: Date) -> String {
        // To the nearest microsecond: a Date holds seconds since 2001 as a Double, so an instant
        // parsed from `….000014` can come back as 13.99999…µs, which rounding down would print as `.000013`.
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.toNearestOrEven))
        var seconds = micros.floorDiv(1_000_000)
        let fraction = micros - seconds * 1_000_000
        let days = seconds.floorDiv(86_400)
        seconds -= days * 86_400
        let (y, m, d) = civilFromDays(days)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d.%06d",
            Int(y),
            Int(m),
            Int(d),
            Int(seconds / 3600),
            Int(seconds / 60 % 60),
            Int(seconds % 60),
            Int(fraction)
        )
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.f…]` (a `T` separator is accepted too) as UTC.
    /// Returns nil for anything else.
    public static func date(from text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: " ") || bytes[10] == UInt8(ascii: "T"),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            guard range.count <= 18 else { return nil }  // more digits would overflow Int64
            var value: Int64 = 0
            for i in range {
                guard bytes[i] >= 48, bytes[i] <= 57 else { return nil }
                value = value * 10 + Int64(bytes[i] - 48)
            }
            return value
        }
        guard let y = number(0..<4), let mo = number(5..<7), let d = number(8..<10),
            let h = number(11..<13), let mi = number(14..<16), let s = number(17..<19),
            (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var fraction = 0.0
        if bytes.count > 19 {
            guard bytes[19] == UInt8(ascii: "."), bytes.count > 20, let f = number(20..<bytes.count) else { return nil }
            fraction = Double(f) / pow(10, Double(bytes.count - 20))
        }
        let days = daysFromCivil(y, mo, d)
        return Date(timeIntervalSince1970: Double(days * 86_400 + h * 3600 + mi * 60 + s) + fraction)
    }

    // Howard Hinnant's civil-calendar algorithms (proleptic Gregorian), exact for any year.
    private static func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDiv(400)
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = z.floorDiv(146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension Int64 {
    fileprivate func floorDiv(_ divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
