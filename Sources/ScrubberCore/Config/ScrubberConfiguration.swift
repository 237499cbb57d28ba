import Foundation

/// Everything a scrubber node is configured with: Glance's own `glance-scrubber.conf` options,
/// its store configuration, and our `[cluster]` section.
///
/// Defaults are upstream's where upstream has the option.
public struct ScrubberConfiguration: Sendable, Hashable {
    /// `[DEFAULT] scrub_time`: seconds after `deleted_at` before an image may be scrubbed.
    public var scrubTime: Double = 0
    /// `[DEFAULT] scrub_pool_size`: deletes in flight at most, per node; also the node's capacity.
    public var poolSize: Int = 1
    /// `[DEFAULT] wakeup_time`: the longest an idle daemon sleeps between looks for work: it
    /// caps `idle_poll_interval` and `leader_interval` (``idlePoll``, ``idleLeaderInterval``).
    public var wakeupTime: Double = 300
    /// `[DEFAULT] daemon`.
    public var daemon: Bool = false
    /// `[DEFAULT] metadata_encryption_key`: when set, location URLs are Glance ciphertext.
    public var metadataEncryptionKey: String?
    /// `[database] connection`.
    public var database: DatabaseURL?
    /// `[database] max_pool_size` (oslo.db's option): PostgreSQL connections per node (default 6:
    /// heartbeat, claims, completions, election, leader rounds, status).
    public var databasePoolSize: Int?
    /// `[database] pool_timeout` (oslo.db's option): seconds one PostgreSQL operation (waiting
    /// for a connection included) may take before it counts as failed and is retried; also the
    /// server-side statement, lock and idle-in-transaction timeouts.
    public var databaseTimeout: Double = 10
    /// The storage backends.
    public var stores = StoresConfiguration()

    /// How long an idle daemon waits at most between claims that find nothing: its claims back
    /// off from 100 ms to this (`idle_poll_interval`, at most `wakeup_time`).
    public var idlePoll: Double { min(cluster.idlePollInterval, wakeupTime) }

    /// The backoff of failed images, by class: `[cluster]`'s periods and `wakeup_time` for
    /// failures that need an operator.
    public var failureBackoff: Backoff {
        var backoff = cluster.backoff
        backoff.wakeupTime = wakeupTime
        return backoff
    }
    /// How long an idle leader waits between rounds (`leader_interval`, at most `wakeup_time`).
    public var idleLeaderInterval: Double { min(cluster.leaderInterval, wakeupTime) }
    /// `[cluster]`: ours.
    public var cluster = ClusterConfiguration()

    public init() {}
}

/// The storage backends: Glance's legacy single `[glance_store]`, or `enabled_backends`.
public struct StoresConfiguration: Sendable, Hashable {
    /// Backends in `enabled_backends` order (legacy: one per type in `[glance_store] stores`,
    /// named by its type; by default one, `file`).
    public var backends: [BackendConfiguration] = [
        .init(name: "file", type: "file", fileRoots: [.init(path: "/var/lib/glance/images", priority: 0)])
    ]
    /// The backend for locations whose `meta_data` names no store (legacy: `default_store`).
    public var defaultBackend: String = "file"
    /// Whether `enabled_backends` is in use (then `meta_data.store` picks the backend).
    public var multiStore: Bool = false

    public init() {}

    public func backend(named name: String) -> BackendConfiguration? {
        backends.first { $0.name == name }
    }
}

/// One storage backend.
public struct BackendConfiguration: Sendable, Hashable {
    /// The backend's id (`meta_data.store`).
    public var name: String
    /// Glance's store type: `file`, `s3`; `simulated` (ours, for tests and benchmarks); anything
    /// else (`rbd`, `swift`, `http`, `cinder`) is recognised but not deletable by this scrubber.
    public var type: String
    /// `filesystem_store_datadir(s)` for `file`.
    public var fileRoots: [FileRoot] = []
    /// For `simulated`: latency per delete, in seconds.
    public var simulatedLatency: Double = 0
    /// For `simulated`: probability in 0…1 that a delete fails.
    public var simulatedFailureRate: Double = 0
    /// For `simulated` (`simulated_remember_deletes`): whether it remembers every URL it
    /// deleted, so a second delete is `notFound`; off, its memory stays flat over any backlog.
    public var simulatedRemembersDeletes = true
    /// `max_concurrent_deletes`: deletes in flight on this backend at most, per node (on top of
    /// `scrub_pool_size`); nil: only the pool limits it.
    public var maxConcurrentDeletes: Int?
    /// `max_deletes_per_second`: deletes started on this backend per second at most, per node,
    /// evenly spaced (no burst); nil: unlimited.
    public var maxDeletesPerSecond: Double?
    /// For `s3`: glance_store's `s3_store_*` options.
    public var s3 = S3Options()
    /// For `swift`: glance_store's `swift_store_*` options and account references.
    public var swift = SwiftOptions()
    /// For `rbd`: glance_store's `rbd_store_*` options.
    public var rbd = RBDOptions()

    public init(name: String, type: String, fileRoots: [FileRoot] = []) {
        self.name = name
        self.type = type
        self.fileRoots = fileRoots
    }
}

/// glance_store's S3 options (5.7.0): the endpoint and keys every delete uses; the bucket and
/// key come from each location's URL. A missing one fails each of the store's locations as a
/// configuration error, which the image keeps as its last error.
public struct S3Options: Sendable, Hashable {
    /// `s3_store_host`: `host[:port]`, `http://…` or `https://…` (plain `host` means http).
    public var host: String?
    /// `s3_store_access_key`, `s3_store_secret_key`.
    public var accessKey: String?
    public var secretKey: String?
    /// `s3_store_region_name`; when unset, the region of an `s3-REGION.amazonaws.com` host, else us-east-1.
    public var regionName: String?
    /// `s3_store_bucket_url_format`: `path` (`host/bucket/key`), `virtual` (`bucket.host/key`), or
    /// `auto` (virtual on amazonaws.com for a DNS-safe bucket, path elsewhere).
    public var bucketURLFormat = "auto"

    public init() {}
}

/// glance_store's Swift options (5.7.0, single tenant): how to log in for a location's account
/// reference or URL credentials, and which object-store endpoint to use. The container and
/// object come from each location's URL.
public struct SwiftOptions: Sendable, Hashable {
    /// The account references a `swift+config://REF/…` location names: the sections of
    /// `swift_store_config_file`, or, without one, `default_swift_reference` formed of
    /// `swift_store_user`, `swift_store_key` and `swift_store_auth_address`.
    public var references: [String: SwiftReference] = [:]
    /// `swift_store_config_file` (for errors that name it).
    public var configFile: String?
    /// `swift_store_endpoint_type`: `publicURL` (default), `internalURL` or `adminURL`.
    public var endpointType = "publicURL"
    /// `swift_store_service_type`.
    public var serviceType = "object-store"
    /// `swift_store_region`: the catalog endpoint's region; nil takes the first.
    public var region: String?
    /// `swift_store_endpoint`: a storage URL used instead of the catalog's.
    public var endpoint: String?
    /// `swift_store_multi_tenant`: locations in users' own accounts, which only their tokens
    /// can delete; refused.
    public var multiTenant = false
    /// `swift_store_auth_insecure`: no TLS certificate check (Keystone and Swift).
    public var insecure = false
    /// `swift_store_cacert`: a CA bundle for TLS.
    public var caFile: String?

    public init() {}
}

/// glance_store's RBD options (5.7.0): which cluster and user to connect as, and the pool of a
/// legacy one-part `rbd://IMAGE` location (a four-part URL names its own pool).
public struct RBDOptions: Sendable, Hashable {
    /// `rbd_store_pool`.
    public var pool = "images"
    /// `rbd_store_user`: the cephx user without `client.`; nil lets librados choose (admin).
    public var user: String?
    /// `rbd_store_ceph_conf`: nil lets librados search its default places.
    public var cephConf: String?
    /// `rados_connect_timeout` when ≥ 0: seconds for the connect (`client_mount_timeout`) and
    /// for every monitor and OSD operation (`rados_mon_op_timeout`, `rados_osd_op_timeout`).
    /// glance_store's default (-1) leaves librados waiting 300 s or for ever; ours is 30 s.
    public var timeout: Double = 30

    public init() {}
}

/// One account reference (a section of `swift_store_config_file`).
public struct SwiftReference: Sendable, Hashable {
    /// `auth_address`: Keystone's v3 URL (`…/v3`), or a v1 auth URL (`…/auth/v1.0`, tempauth).
    public var authAddress: String
    /// `user`: `project:user` (v1: `account:user`).
    public var user: String
    /// `key`: the password.
    public var key: String
    public var userDomainID: String?
    public var userDomainName: String?
    public var projectDomainID: String?
    public var projectDomainName: String?

    public init(authAddress: String, user: String, key: String) {
        self.authAddress = authAddress
        self.user = user
        self.key = key
    }
}

/// A `filesystem_store_datadir`, or one `filesystem_store_datadirs = PATH:PRIORITY`.
public struct FileRoot: Sendable, Hashable {
    public var path: String
    public var priority: Int

    public init(path: String, priority: Int) {
        self.path = path
        self.priority = priority
    }
}

/// `[cluster]`: how this node takes part in the cluster. Durations are seconds (fractions allowed).
public struct ClusterConfiguration: Sendable, Hashable {
    /// `node_id`; default `HOST-PID`.
    public var nodeID: String?
    /// `node_ttl`: a node whose heartbeat is older than this is dead and its work is reassigned.
    public var nodeTTL: Double = 5
    /// `heartbeat_interval`.
    public var heartbeatInterval: Double = 1
    /// `lease_ttl`: the leader lease.
    public var leaseTTL: Double = 6
    /// `leader_eligible`.
    public var leaderEligible: Bool = true
    /// `leader_priority`: among live eligible nodes the highest leads (a lower one hands over).
    public var leaderPriority: Int = 0
    /// `claim_batch`: images claimed per transaction.
    public var claimBatch: Int = 256
    /// `assign_window`: unclaimed images the leader lets one node hold (default 4 × `claim_batch`).
    public var assignWindow: Int = 1024
    /// `leader_interval`: how often an idle leader looks for new work.
    public var leaderInterval: Double = 0.25
    /// `sweep_slack`: how late (by Glance's `updated_at`) an image may become visible as
    /// `pending_delete` and still be found by the leader's fast path (clock skew between
    /// glance-api hosts and the database, a slow commit); anything later waits for the full
    /// sweep, once per `wakeup_time`.
    public var sweepSlack: Double = 60
    /// `retry_backoff_base` / `retry_backoff_max`: backoff of a failed image (transient and
    /// throttled failures); `retry_in_use_base` / `retry_in_use_max`: of one whose data is in
    /// use. Failures that need an operator wait `wakeup_time` (``ScrubberConfiguration/failureBackoff``).
    public var backoff = Backoff()
    /// `idle_poll_interval`: how often at least an idle node asks for work: claims that find
    /// nothing back off from 100 ms to this (capped at `wakeup_time`).
    public var idlePollInterval: Double = 1
    /// `busy_timeout`: how long one SQLite statement waits on a lock before the write is retried.
    public var busyTimeout: Double = 5
    /// `coordinator_url`: a lease service (`scrubber serve`) to coordinate through instead of
    /// the database (`http://HOST:PORT` or `https://…`). When set, `[database]` is not used by
    /// nodes, `status` or `restore`.
    public var coordinatorURL: String?
    /// `token_file`: the lease service's bearer token (surrounding whitespace ignored).
    public var tokenFile: String?
    /// `coordinator_ca_file`: PEM certificates to trust for an `https` coordinator.
    public var coordinatorCAFile: String?
    /// `metrics_listen`: serve `/metrics`, `/healthz` and `/readyz` here (`run --metrics-listen`).
    public var metricsListen: ListenAddress?

    public init() {}

    /// Why `url` cannot be a coordinator (it must be `http(s)://HOST[:PORT]`), or nil.
    public static func coordinatorURLProblem(_ url: String) -> String? {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme),
            let host = parsed.host, !host.isEmpty
        else {
            return "must be http://HOST:PORT or https://HOST:PORT, got \(url)"
        }
        return nil
    }
}
