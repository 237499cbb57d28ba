import ScrubberCore

/// The clock a node's loops read and sleep on: membership and leader trust windows, the
/// election's timers, claim and leader pacing, batching, backoff and latency.
///
/// Any `Clock` measured in `Duration` behind one concrete type, so the runtime is not generic:
/// ``continuous`` in production, a test's manual clock in tests, which advance it instead of
/// waiting (Hummingbird's `MemoryPersistDriver<C: Clock>` takes its clock the same way). Its
/// instants count from when the clock was wrapped.
///
/// The node's clock is monotonic and its own: it measures how long the node may trust what
/// the store granted, and is never compared with the store's clock.
public struct NodeClock: Clock, Sendable {
    public struct Instant: InstantProtocol, Sendable {
        /// The time since the wrapped clock's instant at wrapping.
        public var offset: Duration

        public init(offset: Duration) {
            self.offset = offset
        }

        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
        public static func + (lhs: Instant, rhs: Duration) -> Instant { lhs.advanced(by: rhs) }
        public static func - (lhs: Instant, rhs: Duration) -> Instant { lhs.advanced(by: .zero - rhs) }
    }

    private let read: @Sendable () -> Duration
    private let sleeper: @Sendable (Duration, Duration?) async throws -> Void
    public let minimumResolution: Duration

    public init<C: Clock>(_ clock: C) where C.Duration == Duration, C: Sendable {
        let origin = clock.now
        read = { origin.duration(to: clock.now) }
        sleeper = { offset, tolerance in try await clock.sleep(until: origin.advanced(by: offset), tolerance: tolerance) }
        minimumResolution = clock.minimumResolution
    }

    /// The process's monotonic clock (`ContinuousClock`): what a running node uses.
    public static var continuous: NodeClock { NodeClock(ContinuousClock()) }

    public var now: Instant { Instant(offset: read()) }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await sleeper(deadline.offset, tolerance)
    }

    /// Seconds since the clock was wrapped: the ``Elector``'s local time.
    public var seconds: Double { read().seconds }
}

extension NodeClock {
    /// Sleeps until `deadline` or until `event` returns, whichever comes first (the other is
    /// cancelled); returns at once when the task is cancelled (the caller checks).
    func sleep(until deadline: Instant, orUntil event: @escaping @Sendable () async -> Void) async {
        guard deadline > now else { return }
        await firstOf({ try? await sleep(until: deadline) }, event)
    }
}
