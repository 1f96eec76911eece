/// Where guest RAM goes. RAM is laid out contiguously from `base`, jumping over
/// each hole (the rest moves above it), so a board describes its device gaps
/// once and any RAM size fits around them.
public struct RAMLayout: Hashable, Sendable {
    public static let pageSize: UInt64 = 4096
    public static let mebibyte: UInt64 = 1 << 20

    public let base: GuestAddress
    public let defaultMiB: Int
    public let minimumMiB: Int?
    /// Highest guest-physical address + 1 that RAM may reach (the arm64 IPA limit).
    public let maxAddress: UInt64?
    /// Ranges RAM skips, sorted and disjoint: the x86 32-bit PCI hole, for instance.
    public let holes: [GuestRange]
    /// Ranges the firmware memory map reports as reserved; they may lie inside RAM.
    public let reserved: [NamedRange]
    /// The board file, so that size errors found at run time still name it.
    let fileName: String

    public init(
        base: GuestAddress, defaultMiB: Int, minimumMiB: Int? = nil, maxAddress: UInt64? = nil,
        holes: [GuestRange] = [], reserved: [NamedRange] = [], fileName: String = "<board>"
    ) {
        self.base = base
        self.defaultMiB = defaultMiB
        self.minimumMiB = minimumMiB
        self.maxAddress = maxAddress
        self.holes = holes.sorted { $0.start < $1.start }
        self.reserved = reserved
        self.fileName = fileName
    }

    /// The guest-physical ranges `mib` MiB of RAM occupy, in ascending order.
    public func ranges(forMiB mib: Int) throws(BoardError) -> [GuestRange] {
        guard mib > 0 else { throw error("ram", "\(mib) MiB of RAM is not a positive size") }
        let (bytes, overflow) = UInt64(mib).multipliedReportingOverflow(by: RAMLayout.mebibyte)
        guard !overflow else { throw error("ram", "\(mib) MiB of RAM does not fit in a 64-bit address space") }

        var ranges: [GuestRange] = []
        var cursor = base.raw
        var remaining = bytes
        for hole in holes where hole.end > cursor && remaining > 0 {
            if hole.start.raw > cursor {
                let chunk = min(remaining, hole.start.raw - cursor)
                ranges.append(GuestRange(start: GuestAddress(cursor), size: chunk)!)  // below a hole: cannot wrap
                remaining -= chunk
            }
            cursor = max(cursor, hole.end)
        }
        if remaining > 0 {
            guard let tail = GuestRange(start: GuestAddress(cursor), size: remaining) else {
                throw error("ram", "\(mib) MiB of RAM does not fit in a 64-bit address space")
            }
            ranges.append(tail)
        }
        if let maxAddress, let last = ranges.last, last.end > maxAddress {
            throw error("ram.max_address",
                        "\(mib) MiB of RAM would reach \(hex(last.end)), above this board's limit \(hex(maxAddress))")
        }
        return ranges
    }

    private func error(_ key: String, _ message: String) -> BoardError {
        BoardError(file: fileName, keyPath: key, message: message)
    }
}
