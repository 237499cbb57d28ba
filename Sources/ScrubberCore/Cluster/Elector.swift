/// The leader-election state machine of one node: a plain value that is told what happened
/// and says what to do next, with the I/O (campaign, renew, resign against the store) outside.
///
/// Time here is the node's own monotonic clock, in seconds. The store judges lease expiry by
/// its clock; the node trusts its lease only until `attempt start + ttl − margin` (never
/// `attempt end + ttl`), so a slow renew or a pause cannot make it act after the store has
/// let another node take over (DESIGN §3.2).
public struct Elector: Sendable, Hashable {
    public enum Role: Sendable, Hashable {
        case follower
        /// Leading under `term` while the local clock is before `trustedUntil`.
        case leader(term: Int64, trustedUntil: Double)
    }

    public enum Action: Sendable, Hashable {
        /// Try to take the lease (it is vacant or expired, or we do not know).
        case campaign
        /// Extend our lease for `term`.
        case renew(term: Int64)
        /// Nothing to do before `until` (local clock).
        case wait(until: Double)
    }

    public let ttl: Double
    public let margin: Double
    /// How often a follower looks at the lease: short, so a resigned lease is taken within a second.
    public let pollInterval: Double
    public private(set) var role: Role = .follower
    private var nextAttempt: Double = -.infinity
    private var lastRenew: Double = -.infinity

    public init(ttl: Double, margin: Double? = nil, pollInterval: Double? = nil) {
        precondition(ttl > 0)
        self.ttl = ttl
        self.margin = margin ?? min(1.0, ttl / 4)
        self.pollInterval = pollInterval ?? min(0.25, ttl / 6)
    }

    /// Whether this node may act as leader at local time `now`, and under which term.
    public func leaderTerm(at now: Double) -> Int64? {
        if case .leader(let term, let until) = role, now < until { return term }
        return nil
    }

    /// What to do at local time `now`.
    public func next(at now: Double) -> Action {
        switch role {
        case .follower:
            return now >= nextAttempt ? .campaign : .wait(until: nextAttempt)
        case .leader(let term, _):
            let due = lastRenew + ttl / 3
            return now >= due ? .renew(term: term) : .wait(until: due)
        }
    }

    /// A campaign that started at `start` ended: `granted` is the term if this node now holds
    /// the lease, nil if another node does (or the attempt failed).
    public mutating func campaigned(startedAt start: Double, granted: Int64?) {
        if let granted {
            role = .leader(term: granted, trustedUntil: start + ttl - margin)
            lastRenew = start
        } else {
            role = .follower
            nextAttempt = start + pollInterval
        }
    }

    /// A renew that started at `start` ended: `ok` when the store extended our lease.
    /// A failed or errored renew keeps the old trust window (which ends on its own) and retries
    /// soon; a rejected one (`ok == false`) steps down at once.
    public mutating func renewed(startedAt start: Double, ok: Bool?) {
        guard case .leader(let term, let until) = role else { return }
        switch ok {
        case true?:
            role = .leader(term: term, trustedUntil: max(until, start + ttl - margin))
            lastRenew = start
        case false?:
            stepDown(at: start)
        case nil:
            lastRenew = start - ttl / 3 + pollInterval  // retry after one poll interval
            if start >= until { stepDown(at: start) }
        }
    }

    /// Stops leading (resigned, deposed, or trust ran out).
    public mutating func stepDown(at now: Double) {
        role = .follower
        nextAttempt = now + pollInterval
    }

    /// Steps down when the trust window has run out by `now`.
    public mutating func expire(at now: Double) {
        if case .leader(_, let until) = role, now >= until { stepDown(at: now) }
    }
}
