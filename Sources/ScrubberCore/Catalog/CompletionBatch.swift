/// One row of `scrub_events`.
public struct AuditEvent: Sendable, Hashable {
    public var nodeID: String?
    public var term: Int64
    public var imageID: String?
    public var locationID: Int64?
    public var store: String?
    public var action: ScrubAction
    public var detail: String?

    public init(nodeID: String?, term: Int64, imageID: String?, locationID: Int64? = nil, store: String? = nil,
                action: ScrubAction, detail: String? = nil) {
        self.nodeID = nodeID
        self.term = term
        self.imageID = imageID
        self.locationID = locationID
        self.store = store
        self.action = action
        self.detail = detail
    }
}

/// The decisions of ``ScrubCatalog/complete(_:nodeID:backoff:)``, apart from the SQL that
/// reads and writes them, so every SQL backend records a batch the same way, in a fixed
/// number of set-based statements whatever the batch's size:
///
/// 1. read the claims this node holds on the batch's images (``imageIDs``);
/// 2. mark every gone location `deleted` (``goneLocationIDs``), claim or not: data that is
///    gone must never be restored;
/// 3. ``decide(held:)``: which images may be marked `deleted`, which failed, which claims
///    were lost;
/// 4. mark the candidates `deleted` (a compare-and-set that reports which it changed);
/// 5. ``finish(_:deleted:locationsDeleted:)``: the assignments to remove, the failures to
///    record, the audit rows and the report.
public struct CompletionBatch: Sendable {
    /// A claim the node holds: its term and the image's status as read with it.
    public struct HeldClaim: Sendable, Hashable {
        public var term: Int64
        public var imageStatus: String

        public init(term: Int64, imageStatus: String) {
            self.term = term
            self.imageStatus = imageStatus
        }
    }

    /// A failed image: back to `assigned` with this error and a backoff.
    public struct Failure: Sendable, Hashable {
        public var imageID: String
        public var message: String
        public var delay: Double
    }

    /// What step 3 decided.
    public struct Decision: Sendable {
        /// Every location fine and the claim held on a `pending_delete` image: try to mark them `deleted`.
        public var candidates: [String] = []
        /// Held claims on images no longer `pending_delete` (restored or deleted meanwhile).
        public var staleClaims: [String] = []
        fileprivate var failures: [Failure] = []
        fileprivate var lost: [String] = []
    }

    /// What the last steps write.
    public struct Finish: Sendable {
        public var deleteAssignments: [String]
        public var failures: [Failure]
        public var events: [AuditEvent]
        public var report: CompletionReport
    }

    public let nodeID: String
    public let outcomes: [ScrubOutcome]
    public let backoff: Backoff
    /// The batch's images, each once, in order.
    public let imageIDs: [String]
    /// Locations whose data is gone.
    public let goneLocationIDs: [Int64]

    public init(_ outcomes: [ScrubOutcome], nodeID: String, backoff: Backoff) {
        self.outcomes = outcomes
        self.nodeID = nodeID
        self.backoff = backoff
        var seen = Set<String>()
        imageIDs = outcomes.map(\.imageID).filter { seen.insert($0).inserted }
        goneLocationIDs = outcomes.flatMap { $0.locations.filter(\.outcome.isGone).map(\.locationID) }
    }

    /// Step 3. An image that appears twice in a batch (a replay) counts once; its repeat is a
    /// lost claim, as it would be in a later batch.
    public func decide(held: [String: HeldClaim]) -> Decision {
        var decision = Decision()
        var seen = Set<String>()
        for outcome in outcomes {
            guard seen.insert(outcome.imageID).inserted, let claim = held[outcome.imageID] else {
                decision.lost.append(outcome.imageID)
                continue
            }
            guard claim.imageStatus == ImageStatus.pendingDelete.rawValue else {
                decision.staleClaims.append(outcome.imageID)
                decision.lost.append(outcome.imageID)
                continue
            }
            if let error = outcome.firstError {
                decision.failures.append(Failure(
                    imageID: outcome.imageID, message: error,
                    delay: backoff.delay(afterAttempts: outcome.previousAttempts + 1)))
            } else {
                decision.candidates.append(outcome.imageID)
            }
        }
        return decision
    }

    /// Step 5, given the candidates step 4 marked `deleted`.
    public func finish(_ decision: Decision, held: [String: HeldClaim], deleted: Set<String>, locationsDeleted: Int) -> Finish {
        var report = CompletionReport()
        report.locationsDeleted = locationsDeleted
        report.claimsLost = decision.lost
        var failures = decision.failures
        for id in decision.candidates where !deleted.contains(id) {
            // A pending location appeared while we scrubbed: go round again at once.
            failures.append(Failure(
                imageID: id, message: "a pending_delete location appeared while the image was being scrubbed; retrying", delay: 0))
        }
        let failed = Set(failures.map(\.imageID))
        var events: [AuditEvent] = []
        var seen = Set<String>()
        for outcome in outcomes {
            let term = held[outcome.imageID]?.term ?? 0
            for result in outcome.locations {
                var detail: String?
                if case .failed(let message) = result.outcome { detail = message }
                events.append(AuditEvent(nodeID: nodeID, term: term, imageID: outcome.imageID, locationID: result.locationID,
                                         store: result.store, action: result.outcome.action, detail: detail))
            }
            guard seen.insert(outcome.imageID).inserted else { continue }
            if deleted.contains(outcome.imageID) {
                events.append(AuditEvent(nodeID: nodeID, term: term, imageID: outcome.imageID, action: .imageDeleted))
                report.imagesDeleted.append(outcome.imageID)
            } else if failed.contains(outcome.imageID) {
                report.imagesFailed.append(outcome.imageID)
            }
        }
        return Finish(deleteAssignments: decision.staleClaims + report.imagesDeleted, failures: failures,
                      events: events, report: report)
    }
}

extension Array {
    /// The array in consecutive slices of at most `size` elements (none when empty).
    public func chunks(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
