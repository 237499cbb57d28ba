// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "scrubber",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "scrubber", targets: ["scrubber"])
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Tests only: parsing the Kubernetes manifests in deploy/.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // No I/O: the domain model, eligibility, Glance's cipher, URL rules, configuration,
        // and the catalog protocol every coordination backend implements.
        .target(
            name: "ScrubberCore",
            dependencies: [.product(name: "_CryptoExtras", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // Storage backends behind one protocol: file://, and a simulated one for tests/benchmarks;
        // S3 (its SigV4 signer) and Swift on async-http-client; RBD on librbd, loaded with dlopen.
        .target(
            name: "ScrubberStores",
            dependencies: [
                "ScrubberCore", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Every catalog operation written once in SQL, over a small executor protocol
        // (SQLExecutor: a statement, a query; SQLCatalog: a transaction), and the one list of
        // migrations both databases read. The two backends below give only connections.
        .target(name: "ScrubberSQL", dependencies: ["ScrubberCore"], swiftSettings: strict),
        // The SQL catalog on SQLite (GRDB, linking the system libsqlite3).
        .target(
            name: "ScrubberSQLite",
            dependencies: ["ScrubberCore", "ScrubberSQL", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        // The same protocol on PostgreSQL (postgres-nio): many hosts, Glance's production database.
        .target(
            name: "ScrubberPostgres",
            dependencies: [
                "ScrubberCore", "ScrubberSQL",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The lease service: the catalog protocol over HTTP/JSON (Hummingbird), fronting a
        // SQLite or PostgreSQL catalog for nodes that cannot reach the database.
        .target(
            name: "ScrubberService",
            dependencies: [
                "ScrubberCore",
                "ScrubberTelemetry", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The client side of the lease service: the same protocol over async-http-client.
        .target(
            name: "ScrubberRemote",
            dependencies: [
                "ScrubberCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The node: the scrub pipeline (claim, delete, complete) and its run loop.
        .target(
            name: "ScrubberNode",
            dependencies: [
                "ScrubberCore", "ScrubberStores",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // What an operator scrapes and probes: Prometheus text on /metrics (swift-metrics
        // bootstrapped with swift-prometheus), /healthz and /readyz, and the backlog gauges.
        .target(
            name: "ScrubberTelemetry",
            dependencies: [
                "ScrubberCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The CLI: argument parsing and wiring only.
        .executableTarget(
            name: "scrubber",
            dependencies: [
                "ScrubberCore", "ScrubberStores", "ScrubberSQLite", "ScrubberPostgres", "ScrubberNode",
                "ScrubberService", "ScrubberRemote", "ScrubberTelemetry", "ScrubberTestKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // What tests, `scrubber bench`, `seed` and `demo` need and production does not: seed rows
        // as Glance leaves them (and their files), the benchmark's unchecked writes on every SQL
        // catalog, and the bench harness (Rehearsal, IdleBench: node processes, /proc readings),
        // in the manner of HummingbirdTesting / ServiceLifecycleTestKit.
        .target(
            name: "ScrubberTestKit",
            dependencies: [
                "ScrubberCore", "ScrubberStores", "ScrubberNode", "ScrubberSQL", "ScrubberSQLite", "ScrubberPostgres",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Test support, one target: files made by the real Glance (its SQLite database, its
        // PostgreSQL schema, its cipher's vectors) as resources (Fixtures/README.md says how they
        // were made); a throwaway PostgreSQL server; the manual clock; the seeded generator; the
        // watchdog that stops spawned processes when the test runner dies.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        // The tests' Swift All-In-One or one-node Ceph, by hand, for the object-store benchmarks.
        .executableTarget(name: "bench-servers", dependencies: ["TestSupport"], path: "Tests/BenchServers", swiftSettings: strict),
        .testTarget(name: "ScrubberCoreTests", dependencies: ["ScrubberCore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ScrubberStoresTests",
            dependencies: [
                "ScrubberCore", "ScrubberStores", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ScrubberNodeTests",
            dependencies: [
                "ScrubberCore", "ScrubberStores", "ScrubberSQL", "ScrubberSQLite", "ScrubberPostgres", "ScrubberNode",
                "ScrubberService", "ScrubberRemote", "ScrubberTestKit", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Multi-process tests: they spawn the real `scrubber` binary.
        .testTarget(
            name: "ScrubberCLITests",
            dependencies: [
                "scrubber", "ScrubberCore", "ScrubberTelemetry", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
    ]
)
