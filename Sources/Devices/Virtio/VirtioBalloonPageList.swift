import LKVMCore

/// One inflateq or deflateq buffer: le32 page frame numbers in 4 KiB units,
/// sorted into runs of contiguous pages that lie in guest RAM (one madvise
/// each) and a count of the PFNs that do not.
struct VirtioBalloonPageList {
    /// The most PFN bytes read from one buffer: 1 GiB of pages. Linux sends
    /// at most 256 PFNs (1 KiB) per buffer; a guest offering 4 GiB of PFNs
    /// gets this much read and the rest counted in `ignoredBytes`.
    static let maxBytes = 1 << 20

    private(set) var runs: [GuestRange] = []
    private(set) var validPages: UInt64 = 0
    private(set) var wildPFNs: UInt64 = 0
    /// Bytes offered but not read: beyond `maxBytes`, or a trailing partial PFN.
    let ignoredBytes: UInt64

    /// - Parameters:
    ///   - bytes: what was read of the buffer (at most `maxBytes`).
    ///   - offered: the buffer's whole readable length.
    init(bytes: [UInt8], offered: UInt64, memory: GuestMemory) {
        ignoredBytes = offered - UInt64(bytes.count) + UInt64(bytes.count % 4)
        var run: GuestRange?
        var index = 0
        while index + 4 <= bytes.count {
            let pfn = UInt64(bytes[index]) | UInt64(bytes[index + 1]) << 8
                | UInt64(bytes[index + 2]) << 16 | UInt64(bytes[index + 3]) << 24
            index += 4
            let address = GuestAddress(pfn << VirtioBalloonPage.shift)  // below 2^44: no overflow
            guard memory.contains(address, length: VirtioBalloonPage.size) else {
                wildPFNs += 1
                continue
            }
            validPages += 1
            if let current = run, current.end == address.raw,
               memory.contains(current.start, length: current.size + VirtioBalloonPage.size) {
                run = GuestRange(start: current.start, size: current.size + VirtioBalloonPage.size)
                continue
            }
            if let current = run { runs.append(current) }
            run = GuestRange(start: address, size: VirtioBalloonPage.size)
        }
        if let current = run { runs.append(current) }
    }

    /// The part of `range` made of whole host pages: what madvise can give back
    /// when host pages are larger than the balloon's 4 KiB.
    static func hostPageInterior(_ range: GuestRange, pageSize: UInt64) -> GuestRange? {
        let start = (range.start.raw + pageSize - 1) / pageSize * pageSize
        let end = range.end / pageSize * pageSize
        guard end > start else { return nil }
        return GuestRange(start: GuestAddress(start), size: end - start)
    }
}
