/// Watches a guest's console output for the kernel's own reports of a
/// panic or an oops and remembers the first line of each. Kernel lines are
/// recognised by the printk timestamp ("[   12.345678] ", printk.time=1 on
/// the command line) followed by one of the report headers, so a program
/// that prints "BUG: ..." is not taken for the kernel.
public struct GuestPanicWatch: Sendable {
    /// Longest line kept; a longer one is cut (a report's header is short).
    public static let maxLineLength = 512
    static let panicHeader = "Kernel panic - not syncing"
    static let oopsHeaders = ["Oops:", "BUG:", "general protection fault", "Internal error:"]

    public private(set) var panicLine: String?
    public private(set) var oopsLine: String?
    private var line: [UInt8] = []
    private var lineIsCut = false

    public init() {}

    public mutating func consume(_ bytes: [UInt8]) {
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\n"):
                examine()
                line.removeAll(keepingCapacity: true)
                lineIsCut = false
            case UInt8(ascii: "\r"):
                continue
            default:
                if line.count < Self.maxLineLength { line.append(byte) } else { lineIsCut = true }
            }
        }
    }

    /// A last line without its newline (the guest stopped mid-line).
    public mutating func finish() {
        examine()
        line.removeAll()
    }

    private mutating func examine() {
        guard panicLine == nil || oopsLine == nil, let message = Self.kernelMessage(line) else { return }
        if message.hasPrefix(Self.panicHeader) {
            if panicLine == nil { panicLine = message }
        } else if oopsLine == nil, Self.oopsHeaders.contains(where: { message.hasPrefix($0) }) {
            oopsLine = message
        }
    }

    /// The text after "[ seconds.micros] " (and an optional "[ Tn] " caller
    /// id), or nil when the line does not start with a printk timestamp.
    static func kernelMessage(_ line: [UInt8]) -> String? {
        var rest = line[...]
        guard let stamp = bracketed(&rest), !stamp.isEmpty,
              stamp.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: ".") || ($0 >= 48 && $0 <= 57) }),
              stamp.contains(UInt8(ascii: ".")) else { return nil }
        var afterCaller = rest.drop(while: { $0 == UInt8(ascii: " ") })
        if let caller = bracketed(&afterCaller), let kind = caller.drop(while: { $0 == UInt8(ascii: " ") }).first,
           kind == UInt8(ascii: "T") || kind == UInt8(ascii: "C") {
            rest = afterCaller
        }
        return String(decoding: rest.drop(while: { $0 == UInt8(ascii: " ") }), as: UTF8.self)
    }

    /// "[...]" at the start of `text`: returns what is inside and leaves
    /// `text` after the closing bracket.
    private static func bracketed(_ text: inout ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        guard text.first == UInt8(ascii: "["), let close = text.firstIndex(of: UInt8(ascii: "]")) else { return nil }
        let inside = text[(text.startIndex + 1)..<close]
        text = text[(close + 1)...]
        return inside
    }
}
