import Foundation

extension ScrubberConfiguration {
    /// Reads the options the scrubber knows from merged `--config-file`s (unknown options are
    /// ignored, as oslo.config does).
    /// - Throws: ``ConfigError`` naming the file, line and option of a bad value.
    public init(ini: INIDocument) throws(ConfigError) {
        self.init()
        let reader = OptionReader(ini: ini)
        let d = "DEFAULT"
        scrubTime = try reader.seconds(d, "scrub_time") ?? scrubTime
        poolSize = try reader.positiveInt(d, "scrub_pool_size") ?? poolSize
        wakeupTime = try reader.seconds(d, "wakeup_time", positive: true) ?? wakeupTime
        daemon = try reader.bool(d, "daemon") ?? daemon
        if let key = ini.value(d, "metadata_encryption_key"), !key.text.isEmpty {
            guard [16, 24, 32].contains(key.text.utf8.count) else {
                throw ConfigError(
                    key,
                    section: d,
                    option: "metadata_encryption_key",
                    message: "must be 16, 24 or 32 bytes (AES-128/192/256); it is \(key.text.utf8.count) bytes"
                )
            }
            metadataEncryptionKey = key.text
        }
        if let connection = ini.value("database", "connection") {
            do throws(ConfigError) {
                database = try DatabaseURL(parsing: connection.text)
            } catch {
                throw ConfigError(connection, section: "database", option: "connection", message: error.message)
            }
        }
        databasePoolSize = try reader.positiveInt("database", "max_pool_size")
        databaseTimeout = try reader.seconds("database", "pool_timeout", positive: true) ?? databaseTimeout
        stores = try StoresConfiguration(reader: reader)

        let c = "cluster"
        if let id = ini.value(c, "node_id")?.text, !id.isEmpty { cluster.nodeID = id }
        cluster.nodeTTL = try reader.seconds(c, "node_ttl", positive: true) ?? cluster.nodeTTL
        cluster.heartbeatInterval = try reader.seconds(c, "heartbeat_interval", positive: true) ?? cluster.heartbeatInterval
        cluster.leaseTTL = try reader.seconds(c, "lease_ttl", positive: true) ?? cluster.leaseTTL
        cluster.leaderEligible = try reader.bool(c, "leader_eligible") ?? cluster.leaderEligible
        if let value = ini.value(c, "leader_priority") {
            guard let priority = Int(value.text), abs(priority) <= 1_000_000 else {
                throw reader.error(c, "leader_priority", "expected an integer from -1000000 to 1000000, got '\(value.text)'")
            }
            cluster.leaderPriority = priority
        }
        cluster.claimBatch = try reader.positiveInt(c, "claim_batch") ?? cluster.claimBatch
        if let window = try reader.positiveInt(c, "assign_window") {
            cluster.assignWindow = window
        } else {
            let (window, overflow) = cluster.claimBatch.multipliedReportingOverflow(by: 4)
            guard !overflow else {
                throw reader.error(c, "claim_batch", "is too large: the default assign_window, 4 × claim_batch, overflows")
            }
            cluster.assignWindow = window
        }
        cluster.leaderInterval = try reader.seconds(c, "leader_interval", positive: true) ?? cluster.leaderInterval
        cluster.sweepSlack = try reader.seconds(c, "sweep_slack", positive: true) ?? cluster.sweepSlack
        cluster.backoff.base = try reader.seconds(c, "retry_backoff_base", positive: true) ?? cluster.backoff.base
        cluster.backoff.max = try reader.seconds(c, "retry_backoff_max", positive: true) ?? cluster.backoff.max
        cluster.backoff.inUseBase = try reader.seconds(c, "retry_in_use_base", positive: true) ?? cluster.backoff.inUseBase
        cluster.backoff.inUseMax = try reader.seconds(c, "retry_in_use_max", positive: true) ?? cluster.backoff.inUseMax
        cluster.idlePollInterval = try reader.seconds(c, "idle_poll_interval", positive: true) ?? cluster.idlePollInterval
        cluster.busyTimeout = try reader.seconds(c, "busy_timeout", positive: true) ?? cluster.busyTimeout
        if let url = ini.value(c, "coordinator_url")?.text, !url.isEmpty {
            if let problem = ClusterConfiguration.coordinatorURLProblem(url) { throw reader.error(c, "coordinator_url", problem) }
            cluster.coordinatorURL = url
        }
        if let file = ini.value(c, "token_file")?.text, !file.isEmpty { cluster.tokenFile = file }
        if let file = ini.value(c, "coordinator_ca_file")?.text, !file.isEmpty { cluster.coordinatorCAFile = file }
        if let value = ini.value(c, "metrics_listen"), !value.text.isEmpty {
            guard let address = ListenAddress(parsing: value.text) else {
                throw reader.error(c, "metrics_listen", "expected HOST:PORT (port 0-65535), got '\(value.text)'")
            }
            cluster.metricsListen = address
        }
        try validate(reader: reader)
    }

    private func validate(reader: OptionReader) throws(ConfigError) {
        // Bounds that keep the leader's arithmetic (windows summed over nodes) far from overflow.
        if cluster.claimBatch > 100_000 {
            throw reader.error("cluster", "claim_batch", "must be at most 100000, got \(cluster.claimBatch)")
        }
        if cluster.assignWindow > 1_000_000 {
            throw reader.error("cluster", "assign_window", "must be at most 1000000, got \(cluster.assignWindow)")
        }
        if cluster.heartbeatInterval >= cluster.nodeTTL {
            throw reader.error(
                "cluster",
                "heartbeat_interval",
                "must be shorter than node_ttl (\(cluster.heartbeatInterval) ≥ \(cluster.nodeTTL)), or every node looks dead between heartbeats"
            )
        }
    }
}

extension StoresConfiguration {
    init(reader: OptionReader) throws(ConfigError) {
        self.init()
        let gs = "glance_store"
        if let enabled = reader.ini.value("DEFAULT", "enabled_backends"), !enabled.text.isEmpty {
            multiStore = true
            backends = []
            for item in enabled.text.split(separator: ",") {
                let pair = item.split(separator: ":", maxSplits: 1).map { $0.trimmingWhitespace() }
                guard pair.count == 2, !pair[0].isEmpty, !pair[1].isEmpty else {
                    throw ConfigError(
                        enabled,
                        section: "DEFAULT",
                        option: "enabled_backends",
                        message: "expected NAME:TYPE[, NAME:TYPE…], got '\(item.trimmingWhitespace())'"
                    )
                }
                guard backend(named: pair[0]) == nil else {
                    throw ConfigError(
                        enabled,
                        section: "DEFAULT",
                        option: "enabled_backends",
                        message: "backend \(pair[0]) is listed twice"
                    )
                }
                backends.append(try BackendConfiguration(name: pair[0], type: pair[1], section: pair[0], reader: reader))
            }
            if let chosen = reader.ini.value(gs, "default_backend") {
                guard backend(named: chosen.text) != nil else {
                    throw ConfigError(
                        chosen,
                        section: gs,
                        option: "default_backend",
                        message: "'\(chosen.text)' is not in enabled_backends (\(backends.map(\.name).joined(separator: ", ")))"
                    )
                }
                defaultBackend = chosen.text
            } else if backends.count == 1 {
                defaultBackend = backends[0].name
            } else {
                throw ConfigError(
                    file: enabled.file,
                    section: gs,
                    option: "default_backend",
                    message: "must be set when enabled_backends lists more than one backend"
                )
            }
        } else {
            // Legacy: the stores of `[glance_store] stores` (and `default_store`), each named by
            // its type and configured in [glance_store]; a location goes to the one its URL's
            // scheme belongs to. Without either option, the one filesystem store.
            var types: [String] = []
            for item in (reader.ini.value(gs, "stores")?.text ?? "file").split(separator: ",") {
                let type = String(item.trimmingWhitespace()).lowercased()
                if !type.isEmpty, !types.contains(type) { types.append(type) }
            }
            let chosen = reader.ini.value(gs, "default_store").map { $0.text.trimmingWhitespace().lowercased() }.flatMap {
                $0.isEmpty ? nil : String($0)
            }
            if let chosen, !types.contains(chosen) { types.append(chosen) }
            if types.isEmpty { types = ["file"] }
            backends = []
            for type in types {
                backends.append(try BackendConfiguration(name: type, type: type, section: gs, reader: reader))
            }
            defaultBackend = chosen ?? types[0]
        }
    }
}

extension BackendConfiguration {
    init(name: String, type: String, section: String, reader: OptionReader) throws(ConfigError) {
        self.init(name: name, type: type)
        maxConcurrentDeletes = try reader.positiveInt(section, "max_concurrent_deletes")
        if let rate = reader.ini.value(section, "max_deletes_per_second") {
            guard let r = Double(rate.text), r.isFinite, r > 0 else {
                throw ConfigError(
                    rate,
                    section: section,
                    option: "max_deletes_per_second",
                    message: "expected a positive number of deletes per second (fractions allowed), got '\(rate.text)'"
                )
            }
            maxDeletesPerSecond = r
        }
        switch type {
        case "file":
            var roots: [FileRoot] = []
            if let dir = reader.ini.value(section, "filesystem_store_datadir"), !dir.text.isEmpty {
                guard dir.text.hasPrefix("/") else {
                    throw ConfigError(
                        dir,
                        section: section,
                        option: "filesystem_store_datadir",
                        message: "store directory '\(dir.text)' must be an absolute path"
                    )
                }
                roots.append(FileRoot(path: dir.text, priority: 0))
            }
            for entry in reader.ini.values(section, "filesystem_store_datadirs") {
                for line in entry.text.split(separator: "\n") {
                    let item = line.trimmingWhitespace()
                    guard !item.isEmpty else { continue }
                    var path = item
                    var priority = 0
                    if let colon = item.lastIndex(of: ":") {
                        guard let p = Int(item[item.index(after: colon)...]) else {
                            throw ConfigError(
                                entry,
                                section: section,
                                option: "filesystem_store_datadirs",
                                message: "expected PATH[:PRIORITY] with an integer priority, got '\(item)'"
                            )
                        }
                        priority = p
                        path = String(item[..<colon])
                    }
                    guard path.hasPrefix("/") else {
                        throw ConfigError(
                            entry,
                            section: section,
                            option: "filesystem_store_datadirs",
                            message: "store directory '\(path)' must be an absolute path"
                        )
                    }
                    roots.append(FileRoot(path: path, priority: priority))
                }
            }
            fileRoots = roots.isEmpty ? [FileRoot(path: "/var/lib/glance/images", priority: 0)] : roots
        case "simulated":
            simulatedLatency = try reader.seconds(section, "simulated_latency") ?? 0
            if let rate = reader.ini.value(section, "simulated_failure_rate") {
                guard let r = Double(rate.text), (0...1).contains(r) else {
                    throw ConfigError(
                        rate,
                        section: section,
                        option: "simulated_failure_rate",
                        message: "expected a number from 0 to 1, got '\(rate.text)'"
                    )
                }
                simulatedFailureRate = r
            }
            simulatedRemembersDeletes = try reader.bool(section, "simulated_remember_deletes") ?? true
        case "s3":
            s3.host = reader.text(section, "s3_store_host")
            s3.accessKey = reader.text(section, "s3_store_access_key")
            s3.secretKey = reader.text(section, "s3_store_secret_key")
            s3.regionName = reader.text(section, "s3_store_region_name")
            if let format = reader.ini.value(section, "s3_store_bucket_url_format") {
                guard ["path", "virtual", "auto"].contains(format.text) else {
                    throw ConfigError(
                        format,
                        section: section,
                        option: "s3_store_bucket_url_format",
                        message: "expected path, virtual or auto, got '\(format.text)'"
                    )
                }
                s3.bucketURLFormat = format.text
            }
        case "swift":
            swift = try SwiftOptions(section: section, reader: reader)
        case "rbd":
            rbd.pool = reader.text(section, "rbd_store_pool") ?? rbd.pool
            rbd.user = reader.text(section, "rbd_store_user")
            rbd.cephConf = reader.text(section, "rbd_store_ceph_conf")
            if let timeout = reader.ini.value(section, "rados_connect_timeout") {
                guard let seconds = Double(timeout.text), seconds.isFinite else {
                    throw ConfigError(
                        timeout,
                        section: section,
                        option: "rados_connect_timeout",
                        message: "expected a number of seconds, got '\(timeout.text)'"
                    )
                }
                if seconds > 0 { rbd.timeout = seconds }
            }
        default:
            break
        }
    }
}

extension SwiftOptions {
    init(section: String, reader: OptionReader) throws(ConfigError) {
        self.init()
        func text(_ option: String) -> String? { reader.text(section, option) }
        if let type = reader.ini.value(section, "swift_store_endpoint_type") {
            guard ["publicURL", "internalURL", "adminURL", "public", "internal", "admin"].contains(type.text) else {
                throw ConfigError(
                    type,
                    section: section,
                    option: "swift_store_endpoint_type",
                    message: "expected publicURL, internalURL or adminURL, got '\(type.text)'"
                )
            }
            endpointType = type.text
        }
        serviceType = text("swift_store_service_type") ?? serviceType
        region = text("swift_store_region")
        endpoint = text("swift_store_endpoint")
        multiTenant = try reader.bool(section, "swift_store_multi_tenant") ?? false
        insecure = try reader.bool(section, "swift_store_auth_insecure") ?? false
        caFile = text("swift_store_cacert")
        if let version = reader.ini.value(section, "swift_store_auth_version"), !["1", "2", "3"].contains(version.text) {
            throw ConfigError(
                version,
                section: section,
                option: "swift_store_auth_version",
                message: "expected 1, 2 or 3, got '\(version.text)'"
            )
        }
        let defaultReference = text("default_swift_reference") ?? "ref1"
        if let file = reader.ini.value(section, "swift_store_config_file"), !file.text.isEmpty {
            var path = file.text
            if !path.hasPrefix("/") {  // oslo.config's find_file: beside the configuration file
                path = (file.file as NSString).deletingLastPathComponent + "/" + path
            }
            configFile = path
            references = try Self.references(inFile: path, named: file)
        } else if let user = text("swift_store_user"), let key = text("swift_store_key"), let auth = text("swift_store_auth_address") {
            references[defaultReference] = SwiftReference(authAddress: auth, user: user, key: key)
        }
    }

    /// The account references of a `swift_store_config_file`, read as glance_store's
    /// `SwiftParams` reads them: every section with `auth_address`, `user` and `key` (values
    /// may be quoted), and the optional domains (both default to the `default` domain id).
    static func references(inFile path: String, named option: INIDocument.Value) throws(ConfigError) -> [String: SwiftReference] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(
                option,
                section: "glance_store",
                option: "swift_store_config_file",
                message: "cannot read \(path): \((error as NSError).localizedDescription)"
            )
        }
        let document: INIDocument
        do {
            document = try INIDocument(parsing: text, file: path)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(file: path, message: "\(error)")
        }
        var references: [String: SwiftReference] = [:]
        for (name, options) in document.sections where name != "DEFAULT" {
            func value(_ key: String) -> String? { options[key]?.last?.text }
            if value("application_credential_id") != nil {
                throw ConfigError(
                    file: path,
                    section: name,
                    option: "application_credential_id",
                    message: "application credentials are not supported by this scrubber yet; give user and key"
                )
            }
            var missing: [String] = []
            for key in ["auth_address", "user", "key"] where (value(key) ?? "").isEmpty { missing.append(key) }
            guard missing.isEmpty, let auth = value("auth_address"), let user = value("user"), let key = value("key") else {
                throw ConfigError(file: path, section: name, message: "account reference \(name) has no \(missing.joined(separator: ", "))")
            }
            guard user.contains(":") else {
                throw ConfigError(
                    file: options["user"]?.last?.file ?? path,
                    line: options["user"]?.last?.line,
                    section: name,
                    option: "user",
                    message: "expected PROJECT:USER, got '\(user)'"
                )
            }
            var reference = SwiftReference(authAddress: auth, user: user, key: key)
            reference.userDomainID = value("user_domain_id")
            reference.userDomainName = value("user_domain_name")
            reference.projectDomainID = value("project_domain_id")
            reference.projectDomainName = value("project_domain_name")
            references[name] = reference
        }
        return references
    }
}

/// Typed reads of single-valued options, failing with the file, line and option named.
struct OptionReader {
    let ini: INIDocument

    func error(_ section: String, _ option: String, _ message: String) -> ConfigError {
        guard let value = ini.value(section, option) else { return ConfigError(section: section, option: option, message: message) }
        return ConfigError(value, section: section, option: option, message: message)
    }

    /// The option's text; nil when it is absent or empty.
    func text(_ section: String, _ option: String) -> String? {
        ini.value(section, option).map(\.text).flatMap { $0.isEmpty ? nil : $0 }
    }

    func seconds(_ section: String, _ option: String, positive: Bool = false) throws(ConfigError) -> Double? {
        guard let value = ini.value(section, option) else { return nil }
        guard let number = Double(value.text), number.isFinite, positive ? number > 0 : number >= 0 else {
            throw ConfigError(
                value,
                section: section,
                option: option,
                message: "expected \(positive ? "a positive" : "a non-negative") number of seconds, got '\(value.text)'"
            )
        }
        return number
    }

    func positiveInt(_ section: String, _ option: String) throws(ConfigError) -> Int? {
        guard let value = ini.value(section, option) else { return nil }
        guard let number = Int(value.text), number > 0 else {
            throw ConfigError(value, section: section, option: option, message: "expected a positive integer, got '\(value.text)'")
        }
        return number
    }

    func bool(_ section: String, _ option: String) throws(ConfigError) -> Bool? {
        guard let value = ini.value(section, option) else { return nil }
        switch value.text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default:
            throw ConfigError(value, section: section, option: option, message: "expected true or false, got '\(value.text)'")
        }
    }
}
