/// One config-space access that falls in a capability: the 2-byte header
/// (ID, next pointer) comes from the list, the body from the capability,
/// split into legal sizes; bytes past its length read 0.
struct PCICapabilityAccess {
    let entry: PCICapabilityEntry
    /// From the capability's first byte.
    let start: Int
    let size: Int

    init(entry: PCICapabilityEntry, offset: Int, size: Int) {
        self.entry = entry
        start = offset - entry.offset
        self.size = size
    }

    private var bodyPieces: [(offset: Int, size: Int)] {
        PCIConfigAccess.alignedPieces(from: max(start, 2), to: min(start + size, entry.capability.length))
    }

    func read() -> UInt32 {
        var value: UInt32 = 0
        for byte in start..<max(start, min(start + size, 2)) {
            let headerByte = byte == 0 ? UInt32(entry.capability.id) : UInt32(entry.next)
            value |= headerByte << UInt32((byte - start) * 8)
        }
        for piece in bodyPieces {
            let bits = entry.capability.read(offset: piece.offset, size: piece.size)
                & PCIConfigAccess.mask(size: piece.size)
            value |= bits << UInt32((piece.offset - start) * 8)
        }
        return value
    }

    /// The header is read-only; the body bytes go to the capability.
    func write(_ value: UInt32) {
        for piece in bodyPieces {
            let bits = (value >> UInt32((piece.offset - start) * 8)) & PCIConfigAccess.mask(size: piece.size)
            entry.capability.write(offset: piece.offset, size: piece.size, value: bits)
        }
    }
}
