/// The resource descriptors a PCI root bridge's `_CRS` needs (ACPI 6.5
/// §6.4), plus EISAID for `_HID`/`_CID` integers.
extension AML {
    /// Address space resource types (byte 3 of an address space descriptor).
    enum AddressSpace: UInt8 {
        case memory = 0
        case io = 1
        case busNumber = 2
    }

    /// Word (16-bit), DWord (32-bit) and QWord (64-bit) address space
    /// descriptors share one layout; only the tag and field width differ.
    enum AddressWidth: Int {
        case word = 2
        case dword = 4
        case qword = 8

        var tag: UInt8 {
            switch self {
            case .word: 0x88
            case .dword: 0x87
            case .qword: 0x8A
            }
        }
    }

    /// General flags: bit 0 consumer (1) or producer (0), bit 1 subtractive
    /// decode (0: positive), bits 2-3 minimum and maximum address fixed.
    static let fixedRangeProducer: UInt8 = 0b1100
    static let fixedRangeConsumer: UInt8 = 0b1101
    /// I/O type-specific flags: _RNG = 3, ISA and non-ISA ports alike.
    static let ioEntireRange: UInt8 = 0b11
    /// Memory type-specific flags: _RW = 1 (read-write), _MEM = 0 (not
    /// cacheable: registers, not RAM), _MTP = 0 (ordinary memory range).
    static let memoryReadWriteUncached: UInt8 = 0b1

    /// An address space descriptor for the fixed range [minimum, maximum]:
    /// granularity 0, no translation, length maximum - minimum + 1 (Linux
    /// drops windows whose length is 0).
    static func addressSpace(_ width: AddressWidth, _ space: AddressSpace, generalFlags: UInt8,
                             typeFlags: UInt8, minimum: UInt64, maximum: UInt64) -> [UInt8] {
        precondition(minimum <= maximum, "an address range needs minimum <= maximum")
        precondition(width == .qword || maximum < 1 << (8 * width.rawValue), "range too wide for the descriptor")
        func field(_ value: UInt64) -> [UInt8] { Array(LittleEndian.bytes(value).prefix(width.rawValue)) }
        let body = [space.rawValue, generalFlags, typeFlags] + field(0) + field(minimum) + field(maximum)
            + field(0) + field(maximum - minimum + 1)
        return [width.tag] + LittleEndian.bytes(UInt16(body.count)) + body
    }

    /// I/O port descriptor (small item 0x08, 7 bytes): a fixed block of
    /// `count` ports decoded with 16 address lines.
    static func ioPorts(_ base: UInt16, count: UInt8) -> [UInt8] {
        let decodes16Bit: UInt8 = 1
        return [0x47, decodes16Bit] + LittleEndian.bytes(base) + LittleEndian.bytes(base) + [1, count]
    }

    /// EISAID("PNPxxxx") as its DWord: three letters of 5 bits each (A = 1)
    /// in bits 30-16, four hex digits in bits 15-0, stored most significant
    /// byte first.
    static func eisaID(_ id: String) -> [UInt8] {
        let characters = Array(id.utf8)
        precondition(characters.count == 7, "an EISA id is 3 letters and 4 hex digits")
        var value: UInt32 = 0
        for letter in characters[0..<3] { value = value << 5 | UInt32(letter - 0x40) }
        for digit in characters[3...] {
            value = value << 4 | UInt32(digit <= 0x39 ? digit - 0x30 : (digit | 0x20) - 0x61 + 10)
        }
        return integer(UInt64(value.byteSwapped))
    }
}
