/// One row of `scrub_events`.
public struct AuditEvent: Sendable, Hashable {
    public var nodeID: String?
    public var term: Int64
    public var imageID: String?
    public var locationID: Int64?
    public var store: String?
    public var action: ScrubAction
    public var detail: String?
    /// For a `failed` row, the failure's class.
    public var failureClass: FailureClass?

    public init(
        nodeID: String?,
        term: Int64,
        imageID: String?,
        locationID: Int64? = nil,
        store: String? = nil,
        action: ScrubAction,
        detail: String? = nil,
        failureClass: FailureClass? = nil
    ) {
        self.nodeID = nodeID
        self.term = term
        self.imageID = imageID
        self.locationID = locationID
        self.store = store
        self.action = action
        self.detail = detail
        self.failureClass = failureClass
    }
}

/// The decisions of ``ScrubCatalog/complete(_:node:backoff:)``, apart from the SQL that
/// reads and writes them, so every SQL backend records a batch the same way, in a fixed
/// number of set-based statements whatever the batch's size:
///
/// 1. read the claims this node holds on the batch's images (``imageIDs``), with their tokens;
/// 2. mark every gone location `deleted` (``goneLocations``: only a location of the image the
///    outcome names), claim or not: data that is gone must never be restored. The statement
///    reports which rows it changed;
/// 3. ``decide(held:)``: which images may be marked `deleted`, which failed, which claims
///    were lost (an outcome completes a claim only if it names that claim's token);
/// 4. mark the candidates `deleted` (a compare-and-set that reports which it changed);
/// 5. ``finish(_:held:deleted:changedLocations:)``: the assignments to remove, the failures to
///    record, the audit rows (only for rows whose state changed) and the report.
public struct CompletionBatch: Sendable {
    /// A claim the node holds: its term, its token and the image's status as read with it.
    public struct HeldClaim: Sendable, Hashable {
        public var term: Int64
        public var imageStatus: String
        public var claimToken: String?

        public init(term: Int64, imageStatus: String, claimToken: String?) {
            self.term = term
            self.imageStatus = imageStatus
            self.claimToken = claimToken
        }
    }

    /// A gone location and the image the outcome names it for.
    public struct GoneLocation: Sendable, Hashable {
        public var locationID: Int64
        public var imageID: String
    }

    /// A failed image: back to `assigned` with this error (its first failed location's message,
    /// class, store and dependents) and a backoff for its class, under the claim it names.
    public struct Failure: Sendable, Hashable {
        public var imageID: String
        public var claimToken: String
        public var message: String
        public var failureClass: FailureClass
        public var store: String?
        public var dependents: [String]
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
        /// The tokens of the claims this batch completes, by image.
        fileprivate var tokens: [String: String] = [:]
        /// Which outcome (its index in the batch) completes each image's claim.
        fileprivate var applied: [String: Int] = [:]
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
    /// Locations whose data is gone, each once, with the image its outcome names.
    public let goneLocations: [GoneLocation]

    public init(_ outcomes: [ScrubOutcome], nodeID: String, backoff: Backoff) {
        self.outcomes = outcomes
        self.nodeID = nodeID
        self.backoff = backoff
        var seen = Set<String>()
        imageIDs = outcomes.map(\.imageID).filter { seen.insert($0).inserted }
        var seenLocations = Set<GoneLocation>()
        goneLocations = outcomes.flatMap { outcome in
            outcome.locations.filter(\.outcome.isGone).map { GoneLocation(locationID: $0.locationID, imageID: outcome.imageID) }
        }.filter { seenLocations.insert($0).inserted }
    }

    /// Step 3. An outcome completes a claim only when the node holds that very claim: same
    /// token, state `scrubbing`. One batch may carry outcomes of two claims of one image (an
    /// earlier claim's, late, beside the current one's): only the current claim's counts. An
    /// outcome repeated in a batch (a replay) counts once; its repeat is lost, as it would be in
    /// a later batch.
    public func decide(held: [String: HeldClaim]) -> Decision {
        var decision = Decision()
        for (index, outcome) in outcomes.enumerated() {
            guard decision.applied[outcome.imageID] == nil, let claim = held[outcome.imageID],
                let token = outcome.claimToken, claim.claimToken == token
            else {
                decision.lost.append(outcome.imageID)
                continue
            }
            decision.applied[outcome.imageID] = index
            guard claim.imageStatus == ImageStatus.pendingDelete.rawValue else {
                decision.staleClaims.append(outcome.imageID)
                decision.lost.append(outcome.imageID)
                continue
            }
            decision.tokens[outcome.imageID] = token
            if let failed = outcome.firstFailure, let (message, failureClass) = failed.failure {
                decision.failures.append(
                    Failure(
                        imageID: outcome.imageID,
                        claimToken: token,
                        message: message,
                        failureClass: failureClass,
                        store: failed.store,
                        dependents: failed.dependents,
                        delay: backoff.delay(afterAttempts: outcome.previousAttempts + 1, class: failureClass)
                    )
                )
            } else {
                decision.candidates.append(outcome.imageID)
            }
        }
        return decision
    }

    /// Step 5, given the candidates step 4 marked `deleted` and the locations step 2 changed.
    public func finish(
        _ decision: Decision,
        held: [String: HeldClaim],
        deleted: Set<String>,
        changedLocations: Set<Int64>
    ) -> Finish {
        var report = CompletionReport()
        report.locationsDeleted = changedLocations.count
        report.claimsLost = decision.lost
        var failures = decision.failures
        for id in decision.candidates where !deleted.contains(id) {
            // A pending location appeared while we scrubbed: go round again at once.
            failures.append(
                Failure(
                    imageID: id,
                    claimToken: decision.tokens[id] ?? "",
                    message: "transient: a pending_delete location appeared while the image was being scrubbed; retrying",
                    failureClass: .transient,
                    store: nil,
                    dependents: [],
                    delay: 0
                )
            )
        }
        let failed = Set(failures.map(\.imageID))
        // Location failures are recorded only with the failure of a held claim.
        let failedHere = Set(decision.failures.map(\.imageID))
        var events: [AuditEvent] = []
        var audited = Set<Int64>()
        for (index, outcome) in outcomes.enumerated() {
            let term = held[outcome.imageID]?.term ?? 0
            // The outcome that completes the image's claim: the only one image-level rows follow.
            let completes = decision.applied[outcome.imageID] == index
            for result in outcome.locations {
                var detail: String?
                switch result.outcome {
                case .deleted, .notFound:
                    // Once, and only for the row this batch changed: the audit is a "deleted exactly once" record.
                    guard changedLocations.contains(result.locationID), audited.insert(result.locationID).inserted else { continue }
                case .failed(let message):
                    guard completes, failedHere.contains(outcome.imageID) else { continue }
                    detail = message
                }
                events.append(
                    AuditEvent(
                        nodeID: nodeID,
                        term: term,
                        imageID: outcome.imageID,
                        locationID: result.locationID,
                        store: result.store,
                        action: result.outcome.action,
                        detail: detail,
                        failureClass: result.failureClass
                    )
                )
            }
            guard completes else { continue }
            if deleted.contains(outcome.imageID) {
                events.append(AuditEvent(nodeID: nodeID, term: term, imageID: outcome.imageID, action: .imageDeleted))
                report.imagesDeleted.append(outcome.imageID)
            } else if failed.contains(outcome.imageID) {
                report.imagesFailed.append(outcome.imageID)
            }
        }
        return Finish(
            deleteAssignments: decision.staleClaims + report.imagesDeleted,
            failures: failures,
            events: events,
            report: report
        )
    }
}

extension Array {
    /// The array in consecutive slices of at most `size` elements (none when empty).
    public func chunks(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
