import ScrubberNode
import Testing

/// The node's own view of its membership (DESIGN §3.3): trust from the attempt's start, and
/// never across a rejoin.
@Suite struct MembershipLeaseTests {
    @Test func trustRunsFromTheHeartbeatStartMinusTheMargin() {
        let lease = MembershipLease(ttl: 5)
        #expect(!lease.isTrusted(), "no membership before the first join")
        let start = ContinuousClock.now
        lease.renewed(startedAt: start, epoch: lease.epoch)
        #expect(lease.isTrusted())
        // A heartbeat that started 4.5 s ago (ttl 5, margin 1) is no longer trusted, however late it ended.
        let stale = MembershipLease(ttl: 5)
        stale.renewed(startedAt: start - .seconds(4.5), epoch: stale.epoch)
        #expect(!stale.isTrusted())
    }

    @Test func workClaimedBeforeTheMembershipWasLostIsNeverTrustedAfterARejoin() {
        let lease = MembershipLease(ttl: 5)
        let first = lease.epoch
        lease.renewed(startedAt: .now, epoch: first)
        #expect(lease.isTrusted(epoch: first))
        lease.lost()
        #expect(!lease.isTrusted(epoch: first))
        // A heartbeat from the old epoch that lands late changes nothing.
        lease.renewed(startedAt: .now, epoch: first)
        #expect(!lease.isTrusted())
        // The rejoin starts a new epoch: new claims may act, old ones may not.
        let second = lease.epoch
        lease.renewed(startedAt: .now, epoch: second)
        #expect(lease.isTrusted(epoch: second))
        #expect(!lease.isTrusted(epoch: first))
    }
}
