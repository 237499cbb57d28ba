import Foundation

/// Byte counts for people, as `status`, the dry run and the status page (whose script reads
/// ``units``) show them.
public enum ByteCount {
    public static let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]

    /// `512 B`, `1.5 GiB` (binary units, one decimal).
    public static func text(_ count: Int64) -> String {
        guard count >= 1024 else { return "\(count) B" }
        var value = Double(count)
        var unit = 0
        repeat {
            value /= 1024
            unit += 1
        } while value >= 1024 && unit < units.count
        return String(format: "%.1f %@", value, units[unit - 1])
    }
}
