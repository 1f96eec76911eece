/// Reads one TOML table of a board file. It remembers every key it was asked
/// for, so `finish()` can report any other key as unknown: a typo must never be
/// silently ignored.
final class BoardTOMLReader {
    let table: TOMLTable
    /// Key path of this table: "" for the root, "pci", "devices[1]".
    let path: String
    let file: String
    private var askedKeys: [String] = []

    init(table: TOMLTable, path: String, file: String) {
        self.table = table
        self.path = path
        self.file = file
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String?, _ message: String) -> BoardError {
        BoardError(file: file, keyPath: key.map(keyPath) ?? (path.isEmpty ? nil : path), message: message)
    }

    /// Fails on the first key nobody asked for.
    func finish() throws(BoardError) {
        for key in table.keys.sorted() where !askedKeys.contains(key) {
            let expected = askedKeys.isEmpty
                ? "this table takes no keys" : "expected one of: \(askedKeys.joined(separator: ", "))"
            throw error(key, "unknown key (\(expected))")
        }
    }

    // MARK: Raw access

    private func value(_ key: String) -> TOMLValue? {
        if !askedKeys.contains(key) { askedKeys.append(key) }
        return table[key]
    }

    private func typeMismatch(_ key: String, expected: String, found value: TOMLValue) -> BoardError {
        var found = "\(article(value.typeName)) \(value.typeName)"
        if let text = value.string { found += " (\"\(text)\")" }
        return error(key, "expected \(expected), found \(found)")
    }

    private func article(_ word: String) -> String {
        guard let first = word.first else { return "a" }
        return "aeiou".contains(first) ? "an" : "a"
    }

    // MARK: Strings

    func optionalString(_ key: String) throws(BoardError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.string else { throw typeMismatch(key, expected: "a string", found: value) }
        return text
    }

    func string(_ key: String) throws(BoardError) -> String {
        guard let text = try optionalString(key) else { throw error(key, "missing required key (a string)") }
        return text
    }

    /// A string that must be one of `choices`.
    func choice(_ key: String, from choices: [String], what: String) throws(BoardError) -> String {
        let text = try string(key)
        guard choices.contains(text) else {
            throw error(key, "unknown \(what) \"\(text)\" (known: \(choices.joined(separator: ", ")))")
        }
        return text
    }

    // MARK: Integers

    func optionalInteger(_ key: String) throws(BoardError) -> Int? {
        guard let value = value(key) else { return nil }
        guard let number = value.int else { throw typeMismatch(key, expected: "an integer", found: value) }
        return number
    }

    /// A non-negative integer no larger than `maximum`.
    func optionalInteger(_ key: String, max maximum: Int, hexadecimal: Bool = false) throws(BoardError) -> Int? {
        guard let number = try optionalInteger(key) else { return nil }
        let show: (Int) -> String = { hexadecimal ? hex($0) : String($0) }
        guard number >= 0 else { throw error(key, "\(number) must not be negative") }
        guard number <= maximum else { throw error(key, "\(show(number)) is too large (at most \(show(maximum)))") }
        return number
    }

    func integer(_ key: String, max maximum: Int = Int.max, hexadecimal: Bool = false) throws(BoardError) -> Int {
        guard let number = try optionalInteger(key, max: maximum, hexadecimal: hexadecimal) else {
            throw error(key, "missing required key (an integer)")
        }
        return number
    }

    /// A count or size: at least `minimum`.
    func positiveInteger(_ key: String, min minimum: Int = 1, max maximum: Int = Int.max) throws(BoardError) -> Int {
        let number = try integer(key, max: maximum)
        guard number >= minimum else { throw error(key, "\(number) is too small (at least \(minimum))") }
        return number
    }

    /// A guest-physical address. TOML integers are signed 64-bit, so addresses stop at 2^63.
    func address(_ key: String) throws(BoardError) -> UInt64 {
        UInt64(try integer(key, hexadecimal: true))
    }

    func optionalAddress(_ key: String) throws(BoardError) -> UInt64? {
        try optionalInteger(key, max: Int.max, hexadecimal: true).map { UInt64($0) }
    }

    func port(_ key: String) throws(BoardError) -> UInt16 {
        UInt16(try integer(key, max: Int(UInt16.max), hexadecimal: true))
    }

    func optionalPort(_ key: String) throws(BoardError) -> UInt16? {
        try optionalInteger(key, max: Int(UInt16.max), hexadecimal: true).map { UInt16($0) }
    }

    // MARK: Tables and arrays

    func optionalTable(_ key: String) throws(BoardError) -> BoardTOMLReader? {
        guard let value = value(key) else { return nil }
        guard let sub = value.table else { throw typeMismatch(key, expected: "a table", found: value) }
        return BoardTOMLReader(table: sub, path: keyPath(key), file: file)
    }

    func table(_ key: String) throws(BoardError) -> BoardTOMLReader {
        guard let sub = try optionalTable(key) else { throw error(key, "missing required table") }
        return sub
    }

    /// `[[key]]` or `key = [{...}, ...]`; an absent key is an empty array.
    func arrayOfTables(_ key: String) throws(BoardError) -> [BoardTOMLReader] {
        guard let value = value(key) else { return [] }
        guard let array = value.array else { throw typeMismatch(key, expected: "an array of tables", found: value) }
        var readers: [BoardTOMLReader] = []
        for index in 0..<array.count {
            let element = array[index]
            let elementPath = "\(keyPath(key))[\(index)]"
            guard let sub = element.table else {
                throw BoardError(file: file, keyPath: elementPath,
                                 message: "expected a table, found \(article(element.typeName)) \(element.typeName)")
            }
            readers.append(BoardTOMLReader(table: sub, path: elementPath, file: file))
        }
        return readers
    }

    // MARK: Ranges

    /// `{ base = ..., size = ... }`: a non-empty guest range that does not wrap.
    func optionalRange(_ key: String) throws(BoardError) -> GuestRange? {
        guard let sub = try optionalTable(key) else { return nil }
        let range = try sub.rangeFields()
        try sub.finish()
        return range
    }

    func range(_ key: String) throws(BoardError) -> GuestRange {
        guard let range = try optionalRange(key) else { throw error(key, "missing required table ({ base = ..., size = ... })") }
        return range
    }

    /// This table's own `base` and `size` keys as a range; the caller finishes the table.
    func rangeFields() throws(BoardError) -> GuestRange {
        let base = try address("base")
        let size = UInt64(try integer("size", hexadecimal: true))
        guard size > 0 else { throw error("size", "must not be zero") }
        guard let range = GuestRange(start: GuestAddress(base), size: size) else {
            throw error("size", "\(hex(base)) + \(hex(size)) runs past the end of the address space")
        }
        return range
    }
}
