/// A TOML syntax error at a 1-based line and column.
struct TOMLSyntaxError: Error {
    let line: Int
    let column: Int
    let message: String
}

/// Reads a TOML 1.0 document (toml.io/en/v1.0.0) into tables. lkvm's own,
/// small parser: the library it replaces pulled all of Foundation and ICU
/// into the binary (docs/performance.md) and aborted on some malformed input
/// (docs/fuzzing.md). Every malformed document is one `TOMLSyntaxError`.
struct TOMLParser {
    private let bytes: [UInt8]
    private var at = 0
    /// Nesting of arrays and inline tables, bounded so hostile input cannot exhaust the stack.
    private var depth = 0
    private static let maxDepth = 64

    static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        var parser = TOMLParser(bytes: Array(text.utf8))
        return try parser.document()
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    // MARK: Document and tables

    private mutating func document() throws(TOMLSyntaxError) -> TOMLTable {
        let root = TOMLTable(origin: .root)
        var current = root
        while true {
            skipBlankLinesAndComments()
            guard let byte = peek() else { return root }
            if byte == UInt8(ascii: "[") {
                let isArray = peek(1) == UInt8(ascii: "[")
                at += isArray ? 2 : 1
                skipSpaces()
                let path = try keyPath()
                try expect(isArray ? "]]" : "]")
                current = try isArray ? appendArrayTable(root, path) : defineTable(root, path)
            } else {
                let path = try keyPath()
                try expect("=")
                skipSpaces()
                let value = try self.value()
                try insert(value, at: path, into: current)
            }
            try endOfLine()
        }
    }

    /// `[a.b.c]`: a, b may exist already; c must not have been defined before.
    private mutating func defineTable(_ root: TOMLTable, _ path: [String]) throws(TOMLSyntaxError) -> TOMLTable {
        let parent = try walk(root, path.dropLast(), creating: .implicit)
        let last = path[path.count - 1]
        switch parent.entry(last) {
        case nil:
            let table = TOMLTable(origin: .header)
            parent.set(last, .table(table))
            return table
        case .table(let table) where table.origin == .implicit:
            table.origin = .header
            return table
        default:
            throw error("cannot redefine table [\(path.joined(separator: "."))]")
        }
    }

    /// `[[a.b]]`: a new table appended to the array b (made by such headers only).
    private mutating func appendArrayTable(_ root: TOMLTable, _ path: [String]) throws(TOMLSyntaxError) -> TOMLTable {
        let parent = try walk(root, path.dropLast(), creating: .implicit)
        let last = path[path.count - 1]
        let table = TOMLTable(origin: .header)
        switch parent.entry(last) {
        case nil: parent.set(last, .tables([table]))
        case .tables(let tables): parent.set(last, .tables(tables + [table]))
        default: throw error("[[\(path.joined(separator: "."))]] names something that is not an array of tables")
        }
        return table
    }

    /// The table at `path` under `table`, making missing ones; an array of
    /// tables stands for its last table.
    private func walk(_ table: TOMLTable, _ path: ArraySlice<String>,
                      creating origin: TOMLTable.Origin) throws(TOMLSyntaxError) -> TOMLTable {
        var table = table
        for key in path {
            switch table.entry(key) {
            case nil:
                let next = TOMLTable(origin: origin)
                table.set(key, .table(next))
                table = next
            case .table(let next) where next.origin != .inline:
                table = next
            case .tables(let tables) where origin == .implicit:
                table = tables[tables.count - 1]
            default:
                throw error("key \"\(key)\" is already defined as something else")
            }
        }
        return table
    }

    private func insert(_ value: TOMLValue, at path: [String], into table: TOMLTable) throws(TOMLSyntaxError) {
        let parent = try walk(table, path.dropLast(), creating: .dotted)
        let last = path[path.count - 1]
        guard parent.entry(last) == nil else { throw error("cannot redefine key \"\(path.joined(separator: "."))\"") }
        if case .table(let inline) = value { parent.set(last, .table(inline)) } else { parent.set(last, .value(value)) }
    }

    // MARK: Keys

    /// `a.b."c d"`, leaving the position after the trailing spaces.
    private mutating func keyPath() throws(TOMLSyntaxError) -> [String] {
        var path: [String] = []
        while true {
            path.append(try simpleKey())
            skipSpaces()
            guard peek() == UInt8(ascii: ".") else { return path }
            at += 1
            skipSpaces()
        }
    }

    private mutating func simpleKey() throws(TOMLSyntaxError) -> String {
        switch peek() {
        case UInt8(ascii: "\""): return try basicString()
        case UInt8(ascii: "'"): return try literalString()
        default:
            let start = at
            while let byte = peek(), Self.isBareKeyByte(byte) { at += 1 }
            guard at > start else { throw error("expected a key") }
            return String(decoding: bytes[start..<at], as: UTF8.self)
        }
    }

    private static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"): true
        default: false
        }
    }

    // MARK: Values

    private mutating func value() throws(TOMLSyntaxError) -> TOMLValue {
        guard let byte = peek() else { throw error("expected a value") }
        switch byte {
        case UInt8(ascii: "\""):
            return .string(try startsWith("\"\"\"") ? multiLineBasicString() : basicString())
        case UInt8(ascii: "'"):
            return .string(try startsWith("'''") ? multiLineLiteralString() : literalString())
        case UInt8(ascii: "["): return try nested { (parser: inout TOMLParser) throws(TOMLSyntaxError) in try parser.array() }
        case UInt8(ascii: "{"): return try nested { (parser: inout TOMLParser) throws(TOMLSyntaxError) in try parser.inlineTable() }
        case UInt8(ascii: "t") where startsWith("true"): at += 4; return .boolean(true)
        case UInt8(ascii: "f") where startsWith("false"): at += 5; return .boolean(false)
        default: return try numberOrDate()
        }
    }

    private mutating func nested(_ body: (inout TOMLParser) throws(TOMLSyntaxError) -> TOMLValue)
        throws(TOMLSyntaxError) -> TOMLValue {
        guard depth < Self.maxDepth else { throw error("arrays and inline tables nest too deep") }
        depth += 1
        defer { depth -= 1 }
        return try body(&self)
    }

    private mutating func array() throws(TOMLSyntaxError) -> TOMLValue {
        at += 1
        var elements: [TOMLValue] = []
        while true {
            skipBlankLinesAndComments()
            if peek() == UInt8(ascii: "]") { at += 1; return .array(elements) }
            elements.append(try value())
            skipBlankLinesAndComments()
            switch peek() {
            case UInt8(ascii: ","): at += 1
            case UInt8(ascii: "]"): at += 1; return .array(elements)
            default: throw error("expected ',' or ']' in an array")
            }
        }
    }

    /// `{ a = 1, b.c = 2 }` on one line; no trailing comma; closed for good.
    private mutating func inlineTable() throws(TOMLSyntaxError) -> TOMLValue {
        at += 1
        let table = TOMLTable(origin: .inline)
        skipSpaces()
        if peek() == UInt8(ascii: "}") { at += 1; return .table(table) }
        while true {
            skipSpaces()
            let path = try keyPath()
            try expect("=")
            skipSpaces()
            try insert(try value(), at: path, into: table)
            skipSpaces()
            switch peek() {
            case UInt8(ascii: ","): at += 1
            case UInt8(ascii: "}"): at += 1; freeze(table); return .table(table)
            default: throw error("expected ',' or '}' in an inline table")
            }
        }
    }

    /// Tables made by dotted keys inside an inline table are closed with it.
    private func freeze(_ table: TOMLTable) {
        table.origin = .inline
        for key in table.keys { if case .table(let sub) = table.entry(key) { freeze(sub) } }
    }

    // MARK: Strings

    private mutating func basicString() throws(TOMLSyntaxError) -> String {
        at += 1
        var out: [UInt8] = []
        while true {
            guard let byte = peek(), byte != UInt8(ascii: "\n") else { throw error("unterminated string") }
            at += 1
            if byte == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            if byte == UInt8(ascii: "\\") { try escape(into: &out) } else { out.append(byte) }
        }
    }

    private mutating func multiLineBasicString() throws(TOMLSyntaxError) -> String {
        at += 3
        skipOneNewline()
        var out: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("unterminated multi-line string") }
            if startsWith("\"\"\"") {
                // Up to two quotes may end the content: """a""""" is `a""`.
                var quotes = 3
                while quotes < 5, peek(quotes) == UInt8(ascii: "\"") { quotes += 1 }
                out += Array(repeating: UInt8(ascii: "\""), count: quotes - 3)
                at += quotes
                return String(decoding: out, as: UTF8.self)
            }
            at += 1
            guard byte == UInt8(ascii: "\\") else { out.append(byte); continue }
            // A backslash ending a line trims the line end and the blanks after it.
            var look = at
            while look < bytes.count, bytes[look] == UInt8(ascii: " ") || bytes[look] == UInt8(ascii: "\t") { look += 1 }
            if look < bytes.count, bytes[look] == UInt8(ascii: "\n") || bytes[look] == UInt8(ascii: "\r") {
                at = look
                while let next = peek(), [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"),
                                          UInt8(ascii: "\r")].contains(next) { at += 1 }
            } else {
                try escape(into: &out)
            }
        }
    }

    private mutating func literalString() throws(TOMLSyntaxError) -> String {
        at += 1
        let start = at
        while true {
            guard let byte = peek(), byte != UInt8(ascii: "\n") else { throw error("unterminated literal string") }
            at += 1
            if byte == UInt8(ascii: "'") { return String(decoding: bytes[start..<(at - 1)], as: UTF8.self) }
        }
    }

    private mutating func multiLineLiteralString() throws(TOMLSyntaxError) -> String {
        at += 3
        skipOneNewline()
        let start = at
        while at < bytes.count {
            if startsWith("'''") {
                var quotes = 3
                while quotes < 5, peek(quotes) == UInt8(ascii: "'") { quotes += 1 }
                let end = at + quotes - 3
                at += quotes
                return String(decoding: bytes[start..<end], as: UTF8.self)
            }
            at += 1
        }
        throw error("unterminated multi-line literal string")
    }

    /// After a backslash in a basic string.
    private mutating func escape(into out: inout [UInt8]) throws(TOMLSyntaxError) {
        guard let byte = peek() else { throw error("unterminated string") }
        at += 1
        let simple: [UInt8: UInt8] = [UInt8(ascii: "b"): 0x08, UInt8(ascii: "t"): 0x09, UInt8(ascii: "n"): 0x0A,
                                      UInt8(ascii: "f"): 0x0C, UInt8(ascii: "r"): 0x0D,
                                      UInt8(ascii: "\""): UInt8(ascii: "\""), UInt8(ascii: "\\"): UInt8(ascii: "\\")]
        if let plain = simple[byte] { out.append(plain); return }
        let digits = byte == UInt8(ascii: "u") ? 4 : byte == UInt8(ascii: "U") ? 8 : 0
        guard digits > 0 else { at -= 1; throw error("unknown escape sequence in a string") }
        guard at + digits <= bytes.count,
              let code = UInt32(String(decoding: bytes[at..<(at + digits)], as: UTF8.self), radix: 16),
              let scalar = Unicode.Scalar(code) else {
            throw error("\\\(Character(Unicode.Scalar(byte))) needs \(digits) hex digits naming a Unicode scalar")
        }
        at += digits
        out += Array(String(Character(scalar)).utf8)
    }

    // MARK: Numbers and dates

    private mutating func numberOrDate() throws(TOMLSyntaxError) -> TOMLValue {
        let start = at
        while let byte = peek(), Self.isValueByte(byte) || (byte == UInt8(ascii: " ") && isDateTimeSpace(start)) {
            at += 1
        }
        let token = String(decoding: bytes[start..<at], as: UTF8.self)
        guard !token.isEmpty else { at = start; throw error("expected a value") }
        if let kind = Self.dateTimeKind(token) { return .dateTime(kind: kind, text: token) }
        if let number = try integer(token, start: start) { return .integer(number) }
        if let number = Self.float(token) { return .float(number) }
        at = start
        throw error("invalid value \"\(token)\"")
    }

    private static func isValueByte(_ byte: UInt8) -> Bool {
        isBareKeyByte(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
    }

    /// A space between a date and a time (`1979-05-27 07:32:00`).
    private func isDateTimeSpace(_ start: Int) -> Bool {
        at - start == 10 && at + 1 < bytes.count && Self.isDigit(bytes[at + 1])
            && Self.dateTimeKind(String(decoding: bytes[start..<at], as: UTF8.self)) == "date"
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// "date", "time" or "date-time" when `token` has that shape (RFC 3339 as TOML allows).
    private static func dateTimeKind(_ token: String) -> String? {
        let chars = Array(token.utf8)
        func digits(_ from: Int, _ count: Int) -> Bool {
            from + count <= chars.count && chars[from..<(from + count)].allSatisfy(isDigit)
        }
        func isTime(_ from: Int) -> Bool {
            guard digits(from, 2), from + 8 <= chars.count, chars[from + 2] == UInt8(ascii: ":"), digits(from + 3, 2),
                  chars[from + 5] == UInt8(ascii: ":"), digits(from + 6, 2) else { return false }
            var rest = from + 8
            if rest < chars.count, chars[rest] == UInt8(ascii: ".") {
                rest += 1
                let fraction = rest
                while rest < chars.count, isDigit(chars[rest]) { rest += 1 }
                if rest == fraction { return false }
            }
            return rest == chars.count || (from > 0 && isOffset(rest))
        }
        func isOffset(_ from: Int) -> Bool {
            if from + 1 == chars.count, chars[from] == UInt8(ascii: "Z") || chars[from] == UInt8(ascii: "z") { return true }
            return from + 6 == chars.count && (chars[from] == UInt8(ascii: "+") || chars[from] == UInt8(ascii: "-"))
                && digits(from + 1, 2) && chars[from + 3] == UInt8(ascii: ":") && digits(from + 4, 2)
        }
        let isDate = digits(0, 4) && chars.count >= 10 && chars[4] == UInt8(ascii: "-") && digits(5, 2)
            && chars[7] == UInt8(ascii: "-") && digits(8, 2)
        if isDate {
            if chars.count == 10 { return "date" }
            let separator = chars[10]
            guard [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(separator), isTime(11) else { return nil }
            return "date-time"
        }
        guard isTime(0) else { return nil }
        return "time"
    }

    /// nil when `token` is no integer; an error when it is one beyond 64 bits.
    private mutating func integer(_ token: String, start: Int) throws(TOMLSyntaxError) -> Int? {
        var text = Substring(token)
        var radix = 10
        for (prefix, base) in [("0x", 16), ("0o", 8), ("0b", 2)] where text.hasPrefix(prefix) {
            radix = base
            text = text.dropFirst(2)
        }
        var negative = false
        if radix == 10, let sign = text.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            text = text.dropFirst()
        }
        // Underscores only between digits; no leading zero in decimal.
        guard let first = text.first, let last = text.last, first != "_", last != "_", !text.contains("__"),
              radix != 10 || first != "0" || text.count == 1 else { return nil }
        let plain = text.filter { $0 != "_" }
        guard plain.allSatisfy({ Int(String($0), radix: radix) != nil }) else { return nil }
        guard let number = Int(negative ? "-" + plain : plain, radix: radix) else {
            at = start
            throw error("integer \(token) is not representable in 64 bits")
        }
        return number
    }

    private static func float(_ token: String) -> Double? {
        var text = Substring(token)
        var sign = 1.0
        if let first = text.first, first == "+" || first == "-" { sign = first == "-" ? -1 : 1; text = text.dropFirst() }
        if text == "inf" { return sign * .infinity }
        if text == "nan" { return .nan }
        // digits, then .digits and/or e[+-]digits; underscores between digits only.
        let chars = Array(text.utf8)
        var index = 0
        func digitRun() -> Bool {
            let begin = index
            while index < chars.count, isDigit(chars[index])
                || (chars[index] == UInt8(ascii: "_") && index > begin && index + 1 < chars.count
                    && isDigit(chars[index + 1])) { index += 1 }
            return index > begin
        }
        let intStart = index
        guard digitRun(), chars[intStart] != UInt8(ascii: "0") || index == intStart + 1 else { return nil }
        var sawFractionOrExponent = false
        if index < chars.count, chars[index] == UInt8(ascii: ".") {
            index += 1
            guard digitRun() else { return nil }
            sawFractionOrExponent = true
        }
        if index < chars.count, chars[index] == UInt8(ascii: "e") || chars[index] == UInt8(ascii: "E") {
            index += 1
            if index < chars.count, chars[index] == UInt8(ascii: "+") || chars[index] == UInt8(ascii: "-") { index += 1 }
            guard digitRun() else { return nil }
            sawFractionOrExponent = true
        }
        guard sawFractionOrExponent, index == chars.count else { return nil }
        return Double(String(text.filter { $0 != "_" })).map { sign * $0 }
    }

    // MARK: Lexing

    private func peek(_ offset: Int = 0) -> UInt8? { at + offset < bytes.count ? bytes[at + offset] : nil }

    private func startsWith(_ text: String) -> Bool {
        let expected = Array(text.utf8)
        return at + expected.count <= bytes.count && Array(bytes[at..<(at + expected.count)]) == expected
    }

    private mutating func expect(_ text: String) throws(TOMLSyntaxError) {
        skipSpaces()
        guard startsWith(text) else { throw error("expected '\(text)'") }
        at += text.utf8.count
    }

    private mutating func skipSpaces() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { at += 1 }
    }

    private mutating func skipComment() {
        guard peek() == UInt8(ascii: "#") else { return }
        while let byte = peek(), byte != UInt8(ascii: "\n") { at += 1 }
    }

    private mutating func skipBlankLinesAndComments() {
        while true {
            skipSpaces()
            skipComment()
            if peek() == UInt8(ascii: "\n") { at += 1 } else if startsWith("\r\n") { at += 2 } else { return }
        }
    }

    private mutating func skipOneNewline() {
        if peek() == UInt8(ascii: "\n") { at += 1 } else if startsWith("\r\n") { at += 2 }
    }

    /// After a key/value pair or a header: blanks, a comment, then a line end or the end.
    private mutating func endOfLine() throws(TOMLSyntaxError) {
        skipSpaces()
        skipComment()
        guard at == bytes.count || peek() == UInt8(ascii: "\n") || startsWith("\r\n") else {
            throw error("expected the end of the line")
        }
    }

    private func error(_ message: String) -> TOMLSyntaxError {
        var line = 1, column = 1
        for byte in bytes[..<min(at, bytes.count)] {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else if byte & 0xC0 != 0x80 { column += 1 }
        }
        return TOMLSyntaxError(line: line, column: column, message: message)
    }
}
