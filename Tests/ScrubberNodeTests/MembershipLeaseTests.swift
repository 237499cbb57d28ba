import ScrubberNode
import TestSupport
import Testing

/// The node's own view of its membership (DESIGN §3.3): trust from the attempt's start, and
/// never across a rejoin. Time is a manual clock: the windows are stepped through, not waited for.
@Suite struct MembershipLeaseTests {
    @Test func trustRunsFromTheHeartbeatStartMinusTheMargin() {
        let time = ManualClock()
        let clock = NodeClock(time)
        let lease = MembershipLease(ttl: 5, clock: clock)
        #expect(!lease.isTrusted(), "no membership before the first join")
        let start = clock.now
        time.advance(by: .seconds(2))  // the heartbeat took 2 s to come back
        lease.renewed(startedAt: start, epoch: lease.epoch)
        #expect(lease.isTrusted())
        // ttl 5, margin 1: trusted until 4 s after the heartbeat *started*, however late it ended.
        time.advance(by: .milliseconds(1999))
        #expect(lease.isTrusted(), "3.999 s after the start")
        time.advance(by: .milliseconds(1))
        #expect(!lease.isTrusted(), "4 s after the start")
        // A heartbeat that started long ago and lands now extends nothing.
        lease.renewed(startedAt: start, epoch: lease.epoch)
        #expect(!lease.isTrusted())
        // A later one does, and trust never moves back.
        let later = clock.now
        lease.renewed(startedAt: later, epoch: lease.epoch)
        lease.renewed(startedAt: start, epoch: lease.epoch)
        time.advance(by: .milliseconds(3999))
        #expect(lease.isTrusted())
        time.advance(by: .milliseconds(1))
        #expect(!lease.isTrusted())
    }

    @Test func theMarginIsAQuarterOfAShortTTL() {
        let time = ManualClock()
        let lease = MembershipLease(ttl: 2, clock: NodeClock(time))
        #expect(lease.margin == .milliseconds(500))
        lease.renewed(startedAt: NodeClock.Instant(offset: .zero), epoch: lease.epoch)
        time.advance(by: .milliseconds(1499))
        #expect(lease.isTrusted())
        time.advance(by: .milliseconds(1))
        #expect(!lease.isTrusted())
    }

    @Test func workClaimedBeforeTheMembershipWasLostIsNeverTrustedAfterARejoin() {
        let time = ManualClock()
        let clock = NodeClock(time)
        let lease = MembershipLease(ttl: 5, clock: clock)
        let first = lease.epoch
        lease.renewed(startedAt: clock.now, epoch: first)
        #expect(lease.isTrusted(epoch: first))
        lease.lost()
        #expect(!lease.isTrusted(epoch: first))
        // A heartbeat from the old epoch that lands late changes nothing.
        lease.renewed(startedAt: clock.now, epoch: first)
        #expect(!lease.isTrusted())
        // The rejoin starts a new epoch: new claims may act, old ones may not.
        let second = lease.epoch
        lease.renewed(startedAt: clock.now, epoch: second)
        #expect(lease.isTrusted(epoch: second))
        #expect(!lease.isTrusted(epoch: first))
    }
}
