import ScrubberCore
import ScrubberStores

/// Restores `pending_delete` images (DESIGN §3.5): the image **and** its pending locations
/// whose data still exists go back to `active`, in one compare-and-set that fails while the
/// image is being scrubbed.
public struct Restorer: Sendable {
    private let catalog: any ScrubCatalog
    private let router: StoreRouter

    public init(catalog: any ScrubCatalog, router: StoreRouter) {
        self.catalog = catalog
        self.router = router
    }

    /// Restores `imageID`.
    ///
    /// - Parameter force: restore what remains when some location's data is gone (those
    ///   locations are marked `deleted` and reported) or cannot be checked (left `active`).
    /// - Throws: ``RestoreRefusal`` when nothing was changed and why.
    public func restore(imageID: String, force: Bool, actor: String) async throws -> RestoreResult {
        let plan = try await catalog.restorePlan(imageID: imageID)
        guard let status = plan.status else { throw RestoreRefusal.noSuchImage(imageID) }
        guard status == .pendingDelete else { throw RestoreRefusal.notPendingDelete(imageID, status) }
        if let node = plan.scrubbingNode { throw RestoreRefusal.beingScrubbed(imageID, node: node) }

        var keep: [Int64] = []
        var lost: [Int64] = []
        // A node that deleted these, then found its claim gone, recorded them `deleted` but
        // could not mark the image: the image looks restorable, its data is not there.
        var lostNames = plan.scrubbedLocations.map { "location \($0) (already scrubbed)" }
        var problems: [String] = []
        for location in plan.locations {
            do {
                if try await router.exists(location) {
                    keep.append(location.id)
                } else {
                    lost.append(location.id)
                    lostNames.append("location \(location.id)")
                }
            } catch {
                problems.append("location \(location.id): \(error)")
                keep.append(location.id)
            }
        }
        if !force {
            if !lostNames.isEmpty { throw RestoreRefusal.dataGone(imageID, locations: lostNames) }
            if !problems.isEmpty { throw RestoreRefusal.cannotVerify(imageID, problems: problems) }
        }
        var result = try await catalog.commitRestore(RestoreRequest(imageID: imageID, keep: keep, lost: lost, actor: actor))
        result.lostLocations += plan.scrubbedLocations
        return result
    }
}
