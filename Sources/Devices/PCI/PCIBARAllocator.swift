/// Hands out naturally aligned ranges of one window, lowest first, as
/// firmware assigns BARs; nothing is ever freed.
struct PCIBARAllocator: Sendable {
    let name: String
    /// Exclusive.
    let end: UInt64
    private var next: UInt64

    init(name: String, start: UInt64, end: UInt64) {
        self.name = name
        self.end = end
        next = start
    }

    /// A base for `size` bytes (a power of two) aligned to `size`; nil when
    /// the window has no room left.
    mutating func allocate(size: UInt64) -> UInt64? {
        let (padded, overflow) = next.addingReportingOverflow(size - 1)
        let base = padded & ~(size - 1)
        guard !overflow, base < end, size <= end - base else { return nil }
        next = base + size
        return base
    }
}
