import ScrubberCore

/// Picks the backend for each location and turns what happens into a ``LocationResult``.
///
/// - Decrypts `value` with `metadata_encryption_key` when one is set.
/// - With `enabled_backends`, `meta_data.store` picks the backend; NULL, `{}` or garbage falls
///   back to the default backend; a store name not in `enabled_backends` fails the location.
/// - Without, every location goes to the one legacy store.
/// No location is ever an exception: every failure becomes a recorded ``LocationOutcome/failed(_:)``.
public struct StoreRouter: Sendable {
    private let configuration: StoresConfiguration
    private let cipher: GlanceCipher?
    private let backends: [String: Backend]

    enum Backend: Sendable {
        case store(any ImageStore)
        case unsupported(type: String)
    }

    /// - Parameters:
    ///   - replacing: backends to use instead of the configured ones, by name (tests inject here).
    /// - Throws: ``GlanceCipherError`` for a bad key.
    public init(configuration: StoresConfiguration, encryptionKey: String?, replacing: [String: any ImageStore] = [:]) throws {
        self.configuration = configuration
        cipher = try encryptionKey.map(GlanceCipher.init(key:))
        var backends: [String: Backend] = [:]
        for backend in configuration.backends {
            if let injected = replacing[backend.name] {
                backends[backend.name] = .store(injected)
                continue
            }
            switch backend.type {
            case "file":
                backends[backend.name] = .store(FileStore(roots: backend.fileRoots.map(\.path)))
            case "s3":
                backends[backend.name] = .store(
                    S3Store(name: backend.name, options: backend.s3, connections: backend.maxConcurrentDeletes ?? 32)
                )
            case "rbd":
                backends[backend.name] = .store(
                    RBDStore(name: backend.name, options: backend.rbd, threads: backend.maxConcurrentDeletes ?? 16)
                )
            case "swift":
                backends[backend.name] = .store(
                    SwiftStore(name: backend.name, options: backend.swift, connections: backend.maxConcurrentDeletes ?? 32)
                )
            case "simulated":
                backends[backend.name] = .store(
                    SimulatedStore(
                        latency: backend.simulatedLatency,
                        failureRate: backend.simulatedFailureRate,
                        remembersDeletes: backend.simulatedRemembersDeletes
                    )
                )
            default:
                backends[backend.name] = .unsupported(type: backend.type)
            }
        }
        self.backends = backends
    }

    /// The name of the backend `location` goes to (configured or not), without decrypting it.
    /// The configured backends' names.
    public var storeNames: [String] { configuration.backends.map(\.name) }

    ///
    /// Legacy (no `enabled_backends`) with several stores: the store of the URL's scheme, as
    /// glance_store picks it (`file`, `s3`, `swift`, `rbd`, `http`, `cinder`, `vmware`); a value
    /// that cannot be read goes to the default store, which then reports why.
    public func storeName(for location: PendingLocation) -> String {
        if configuration.multiStore {
            return LocationMetadata.storeName(in: location.metaData) ?? configuration.defaultBackend
        }
        guard configuration.backends.count > 1,
            let text = cipher.map({ try? $0.decrypt(location.value) }) ?? location.value,
            let scheme = try? LocationURL(text).scheme
        else { return configuration.defaultBackend }
        return Self.legacyStore(ofScheme: scheme)
    }

    /// The glance_store store type that owns a URL scheme (legacy routing).
    static func legacyStore(ofScheme scheme: String) -> String {
        switch scheme {
        case "s3", "s3+http", "s3+https": "s3"
        case "swift", "swift+http", "swift+https", "swift+config": "swift"
        case "http", "https": "http"
        case "vsphere": "vmware"
        default: scheme  // file, rbd, cinder
        }
    }

    /// The store name and backend for `location`, and its plaintext URL.
    public func route(_ location: PendingLocation) -> (store: String, result: Result<(any ImageStore, LocationURL), LocationError>) {
        let name = storeName(for: location)
        guard let backend = backends[name] else {
            return (name, .failure(.unknownStore(name, known: configuration.backends.map(\.name))))
        }
        let text: String
        if let cipher {
            do {
                text = try cipher.decrypt(location.value)
            } catch {
                return (name, .failure(.undecryptable("\(error)")))
            }
        } else {
            text = location.value
        }
        let url: LocationURL
        do {
            url = try LocationURL(text)
        } catch let error as LocationError {
            return (name, .failure(error))
        } catch {
            return (name, .failure(.notAURL(text)))
        }
        switch backend {
        case .store(let store): return (name, .success((store, url)))
        case .unsupported(let type): return (name, .failure(.unsupportedBackend(store: name, type: type)))
        }
    }

    /// Deletes one location's data if `permit` still holds right before the data is touched;
    /// every failure is captured in the result.
    public func delete(_ location: PendingLocation, permit: @escaping @Sendable () -> Bool = { true }) async -> LocationResult {
        let (store, routed) = route(location)
        switch routed {
        case .failure(let error):
            return Self.failed(location, store: store, error)
        case .success(let (backend, url)):
            do {
                let (outcome, bytes) = try await backend.deleteMeasuring(url, permit: permit)
                return LocationResult(locationID: location.id, store: store, outcome: outcome, bytes: bytes)
            } catch {
                return Self.failed(location, store: store, error)
            }
        }
    }

    /// A failed location with its class (``StoreError`` and ``LocationError`` carry one; any
    /// other error is `transient`), the message beginning with it, and its dependents.
    static func failed(_ location: PendingLocation, store: String, _ error: any Error) -> LocationResult {
        let failureClass: FailureClass
        var dependents: [String] = []
        var text = "\(error)"
        switch error {
        case let error as StoreError:
            failureClass = error.failureClass
            dependents = error.dependents
        case let error as LocationError:
            failureClass = error.failureClass
            text = "\(failureClass.rawValue): \(error)"
        default:
            failureClass = .transient
            text = "transient: \(error)"
        }
        return LocationResult(
            locationID: location.id,
            store: store,
            outcome: .failed(text),
            failureClass: failureClass,
            dependents: dependents
        )
    }

    /// Whether `location`'s data still exists.
    /// - Throws: the routing or backend error when that cannot be told.
    public func exists(_ location: PendingLocation) async throws -> Bool {
        let (_, routed) = route(location)
        let (backend, url) = try routed.get()
        return try await backend.exists(url)
    }
}
