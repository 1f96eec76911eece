/// Why a board description was refused. Its description is always one line that
/// names the file and, when there is one, the key path (`devices[1].irq`) or the
/// line and column, so a user can go straight to the mistake.
public struct BoardError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The board file (as given by the user), or the board name when no file was found.
    public let file: String
    /// Dotted key path inside the file, e.g. `pci.ecam.base`; nil for whole-file problems.
    public let keyPath: String?
    /// 1-based line and column, known only for TOML syntax errors.
    public let line: Int?
    public let column: Int?
    public let message: String

    public init(file: String, keyPath: String? = nil, line: Int? = nil, column: Int? = nil, message: String) {
        self.file = file
        self.keyPath = keyPath
        self.line = line
        self.column = column
        // Callers print the description as one log line; never let a message break it.
        self.message = BoardError.singleLine(message)
    }

    public var description: String {
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        if let keyPath { return "\(location): \(keyPath): \(message)" }
        return "\(location): \(message)"
    }

    static func singleLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
