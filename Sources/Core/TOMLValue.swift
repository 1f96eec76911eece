/// A TOML value as `TOMLParser` reads it: what board files are made of.
enum TOMLValue {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    /// A date, time or date-time, kept as written: no board key takes one.
    case dateTime(kind: String, text: String)
    case array([TOMLValue])
    case table(TOMLTable)

    var string: String? { if case .string(let text) = self { text } else { nil } }
    var int: Int? { if case .integer(let number) = self { number } else { nil } }
    var table: TOMLTable? { if case .table(let table) = self { table } else { nil } }
    var array: [TOMLValue]? { if case .array(let array) = self { array } else { nil } }

    /// The type's name for error messages: "string", "integer", "table"...
    var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "floating-point number"
        case .boolean: "boolean"
        case .dateTime(let kind, _): kind
        case .array: "array"
        case .table: "table"
        }
    }
}

/// A TOML table. A class because the parser fills tables in as headers and
/// dotted keys reopen them; nothing changes one after `TOMLParser.parse`.
final class TOMLTable {
    enum Entry {
        case value(TOMLValue)
        case table(TOMLTable)
        /// `[[name]]` headers: an array the document may still append to.
        case tables([TOMLTable])
    }

    /// How the table came to be, for TOML's rules on defining one twice.
    enum Origin { case root, header, implicit, dotted, inline }

    var origin: Origin
    private(set) var entries: [String: Entry] = [:]

    init(origin: Origin) { self.origin = origin }

    var keys: [String] { Array(entries.keys) }

    subscript(key: String) -> TOMLValue? {
        switch entries[key] {
        case nil: nil
        case .value(let value): value
        case .table(let table): .table(table)
        case .tables(let tables): .array(tables.map { .table($0) })
        }
    }

    func entry(_ key: String) -> Entry? { entries[key] }
    func set(_ key: String, _ entry: Entry) { entries[key] = entry }
}
