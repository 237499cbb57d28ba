import Synchronization

/// How long this node may trust its own membership, by its monotonic clock.
///
/// A heartbeat that *started* at `t` extends the membership to `t + ttl` at the latest by the
/// store's clock; the node trusts it only until `t + ttl − margin`, never `end + ttl`, so a
/// slow heartbeat or a paused process cannot make it act after the store considers it dead
/// (DESIGN §3.3: a node deletes only under its own unexpired membership).
public final class MembershipLease: Sendable {
    private let trustedUntil: Mutex<ContinuousClock.Instant?> = Mutex(nil)
    public let ttl: Duration
    public let margin: Duration

    public init(ttl: Double) {
        self.ttl = .seconds(ttl)
        margin = .seconds(min(1.0, ttl / 4))
    }

    /// Records a successful join or heartbeat that started at `start`.
    public func renewed(startedAt start: ContinuousClock.Instant) {
        let until = start + ttl - margin
        trustedUntil.withLock { current in
            if current.map({ until > $0 }) ?? true { current = until }
        }
    }

    /// Forgets the membership (a heartbeat found it expired).
    public func lost() {
        trustedUntil.withLock { $0 = nil }
    }

    /// Whether the node may act (claim, delete) now.
    public var isTrusted: Bool {
        trustedUntil.withLock { $0.map { ContinuousClock.now < $0 } ?? false }
    }
}
