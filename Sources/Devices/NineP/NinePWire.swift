/// 9P2000.L wire primitives: little-endian integers, strings (a 16-bit length
/// then UTF-8 bytes, no terminator) and qids, as the protocol lays them out.

/// A malformed message: the server answers it with Rlerror, never traps.
public enum NinePDecodeError: Error, Equatable, CustomStringConvertible {
    /// A field would run past the end of the message.
    case truncated(needed: Int, remaining: Int)
    /// The size field disagrees with the bytes received.
    case badSize(declared: UInt32, received: Int)
    /// Bytes left over after the last field.
    case trailingBytes(Int)
    case unknownType(UInt8)
    /// A string that is not UTF-8 (the kernel sends UTF-8 names).
    case badString
    case tooManyWalkNames(Int)

    public var description: String {
        switch self {
        case .truncated(let needed, let remaining): "a field needs \(needed) bytes, \(remaining) remain"
        case .badSize(let declared, let received): "size field says \(declared), message has \(received) bytes"
        case .trailingBytes(let count): "\(count) bytes after the last field"
        case .unknownType(let type): "unknown message type \(type)"
        case .badString: "a string is not UTF-8"
        case .tooManyWalkNames(let count): "Twalk with \(count) names (at most 16)"
        }
    }
}

/// The server's unique identification of a file: its kind, a version and a
/// number (the host inode) that is the same for the same file.
public struct NinePQid: Equatable, Sendable {
    public static let directory: UInt8 = 0x80
    public static let symlink: UInt8 = 0x02
    public static let regularFile: UInt8 = 0x00
    public static let encodedSize = 13

    public var type: UInt8
    public var version: UInt32
    public var path: UInt64

    public init(type: UInt8, version: UInt32 = 0, path: UInt64) {
        self.type = type
        self.version = version
        self.path = path
    }
}

/// Reads fields front to back; every read checks the bytes remain.
struct NinePReader {
    private let bytes: [UInt8]
    private(set) var position: Int

    init(_ bytes: [UInt8], from position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }

    private mutating func take(_ count: Int) throws(NinePDecodeError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw .truncated(needed: count, remaining: remaining) }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_: T.Type = T.self) throws(NinePDecodeError) -> T {
        try take(MemoryLayout<T>.size).reversed().reduce(T(0)) { $0 << 8 | T($1) }
    }

    mutating func u8() throws(NinePDecodeError) -> UInt8 { try integer() }
    mutating func u16() throws(NinePDecodeError) -> UInt16 { try integer() }
    mutating func u32() throws(NinePDecodeError) -> UInt32 { try integer() }
    mutating func u64() throws(NinePDecodeError) -> UInt64 { try integer() }

    mutating func string() throws(NinePDecodeError) -> String {
        let length = Int(try u16())
        let raw = try take(length)
        guard let text = String(validating: raw, as: UTF8.self) else { throw .badString }
        return text
    }

    mutating func data(_ count: Int) throws(NinePDecodeError) -> [UInt8] { Array(try take(count)) }

    mutating func qid() throws(NinePDecodeError) -> NinePQid {
        NinePQid(type: try u8(), version: try u32(), path: try u64())
    }

    func expectEnd() throws(NinePDecodeError) {
        guard remaining == 0 else { throw .trailingBytes(remaining) }
    }
}

/// Appends fields; strings longer than 65535 bytes are cut (the server only
/// sends names and link targets, which Linux bounds far below that).
struct NinePWriter {
    private(set) var bytes: [UInt8] = []

    mutating func integer<T: FixedWidthInteger>(_ value: T) {
        for index in 0..<MemoryLayout<T>.size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { integer(value) }
    mutating func u32(_ value: UInt32) { integer(value) }
    mutating func u64(_ value: UInt64) { integer(value) }

    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8.prefix(Int(UInt16.max)))
        u16(UInt16(utf8.count))
        bytes += utf8
    }

    mutating func data(_ payload: [UInt8]) { bytes += payload }

    mutating func qid(_ qid: NinePQid) {
        u8(qid.type)
        u32(qid.version)
        u64(qid.path)
    }

    /// Size of a string as encoded.
    static func encodedSize(of text: String) -> Int { 2 + min(text.utf8.count, Int(UInt16.max)) }
}
