import Foundation
import Synchronization

/// The store clock of a test's catalog, in seconds since 1970, moved only by the test: every
/// TTL, expiry and backoff window the catalog decides on reads it (SQLite's `scrub_clock()`
/// through the catalog's clock closure; PostgreSQL's through a function over a table the test
/// updates). It starts at the machine's time, which seeding stamps Glance's rows with.
public final class StoreClock: Sendable {
    private let value: Mutex<Double>

    public init(start: Double = Date().timeIntervalSince1970) { value = Mutex(start) }

    public var now: Double { value.withLock { $0 } }

    public func advance(by seconds: Double) { value.withLock { $0 += seconds } }

    /// SQL that makes a PostgreSQL database's `scrub_clock()` read the table `scrub_test_clock`;
    /// run once on a fresh database, then ``postgresqlUpdate`` after each move.
    public static let postgresqlFunction = "scrub_clock"
    public static let postgresqlSchema = """
        CREATE TABLE scrub_test_clock (now double precision NOT NULL);
        INSERT INTO scrub_test_clock VALUES (0);
        CREATE FUNCTION scrub_clock() RETURNS double precision LANGUAGE sql STABLE AS 'SELECT now FROM scrub_test_clock';
        """
    /// The statement that sets PostgreSQL's copy of the clock to ``now``.
    public var postgresqlUpdate: String { "UPDATE scrub_test_clock SET now = \(now)" }
}
