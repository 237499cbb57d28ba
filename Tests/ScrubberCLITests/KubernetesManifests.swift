/// The parts of Kubernetes objects that deploy/kubernetes' tests read (decoding ignores the rest).
enum K8s {
    struct Object: Decodable {
        var apiVersion: String
        var kind: String
        var metadata: Metadata
    }

    struct Metadata: Decodable {
        var name: String?
        var namespace: String?
        var labels: [String: String]?
        var annotations: [String: String]?
    }

    struct Kustomization: Decodable {
        var kind: String
        var namespace: String?
        var resources: [String]
    }

    struct ConfigMap: Decodable {
        var metadata: Metadata
        var data: [String: String]
    }

    struct Secret: Decodable {
        var metadata: Metadata
        var stringData: [String: String]?
        var data: [String: String]?
    }

    struct Service: Decodable {
        var metadata: Metadata
        var spec: Spec
        struct Spec: Decodable {
            var selector: [String: String]
            var ports: [Port]
        }
        struct Port: Decodable {
            var name: String?
            var port: Int
            var targetPort: PortRef?
        }
    }

    struct Deployment: Decodable {
        var metadata: Metadata
        var spec: Spec
        struct Spec: Decodable {
            var replicas: Int
            var selector: Selector
            var template: Template
        }
        struct Selector: Decodable {
            var matchLabels: [String: String]
        }
        struct Template: Decodable {
            var metadata: Metadata
            var spec: PodSpec
        }
    }

    struct PodSpec: Decodable {
        var terminationGracePeriodSeconds: Int?
        var securityContext: PodSecurityContext?
        var containers: [Container]
        var volumes: [Volume]
    }

    struct PodSecurityContext: Decodable {
        var runAsNonRoot: Bool?
        var runAsUser: Int?
    }

    struct Container: Decodable {
        var name: String
        var image: String
        var command: [String]?
        var args: [String]
        var env: [EnvVar]
        var ports: [ContainerPort]
        var livenessProbe: Probe?
        var readinessProbe: Probe?
        var resources: Resources?
        var volumeMounts: [VolumeMount]

        /// The port number `port` means here (a number, or one of the container's port names).
        func number(of port: PortRef) -> Int? {
            switch port {
            case .number(let n): n
            case .name(let name): ports.first { $0.name == name }?.containerPort
            }
        }
    }

    struct EnvVar: Decodable {
        var name: String
        var value: String?
        var valueFrom: Source?
        struct Source: Decodable {
            var secretKeyRef: KeyRef?
            var fieldRef: FieldRef?
        }
        struct KeyRef: Decodable {
            var name: String
            var key: String
        }
        struct FieldRef: Decodable {
            var fieldPath: String
        }
    }

    struct ContainerPort: Decodable {
        var name: String?
        var containerPort: Int
    }

    struct Probe: Decodable {
        var httpGet: HTTPGet?
        struct HTTPGet: Decodable {
            var path: String
            var port: PortRef
        }
    }

    struct Resources: Decodable {
        var requests: [String: String]?
        var limits: [String: String]?
    }

    struct VolumeMount: Decodable {
        var name: String
        var mountPath: String
        var subPath: String?
        var readOnly: Bool?
    }

    struct Volume: Decodable {
        var name: String
        var configMap: Named?
        var persistentVolumeClaim: Claim?
        struct Named: Decodable { var name: String }
        struct Claim: Decodable { var claimName: String }
    }

    /// A port by number or by name, as probes and Services give it.
    enum PortRef: Decodable, Equatable {
        case number(Int)
        case name(String)

        init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            if let number = try? value.decode(Int.self) { self = .number(number) } else { self = .name(try value.decode(String.self)) }
        }
    }

    /// Bytes in a quantity such as `128Mi`, `1G` or `500000`.
    static func bytes(_ quantity: String) -> Double? {
        let units: [(String, Double)] = [("Ki", 1024), ("Mi", 1024 * 1024), ("Gi", 1024 * 1024 * 1024), ("k", 1e3), ("M", 1e6), ("G", 1e9)]
        for (suffix, scale) in units where quantity.hasSuffix(suffix) {
            return Double(quantity.dropLast(suffix.count)).map { $0 * scale }
        }
        return Double(quantity)
    }
}
