import Foundation
import Logging

/// A swift-log handler that writes each message as one JSON object on one line of stderr
/// (`--log-format json`), for log shippers:
///
/// `{"label":"scrubber","level":"info","message":"run finished","metadata":{"images_deleted":"500"},"source":"scrubber","timestamp":"2026-11-26T05:01:02.345Z"}`
///
/// Keys are sorted; `timestamp` is ISO 8601 in UTC with milliseconds; `metadata` (omitted when
/// empty) keeps swift-log's shapes: strings, arrays and nested objects. Newlines and control
/// characters inside values are escaped, so a message never spans two lines.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        StandardError.shared.writeLine(
            Self.line(
                timestamp: Date(),
                level: event.level,
                label: label,
                message: event.message.description,
                metadata: merged,
                source: event.source
            )
        )
    }

    /// One log line: a JSON object and a newline.
    static func line(
        timestamp: Date,
        level: Logger.Level,
        label: String,
        message: String,
        metadata: Logger.Metadata,
        source: String
    ) -> String {
        var object: [String: Any] = [
            "timestamp": Self.format(timestamp), "level": level.rawValue, "label": label, "message": message, "source": source,
        ]
        if !metadata.isEmpty { object["metadata"] = metadata.mapValues(Self.json) }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
            let text = String(data: data, encoding: .utf8)
        else {
            // Unreachable for strings, arrays and dictionaries of strings; never lose the line.
            return #"{"level":"error","message":"unencodable log line"}"# + "\n"
        }
        return text + "\n"
    }

    private static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(json)
        case .dictionary(let values): values.mapValues(json)
        }
    }

    private static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }
}
