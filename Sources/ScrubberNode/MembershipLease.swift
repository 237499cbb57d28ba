import Synchronization

/// How long this node may trust its own membership, by its monotonic clock, and in which
/// *epoch* (one per join: after the membership is lost, a rejoin starts a new epoch).
///
/// A heartbeat that *started* at `t` extends the membership to `t + ttl` at the latest by the
/// store's clock; the node trusts it only until `t + ttl − margin`, never `end + ttl`, so a
/// slow heartbeat or a paused process cannot make it act after the store considers it dead
/// (DESIGN §3.3: a node deletes only under its own unexpired membership).
///
/// Work claimed in one epoch is never acted on in a later one: while the membership had
/// lapsed, the leader may have moved that work and a restore may have brought the image back,
/// so a rejoin must not revive the old claims' right to delete.
public final class MembershipLease: Sendable {
    private struct State {
        var epoch = 0
        var trustedUntil: NodeClock.Instant?
    }

    private let state = Mutex(State())
    /// Woken by every renewal: what a worker waiting for trust waits on (``untilTrusted()``).
    private let renewals = AsyncCondition()
    public let ttl: Duration
    public let margin: Duration
    /// The node's clock: trust is measured on it.
    public let clock: NodeClock

    public init(ttl: Double, clock: NodeClock) {
        self.clock = clock
        self.ttl = .seconds(ttl)
        margin = .seconds(min(1.0, ttl / 4))
    }

    /// The current epoch: capture it before a join, heartbeat or claim starts.
    public var epoch: Int { state.withLock { $0.epoch } }

    /// Records a successful join or heartbeat that started at `start` in `epoch`; ignored if
    /// the membership was lost meanwhile (the epoch moved on).
    public func renewed(startedAt start: NodeClock.Instant, epoch: Int) {
        let until = start + ttl - margin
        state.withLock { state in
            guard state.epoch == epoch else { return }
            if state.trustedUntil.map({ until > $0 }) ?? true { state.trustedUntil = until }
        }
        renewals.wakeAll()
    }

    /// Forgets the membership (the store said it expired): a new epoch begins with the next join.
    public func lost() {
        state.withLock { state in
            state.epoch += 1
            state.trustedUntil = nil
        }
    }

    /// Returns once the node may act under its current membership (checked after every join or
    /// heartbeat), or when the task is cancelled.
    func untilTrusted() async {
        await renewals.wait { isTrusted() }
    }

    /// How many tasks wait for trust now (for tests).
    var waitingForTrust: Int { renewals.parkedCount }

    /// Whether the node may act now on work claimed in `epoch` (the current one when nil).
    public func isTrusted(epoch: Int? = nil) -> Bool {
        state.withLock { state in
            guard epoch.map({ $0 == state.epoch }) ?? true, let until = state.trustedUntil else { return false }
            return clock.now < until
        }
    }
}
