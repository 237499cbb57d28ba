import Foundation

/// Two hosts on one machine: network namespaces joined by a veth pair, with addresses of
/// their own, so traffic between them really crosses interfaces (and neither can reach the
/// other's loopback). Made with iproute2 (`ip netns add`); needs root, as CI runs.
final class NetworkNamespaces: Sendable {
    static let ip =
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "ip"

    let server: String
    let nodes: String
    let serverAddress: String
    let nodesAddress: String
    private let serverLink: String

    init() throws {
        let tag = String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(6)).lowercased()
        server = "scrub-srv-\(tag)"
        nodes = "scrub-nod-\(tag)"
        serverLink = "vs\(tag)"
        let nodesLink = "vn\(tag)"
        let subnet = "10.\(Int.random(in: 64...127)).\(Int.random(in: 1...254))"
        serverAddress = subnet + ".1"
        nodesAddress = subnet + ".2"
        try Self.run(["netns", "add", server])
        do {
            try Self.run(["netns", "add", nodes])
            try Self.run(["link", "add", serverLink, "type", "veth", "peer", "name", nodesLink])
            try Self.run(["link", "set", serverLink, "netns", server])
            try Self.run(["link", "set", nodesLink, "netns", nodes])
            for (ns, link, address) in [(server, serverLink, serverAddress), (nodes, nodesLink, nodesAddress)] {
                try Self.run(["-n", ns, "addr", "add", address + "/24", "dev", link])
                try Self.run(["-n", ns, "link", "set", link, "up"])
                try Self.run(["-n", ns, "link", "set", "lo", "up"])
            }
        } catch {
            teardown()
            throw error
        }
    }

    /// Bytes the server's end of the link has received.
    func serverReceivedBytes() throws -> Int {
        let text = try Self.run(["-n", server, "-s", "-o", "link", "show", serverLink])
        // "…    RX: bytes packets …\\    1234 56 …": the first number after the RX header.
        guard let rx = text.range(of: "RX:") else { return 0 }
        let numbers = text[rx.upperBound...].split(whereSeparator: { $0 == " " || $0 == "\\" }).compactMap { Int($0) }
        return numbers.first ?? 0
    }

    private func teardown() {
        _ = try? Self.run(["netns", "delete", server])
        _ = try? Self.run(["netns", "delete", nodes])
    }

    deinit {
        // Deleting a namespace deletes its end of the veth pair, and so the pair.
        teardown()
    }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ip)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NamespaceError(
                message: "ip \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): "
                    + String(decoding: error, as: UTF8.self) + " (this test needs root and iproute2)"
            )
        }
        return String(decoding: output, as: UTF8.self)
    }
}

struct NamespaceError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
