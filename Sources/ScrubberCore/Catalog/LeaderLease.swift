/// The leader lease as the store sees it.
public struct LeaderLease: Sendable, Hashable, Codable {
    /// The holder, or nil when vacant (resigned, never taken).
    public var holder: String?
    /// The current term: +1 at every change of holder. Never decreases.
    public var term: Int64
    /// Seconds until the lease expires by the store clock (≤ 0: expired).
    public var remaining: Double

    public init(holder: String?, term: Int64, remaining: Double) {
        self.holder = holder
        self.term = term
        self.remaining = remaining
    }

    /// The live leader, if any.
    public var liveHolder: String? { remaining > 0 ? holder : nil }
}
