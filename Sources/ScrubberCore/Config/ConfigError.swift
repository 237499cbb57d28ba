/// A configuration problem, naming the file, line and option so the operator can fix it.
/// The CLI exits 2 for these.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String?
    public var line: Int?
    public var section: String?
    public var option: String?
    public var message: String

    public init(file: String? = nil, line: Int? = nil, section: String? = nil, option: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.section = section
        self.option = option
        self.message = message
    }

    init(_ value: INIDocument.Value, section: String, option: String, message: String) {
        self.init(file: value.file, line: value.line, section: section, option: option, message: message)
    }

    public var description: String {
        var where_ = ""
        if let file { where_ += file + (line.map { ":\($0)" } ?? "") + ": " }
        if let option { where_ += (section.map { "[\($0)] " } ?? "") + option + ": " }
        return where_ + message
    }
}
