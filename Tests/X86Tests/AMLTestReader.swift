import XCTest

/// Reads back the few AML forms lkvm's DSDT uses, following ACPI 6.5 §20.2
/// (not the builder): PkgLength, integers, packages, buffers, named objects
/// and devices, and the resource descriptors of §6.4 inside a buffer.
enum AMLTestReader {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// PkgLength at `offset`: (value, bytes it occupies).
    static func packageLength(_ aml: [UInt8], at offset: Int) -> (length: Int, size: Int) {
        let lead = aml[offset]
        let follow = Int(lead >> 6)
        guard follow > 0 else { return (Int(lead & 0x3F), 1) }
        var length = Int(lead & 0x0F)
        for index in 0..<follow { length |= Int(aml[offset + 1 + index]) << (4 + 8 * index) }
        return (length, 1 + follow)
    }

    /// An integer term at `offset`: (value, bytes).
    static func integer(_ aml: [UInt8], at offset: Int) throws -> (value: UInt64, size: Int) {
        func little(_ count: Int) -> UInt64 {
            (0..<count).reduce(UInt64(0)) { $0 | UInt64(aml[offset + 1 + $1]) << (8 * $1) }
        }
        switch aml[offset] {
        case 0x00: return (0, 1)
        case 0x01: return (1, 1)
        case 0xFF: return (UInt64.max, 1)
        case 0x0A: return (little(1), 2)
        case 0x0B: return (little(2), 3)
        case 0x0C: return (little(4), 5)
        case 0x0E: return (little(8), 9)
        default: throw Failure(description: "no integer at \(offset): \(String(aml[offset], radix: 16))")
        }
    }

    /// The body (after NameSeg) of `Device (name)`, searched anywhere in `aml`.
    static func device(_ name: String, in aml: [UInt8]) throws -> [UInt8] {
        let segment = Array(name.utf8)
        for offset in 0..<(aml.count - 6) where aml[offset] == 0x5B && aml[offset + 1] == 0x82 {
            let (length, size) = packageLength(aml, at: offset + 2)
            let nameStart = offset + 2 + size
            if Array(aml[nameStart..<(nameStart + 4)]) == segment {
                return Array(aml[(nameStart + 4)..<(offset + 2 + length)])
            }
        }
        throw Failure(description: "no Device (\(name))")
    }

    /// Offset of the object of `Name (name, ...)` in `aml`, nil if absent.
    static func namedObject(_ name: String, in aml: [UInt8]) -> Int? {
        let pattern = [UInt8(0x08)] + Array(name.utf8)
        guard aml.count > pattern.count else { return nil }
        for offset in 0...(aml.count - pattern.count) where Array(aml[offset..<(offset + pattern.count)]) == pattern {
            return offset + pattern.count
        }
        return nil
    }

    /// The bytes of a Buffer term at `offset`.
    static func buffer(_ aml: [UInt8], at offset: Int) throws -> [UInt8] {
        guard aml[offset] == 0x11 else { throw Failure(description: "no Buffer at \(offset)") }
        let (length, size) = packageLength(aml, at: offset + 1)
        let count = try integer(aml, at: offset + 1 + size)
        let start = offset + 1 + size + count.size
        XCTAssertEqual(start + Int(count.value), offset + 1 + length, "buffer size fills the PkgLength")
        return Array(aml[start..<(start + Int(count.value))])
    }

    /// A Package term at `offset`: its elements' offsets and the end offset.
    static func package(_ aml: [UInt8], at offset: Int) throws -> (elements: [Int], end: Int, declared: Int) {
        guard aml[offset] == 0x12 else { throw Failure(description: "no Package at \(offset)") }
        let (length, size) = packageLength(aml, at: offset + 1)
        let declared = Int(aml[offset + 1 + size])
        let end = offset + 1 + length
        var cursor = offset + 2 + size
        var elements: [Int] = []
        while cursor < end {
            elements.append(cursor)
            if aml[cursor] == 0x12 {
                cursor = try package(aml, at: cursor).end
            } else {
                cursor += try integer(aml, at: cursor).size
            }
        }
        return (elements, end, declared)
    }

    /// One resource descriptor: its tag (small items: the item name; large:
    /// the byte) and the bytes after the tag and length.
    struct Resource: Equatable {
        var tag: UInt8
        var data: [UInt8]

        func u(_ offset: Int, _ width: Int) -> UInt64 {
            (0..<width).reduce(UInt64(0)) { $0 | UInt64(data[offset + $1]) << (8 * $1) }
        }
    }

    /// The descriptors of a resource template up to and including the end
    /// tag, which must be last.
    static func resources(_ template: [UInt8]) throws -> [Resource] {
        var resources: [Resource] = []
        var cursor = 0
        while cursor < template.count {
            let lead = template[cursor]
            if lead & 0x80 == 0 {
                let length = Int(lead & 0x07)
                resources.append(Resource(tag: (lead >> 3) & 0x0F,
                                          data: Array(template[(cursor + 1)..<(cursor + 1 + length)])))
                cursor += 1 + length
                if (lead >> 3) & 0x0F == 0x0F {
                    guard cursor == template.count else { throw Failure(description: "bytes after the end tag") }
                    return resources
                }
            } else {
                let length = Int(template[cursor + 1]) | Int(template[cursor + 2]) << 8
                resources.append(Resource(tag: lead, data: Array(template[(cursor + 3)..<(cursor + 3 + length)])))
                cursor += 3 + length
            }
        }
        throw Failure(description: "no end tag")
    }
}
