import Foundation

/// What the scrubber reads from `image_locations.meta_data`: the backend name in multi-store setups.
public enum LocationMetadata {
    /// The `store` named by `meta_data`, or nil when it is NULL, `{}`, not JSON, not an object,
    /// or has no string `store` (all of which fall back to the default backend; NULL crashes
    /// upstream's whole run).
    public static func storeName(in metaData: String?) -> String? {
        guard let metaData, !metaData.isEmpty,
            let object = try? JSONSerialization.jsonObject(with: Data(metaData.utf8)) as? [String: Any],
            let store = object["store"] as? String, !store.isEmpty
        else { return nil }
        return store
    }
}
