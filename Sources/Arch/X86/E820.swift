import LKVMCore

/// BIOS e820 memory types, as the kernel reads them from boot_params.e820_table.
public enum E820Type: UInt32, Sendable {
    case ram = 1
    case reserved = 2
    case acpi = 3
    case nvs = 4
}

/// One e820 entry: 20 bytes in the zero page (u64 address, u64 size, u32 type).
public struct E820Entry: Sendable, Equatable, CustomStringConvertible {
    public static let encodedSize = 20

    public let address: UInt64
    public let size: UInt64
    public let type: E820Type

    public init(address: UInt64, size: UInt64, type: E820Type) {
        self.address = address
        self.size = size
        self.type = type
    }

    /// Exclusive end. Entries built by `E820Map` never wrap.
    public var end: UInt64 { address &+ size }

    public var encoded: [UInt8] {
        LittleEndian.bytes(address) + LittleEndian.bytes(size) + LittleEndian.bytes(type.rawValue)
    }

    public var description: String { "[\(hex(address)), \(hex(end))) \(type)" }
}

public enum E820Map {
    /// E820_MAX_ENTRIES_ZEROPAGE: the table in boot_params has 128 slots.
    public static let maxEntries = 128

    /// A sorted, non-overlapping map: RAM minus the reserved ranges is `ram`;
    /// every reserved range is listed as `reserved`, inside RAM or not (the
    /// kernel must not treat firmware/MMIO holes as free). Adjacent pieces of
    /// the same type are merged; empty ranges are ignored.
    public static func build(ram: [GuestRange], reserved: [GuestRange]) throws(BootError) -> [E820Entry] {
        let ram = ram.filter { $0.size > 0 }
        let reserved = reserved.filter { $0.size > 0 }
        // Cut the address space at every range edge; each piece between two
        // consecutive edges has one type throughout.
        var edges = Set<UInt64>()
        for range in ram + reserved {
            edges.insert(range.start.raw)
            edges.insert(range.end)
        }
        let sortedEdges = edges.sorted()
        var entries: [E820Entry] = []
        for (low, high) in zip(sortedEdges, sortedEdges.dropFirst()) {
            func covers(_ range: GuestRange) -> Bool { range.start.raw <= low && low < range.end }
            let type: E820Type
            if reserved.contains(where: covers) {
                type = .reserved
            } else if ram.contains(where: covers) {
                type = .ram
            } else {
                continue
            }
            if let last = entries.last, last.type == type, last.end == low {
                entries[entries.count - 1] = E820Entry(address: last.address, size: high - last.address, type: type)
            } else {
                entries.append(E820Entry(address: low, size: high - low, type: type))
            }
        }
        guard entries.count <= maxEntries else {
            throw .tooManyE820Entries(count: entries.count, maximum: maxEntries)
        }
        return entries
    }
}
