import Foundation
import ScrubberCore
import TestSupport
import Testing

/// deploy/kubernetes: the objects parse, refer to each other by the right names and ports,
/// and the Deployment's container, given its ConfigMap and environment, starts a real node.
@Suite(.tags(.spawnsProcesses)) struct KubernetesManifestTests {
    let deployment: K8s.Deployment
    let configMap: K8s.ConfigMap
    let secret: K8s.Secret
    let service: K8s.Service
    let container: K8s.Container

    init() throws {
        deployment = try Deploy.manifest("deployment.yaml")
        configMap = try Deploy.manifest("configmap.yaml")
        secret = try Deploy.manifest("secret.example.yaml")
        service = try Deploy.manifest("service.yaml")
        container = try #require(deployment.spec.template.spec.containers.first { $0.name == "scrubber" })
    }

    /// The configuration file the container reads: the ConfigMap key mounted at the path its
    /// `--config-file` names.
    func mountedConfiguration() throws -> (path: String, text: String) {
        let args = container.args
        let index = try #require(args.firstIndex(of: "--config-file"), "args \(args) name no --config-file")
        let path = try #require(args.indices.contains(index + 1) ? args[index + 1] : nil)
        let volume = try #require(
            deployment.spec.template.spec.volumes.first { $0.configMap?.name == configMap.metadata.name },
            "no volume mounts ConfigMap \(configMap.metadata.name ?? "?")"
        )
        let mount = try #require(container.volumeMounts.first { $0.name == volume.name }, "volume \(volume.name) is not mounted")
        let key = mount.subPath ?? String(path.dropFirst(mount.mountPath.count + 1))
        #expect(path == (mount.subPath == nil ? mount.mountPath + "/" + key : mount.mountPath), "\(path) is not under \(mount.mountPath)")
        let text = try #require(configMap.data[key], "ConfigMap \(configMap.metadata.name ?? "?") has no key \(key)")
        return (path, text)
    }

    func configuration() throws -> ScrubberConfiguration {
        let (path, text) = try mountedConfiguration()
        return try Deploy.configuration(text, file: "configmap.yaml:" + path)
    }

    /// [cluster] metrics_listen as the ConfigMap writes it: HOST:PORT.
    func metricsListen() throws -> (host: String, port: Int) {
        let ini = try INIDocument(parsing: try mountedConfiguration().text, file: "configmap.yaml")
        let value = try #require(ini.value("cluster", "metrics_listen")?.text, "the ConfigMap's conf sets no [cluster] metrics_listen")
        let colon = try #require(value.lastIndex(of: ":"), "metrics_listen = \(value): no port")
        let port = try #require(Int(value[value.index(after: colon)...]), "metrics_listen = \(value): no port")
        return (String(value[..<colon]), port)
    }

    @Test func everyFileIsOneKubernetesObjectAndTheKustomizationListsAllButTheExampleSecret() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Deploy.directory + "/kubernetes")
            .filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 5, "\(files)")
        for file in files where file != "kustomization.yaml" {
            let object: K8s.Object = try Deploy.manifest(file)
            #expect(!object.apiVersion.isEmpty && !object.kind.isEmpty && object.metadata.name?.isEmpty == false, "\(file)")
            #expect(object.metadata.namespace == "glance", "\(file): namespace \(object.metadata.namespace ?? "none")")
        }
        let kustomization: K8s.Kustomization = try Deploy.manifest("kustomization.yaml")
        #expect(kustomization.kind == "Kustomization")
        // Applying the example Secret would overwrite the real connection string with a placeholder.
        #expect(Set(kustomization.resources) == Set(files).subtracting(["kustomization.yaml", "secret.example.yaml"]))
    }

    /// The API's own schemas (kubernetes-validate --strict): every field's name and type, also
    /// of the fields the tests here do not read.
    @Test func everyObjectMatchesTheKubernetesAPISchemas() async throws {
        let python = try Validator.locate("python3", install: "apt-get install python3")
        let install = "python3 -m pip install kubernetes-validate"
        let probe = try await Validator.run(python, ["-c", "import kubernetes_validate"])
        if probe.status != 0 { throw DeployError("kubernetes-validate is missing: \(install) (.ci/run does); this check is not skipped") }
        let files = try FileManager.default.contentsOfDirectory(atPath: Deploy.directory + "/kubernetes")
            .filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" }.sorted()
        let result = try await Validator.run(
            python,
            ["-m", "kubernetes_validate", "--strict"] + files.map { Deploy.directory + "/kubernetes/" + $0 }
        )
        #expect(result.status == 0, "kubernetes-validate --strict (exit \(result.status)):\n\(result.text)")
        #expect(result.text.components(separatedBy: " passed for resource ").count - 1 == files.count, "\(result.text)")
    }

    @Test func theProbesAskHealthAndReadinessOnThePortTheNodeServesMetricsOn() throws {
        let (host, port) = try metricsListen()
        // The kubelet probes the pod's address: a node listening on loopback only would never be ready.
        #expect(["0.0.0.0", "[::]", "::"].contains(host), "metrics_listen host \(host) is unreachable from the kubelet")
        let liveness = try #require(container.livenessProbe?.httpGet, "no HTTP liveness probe")
        let readiness = try #require(container.readinessProbe?.httpGet, "no HTTP readiness probe")
        #expect(liveness.path == "/healthz")
        #expect(readiness.path == "/readyz")
        #expect(container.number(of: liveness.port) == port, "liveness probe port \(liveness.port), metrics_listen port \(port)")
        #expect(container.number(of: readiness.port) == port, "readiness probe port \(readiness.port), metrics_listen port \(port)")
        let scraped = try #require(service.spec.ports.first { $0.name == "metrics" })
        #expect(container.number(of: scraped.targetPort ?? .number(scraped.port)) == port)
        let annotations = deployment.spec.template.metadata.annotations ?? [:]
        #expect(annotations["prometheus.io/port"] == String(port))
        #expect(annotations["prometheus.io/path"] == "/metrics")
    }

    @Test func theConnectionComesFromTheSecretAndTheNodeIDFromThePodName() throws {
        let db = try #require(
            container.env.first { $0.name == "SCRUBBER_DB" }?.valueFrom?.secretKeyRef,
            "SCRUBBER_DB is not from a secretKeyRef"
        )
        #expect(db.name == secret.metadata.name)
        let placeholder = try #require(secret.stringData?[db.key], "Secret \(db.name) has no key \(db.key)")
        guard case .postgresql = try DatabaseURL(parsing: placeholder) else {
            Issue.record("the example connection is not PostgreSQL: \(placeholder)")
            return
        }
        #expect(placeholder.contains("CHANGE-ME"), "the example Secret must carry an obvious placeholder, not a password")
        let nodeID = container.env.first { $0.name == "SCRUBBER_NODE_ID" }?.valueFrom?.fieldRef?.fieldPath
        #expect(nodeID == "metadata.name")
        // Nothing secret in the ConfigMap: its conf names no database.
        #expect(try configuration().database == nil)
    }

    @Test func theConfigAndTheImageStoreAreMountedWhereTheNodeLooksForThem() throws {
        let config = try configuration()
        #expect(container.command == nil, "the image's entrypoint is scrubber; command would replace it")
        #expect(Array(container.args.prefix(2)) == ["run", "--daemon"])
        let claims = Set(deployment.spec.template.spec.volumes.filter { $0.persistentVolumeClaim != nil }.map(\.name))
        let storeMounts = container.volumeMounts.filter { claims.contains($0.name) && $0.readOnly != true }.map(\.mountPath)
        let roots = config.stores.backends.flatMap(\.fileRoots).map(\.path)
        #expect(!roots.isEmpty)
        for root in roots {
            #expect(
                storeMounts.contains { root == $0 || root.hasPrefix($0 + "/") },
                "store \(root) is on no writable claim: \(storeMounts)"
            )
        }
    }

    @Test func aNodeHasRoomTheClusterHasNodesAndAStopHasTime() throws {
        #expect(deployment.spec.replicas >= 2, "one replica is no cluster")
        let labels = deployment.spec.template.metadata.labels ?? [:]
        #expect(deployment.spec.selector.matchLabels.allSatisfy { labels[$0.key] == $0.value })
        #expect(service.spec.selector.allSatisfy { labels[$0.key] == $0.value })
        // A node peaks at 80-100 MB resident (BENCHMARKS.md).
        let request = try #require(container.resources?.requests?["memory"].flatMap(K8s.bytes), "no memory request")
        let limit = try #require(container.resources?.limits?["memory"].flatMap(K8s.bytes), "no memory limit")
        #expect(request >= 100e6 && limit >= 1.5 * 100e6 && limit >= request, "memory request \(request), limit \(limit)")
        #expect(container.resources?.requests?["cpu"] != nil)
        let grace = try #require(deployment.spec.template.spec.terminationGracePeriodSeconds)
        #expect(grace > 30, "Kubernetes' default 30 s; a graceful stop may wait on the database")
    }

    @Test func thePodRunsAsTheImagesNonRootUser() throws {
        let context = try #require(deployment.spec.template.spec.securityContext)
        #expect(context.runAsNonRoot == true)
        let user = try #require(Containerfile.runtimeUser(try Deploy.text("Containerfile")), "the Containerfile's USER is not numeric")
        #expect(user != 0 && context.runAsUser == user, "runAsUser \(context.runAsUser.map(String.init) ?? "none"), image USER \(user)")
    }

    /// The container as the kubelet starts it: its args, its ConfigMap's conf at the mounted
    /// path, SCRUBBER_DB as the Secret would give it (here a SQLite catalog), SCRUBBER_NODE_ID
    /// a pod name. The node joins under the pod's name and SIGTERM stops it gracefully.
    @Test func theContainerStartsANodeThatJoinsUnderThePodNameAndStopsGracefully() async throws {
        let ws = try Workspace()
        let (path, text) = try mountedConfiguration()
        let local = ws.directory + path
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: local).deletingLastPathComponent().path,
            withIntermediateDirectories: true
        )
        try text.write(toFile: local, atomically: true, encoding: .utf8)
        let arguments = container.args.map { $0 == path ? local : $0 } + ["--config-file", try Deploy.loopbackMetrics(in: ws)]
        let pod = "scrubber-6f7c9d8b5-q2xkz"
        try await Deploy.joinAndStop(arguments, environment: ["SCRUBBER_DB": ws.database, "SCRUBBER_NODE_ID": pod], node: pod, in: ws)
    }
}
