import ScrubberCore
import TestSupport
import Testing

@Suite("Partitioner: weighted rendezvous hashing within windows")
struct PartitionerTests {
    typealias Node = Partitioner.Node

    /// 30,000 UUID-like image ids, the same on every run.
    static let images: [String] = {
        var rng = SplitMix64(seed: 0x5eed)
        func hex(_ v: UInt64, _ digits: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, digits - s.count)) + s
        }
        return (0..<30_000).map { _ in
            let a = rng.next()
            let b = rng.next()
            return
                "\(hex(a >> 32, 8))-\(hex(a >> 16 & 0xffff, 4))-4\(hex(a & 0xfff, 3))-8\(hex(b >> 52, 3))-\(hex(b & 0xffff_ffff_ffff, 12))"
        }
    }()

    static func nodes(_ capacities: [Int], queued: Int = 0) -> [Node] {
        capacities.enumerated().map { Node(id: "node-\($0.offset)", capacity: $0.element, queued: queued) }
    }

    static func owners(_ nodes: [Node]) -> [String] {
        images.map { Partitioner.preferredNode(for: $0, among: nodes)! }
    }

    static func shares(_ owners: [String], _ nodes: [Node]) -> [String: Double] {
        var counts: [String: Int] = [:]
        for o in owners { counts[o, default: 0] += 1 }
        return Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, Double(counts[$0.id, default: 0]) / Double(owners.count)) })
    }

    // MARK: score

    @Test("score is a pure function of the ids and capacity, the same in every process")
    func scoreIsStable() {
        // Computed independently (Python: FNV-1a 64 over node, 0xff, image; splitmix64
        // finaliser; u = (h >> 11 + 0.5) / 2^53; capacity / −ln u). The hashing is exact integer
        // arithmetic; only `log` is floating point, hence the relative tolerance.
        let known: [(String, String, Int, Double)] = [
            ("node-a", "3f2b8c1e-0000-4000-8000-000000000001", 1, 1.4756980791425405),
            ("node-b", "3f2b8c1e-0000-4000-8000-000000000001", 4, 1.1703447752031382),
            ("n1", "img", 8, 7.817569437615609),
        ]
        for (node, image, capacity, expected) in known {
            let s = Partitioner.score(node: node, image: image, capacity: capacity)
            #expect(abs(s - expected) <= 1e-12 * expected, "\(node) \(image) \(capacity): \(s)")
            #expect(Partitioner.score(node: node, image: image, capacity: capacity) == s)
        }
        // Capacity scales the score; a capacity below 1 counts as 1.
        let one = Partitioner.score(node: "n", image: "i", capacity: 1)
        #expect(Partitioner.score(node: "n", image: "i", capacity: 3) == 3 * one)
        #expect(Partitioner.score(node: "n", image: "i", capacity: 0) == one)
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        #expect(Partitioner.score(node: "ab", image: "c", capacity: 1) != Partitioner.score(node: "a", image: "bc", capacity: 1))
        for image in Self.images.prefix(1000) {
            let s = Partitioner.score(node: "node-0", image: image, capacity: 2)
            #expect(s.isFinite && s > 0)
        }
    }

    // MARK: preferredNode

    @Test("equal capacities share the images equally (each within ±3 % of 1/3)")
    func equalShares() {
        let nodes = Self.nodes([1, 1, 1])
        let shares = Self.shares(Self.owners(nodes), nodes)
        for node in nodes {
            let share = shares[node.id]!
            #expect(abs(share - 1.0 / 3) <= 0.03 / 3, "\(node.id): \(share)")
        }
    }

    @Test("capacities 1:2:3 get 1/6, 2/6, 3/6 of the images (each within ±3 %)")
    func weightedShares() {
        let nodes = Self.nodes([1, 2, 3])
        let shares = Self.shares(Self.owners(nodes), nodes)
        for node in nodes {
            let expected = Double(node.capacity) / 6
            let share = shares[node.id]!
            #expect(abs(share - expected) <= 0.03 * expected, "\(node.id): \(share), expected \(expected)")
        }
    }

    @Test("the preferred node ignores the order of the nodes and their queues")
    func preferredIgnoresOrderAndQueues() {
        let nodes = Self.nodes([1, 2, 3, 1])
        let shuffled = [nodes[2], nodes[0], nodes[3], nodes[1]].map { Node(id: $0.id, capacity: $0.capacity, queued: 1000) }
        for image in Self.images.prefix(3000) {
            #expect(Partitioner.preferredNode(for: image, among: nodes) == Partitioner.preferredNode(for: image, among: shuffled))
        }
        #expect(Partitioner.preferredNode(for: "x", among: []) == nil)
    }

    @Test("a joining node takes only images that now prefer it: about 1/4 of them")
    func joinMovesOnlyToNewNode() {
        let three = Self.nodes([1, 1, 1])
        let four = three + [Node(id: "node-new", capacity: 1, queued: 0)]
        let before = Self.owners(three)
        let after = Self.owners(four)
        var moved = 0
        for (i, image) in Self.images.enumerated() where before[i] != after[i] {
            moved += 1
            #expect(after[i] == "node-new", "\(image) moved from \(before[i]) to \(after[i])")
        }
        let fraction = Double(moved) / Double(Self.images.count)
        #expect(abs(fraction - 0.25) <= 0.03 * 0.25, "moved \(fraction)")
        // And the new node takes exactly the images that moved.
        #expect(after.filter { $0 == "node-new" }.count == moved)
    }

    @Test("a leaving node's images move (spread over the others), and no other image moves")
    func leaveMovesOnlyItsImages() {
        let four = Self.nodes([1, 2, 3, 2])
        let gone = four[2].id
        let three = four.filter { $0.id != gone }
        let before = Self.owners(four)
        let after = Self.owners(three)
        var landed: [String: Int] = [:]
        for i in Self.images.indices {
            if before[i] == gone {
                landed[after[i], default: 0] += 1
            } else {
                #expect(after[i] == before[i], "\(Self.images[i]) moved from \(before[i]) to \(after[i])")
            }
        }
        // Its images spread by capacity over the rest (1:2:2), not onto one node.
        let total = Double(landed.values.reduce(0, +))
        for node in three {
            let expected = Double(node.capacity) / 5
            let share = Double(landed[node.id, default: 0]) / total
            #expect(abs(share - expected) <= 0.1 * expected, "\(node.id): \(share) of the moved images")
        }
    }

    // MARK: assign

    /// Replays `assign` and checks each pair against the rule: the highest-scoring node that
    /// still had room at that point. Returns the per-node counts.
    @discardableResult
    static func checkGreedy(_ pairs: [(image: String, node: String)], _ nodes: [Node], window: Int, seed: UInt64? = nil) -> [String: Int] {
        var room = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, max(0, window - $0.queued)) })
        var counts: [String: Int] = [:]
        for (image, node) in pairs {
            let candidates = nodes.filter { room[$0.id]! > 0 }
            let best = candidates.max {
                Partitioner.score(node: $0.id, image: image, capacity: $0.capacity)
                    < Partitioner.score(node: $1.id, image: image, capacity: $1.capacity)
            }
            #expect(
                best?.id == node,
                "seed \(seed.map(String.init) ?? "-"): \(image) went to \(node), best with room was \(best?.id ?? "none")"
            )
            room[node, default: 0] -= 1
            counts[node, default: 0] += 1
        }
        return counts
    }

    @Test(
        "assign respects windows, fills the best node with room, keeps input order, and stops only when all are full",
        arguments: 0..<UInt64(100)
    )
    func assignRandom(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let window = 1 + rng.below(40)
        let nodes = (0..<(1 + rng.below(6))).map { k in
            Node(id: "node-\(k)", capacity: 1 + rng.below(8), queued: rng.below(window + 10))
        }
        let offset = rng.below(25_000)
        let images = Array(Self.images[offset..<(offset + rng.below(300))])
        let partitioner = Partitioner(window: window)
        let pairs = partitioner.assign(images, to: nodes)

        let room = partitioner.room(nodes)
        #expect(room == nodes.reduce(0) { $0 + max(0, window - $1.queued) }, "seed \(seed)")
        // In input order, a prefix: as many as fit.
        #expect(pairs.count == min(images.count, room), "seed \(seed)")
        #expect(pairs.map(\.image) == Array(images.prefix(pairs.count)), "seed \(seed)")
        let counts = Self.checkGreedy(pairs, nodes, window: window, seed: seed)
        for node in nodes {
            let got = counts[node.id, default: 0]
            #expect(got <= max(0, window - node.queued), "seed \(seed): \(node.id) got \(got), queued \(node.queued), window \(window)")
            // No node idles while another has backlog: with more images than room, every window fills.
            if images.count >= room { #expect(got == max(0, window - node.queued), "seed \(seed): \(node.id) left room") }
        }
    }

    @Test("with ample windows assign is exactly preferredNode")
    func ampleWindowsMatchPreferred() {
        let nodes = Self.nodes([1, 2, 3, 4])
        let images = Array(Self.images.prefix(5000))
        let pairs = Partitioner(window: images.count).assign(images, to: nodes)
        #expect(pairs.count == images.count)
        for (i, pair) in pairs.enumerated() {
            #expect(pair.image == images[i])
            #expect(pair.node == Partitioner.preferredNode(for: pair.image, among: nodes))
        }
    }

    @Test("nothing is assigned when every window is full (or over-full), or when there are no nodes")
    func fullWindowsAssignNothing() {
        let partitioner = Partitioner(window: 10)
        let nodes = [
            Node(id: "a", capacity: 1, queued: 10), Node(id: "b", capacity: 5, queued: 12), Node(id: "c", capacity: 2, queued: 10),
        ]
        #expect(partitioner.assign(Array(Self.images.prefix(100)), to: nodes).isEmpty)
        #expect(partitioner.room(nodes) == 0)
        #expect(partitioner.assign(Array(Self.images.prefix(100)), to: []).isEmpty)
        #expect(Partitioner(window: 10).assign([], to: Self.nodes([1, 1])).isEmpty)
    }

    @Test("a node with a full window does not hold up the others: its images go to them")
    func fullNodeOverflowsToOthers() {
        let window = 50
        let nodes = [
            Node(id: "node-0", capacity: 4, queued: window),  // full
            Node(id: "node-1", capacity: 1, queued: 0),
            Node(id: "node-2", capacity: 1, queued: 10),
        ]
        let others = Array(nodes.dropFirst())
        let partitioner = Partitioner(window: window)

        // Fewer images than the others' room: each goes to its rendezvous winner among the others.
        let few = Array(Self.images.prefix(60))
        #expect(few.filter { Partitioner.preferredNode(for: $0, among: nodes) == "node-0" }.count > 20)  // capacity 4 of 6
        let placed = partitioner.assign(few, to: nodes)
        #expect(placed.count == few.count)
        for (image, node) in placed {
            #expect(node == Partitioner.preferredNode(for: image, among: others), "\(image) went to \(node)")
        }

        // A backlog: the others fill their windows, the full node gets nothing.
        let many = Array(Self.images.prefix(200))
        let pairs = partitioner.assign(many, to: nodes)
        let counts = Self.checkGreedy(pairs, nodes, window: window)
        #expect(counts["node-0"] == nil)
        #expect(counts["node-1"] == 50)
        #expect(counts["node-2"] == 40)
        #expect(pairs.map(\.image) == Array(many.prefix(90)))
    }
}

@Suite struct PartitionerRebalanceTests {
    @Test func anIdleNodeGetsHalfTheDifferenceFromTheBusiestQueueAtMostOneBatch() {
        let p = Partitioner(window: 1000)
        let moves = p.rebalance(
            [
                .init(id: "busy", capacity: 4, queued: 600), .init(id: "idle", capacity: 4, queued: 0),
                .init(id: "some", capacity: 4, queued: 10),
            ],
            batch: 256
        )
        #expect(moves.count == 1)
        #expect(moves.first?.from == "busy")
        #expect(moves.first?.to == "idle")
        #expect(moves.first?.count == 256)
    }

    @Test func smallQueuesAndBusyClustersAreLeftAlone() {
        let p = Partitioner(window: 1000)
        #expect(p.rebalance([.init(id: "a", capacity: 4, queued: 100), .init(id: "b", capacity: 4, queued: 0)], batch: 256).isEmpty)
        #expect(p.rebalance([.init(id: "a", capacity: 4, queued: 900), .init(id: "b", capacity: 4, queued: 3)], batch: 256).isEmpty)
    }

    @Test func severalIdleNodesShareTheBusiestQueues() {
        let p = Partitioner(window: 2000)
        let moves = p.rebalance(
            [
                .init(id: "busy", capacity: 4, queued: 1000), .init(id: "i1", capacity: 4, queued: 0),
                .init(id: "i2", capacity: 4, queued: 0),
            ],
            batch: 256
        )
        #expect(moves.map(\.to).sorted() == ["i1", "i2"])
        #expect(moves.allSatisfy { $0.from == "busy" && $0.count == 256 })
    }
}
