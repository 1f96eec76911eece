/// Rules and bit arithmetic shared by every config-space access path
/// (ECAM, ports 0xCF8/0xCFC, capabilities).
enum PCIConfigAccess {
    /// Sizes of a config-space access; each must be naturally aligned.
    static func isValid(offset: Int, size: Int, limit: Int) -> Bool {
        (size == 1 || size == 2 || size == 4) && offset >= 0 && offset % size == 0 && offset + size <= limit
    }

    /// What a refused or unanswered access reads: all ones of its size (a
    /// bad size reads a whole dword of ones).
    static func allOnes(size: Int) -> UInt32 {
        size == 1 || size == 2 ? UInt32(truncatingIfNeeded: (UInt64(1) << UInt64(size * 8)) - 1) : 0xFFFF_FFFF
    }

    /// The low `size` bytes' worth of ones.
    static func mask(size: Int) -> UInt32 { allOnes(size: size) }

    /// The `size` bytes at `byteOffset` of a little-endian dword.
    static func extract(_ dword: UInt32, byteOffset: Int, size: Int) -> UInt32 {
        (dword >> UInt32(byteOffset * 8)) & mask(size: size)
    }

    /// `old` with the bytes an access of `size` at `byteOffset` wrote replaced.
    static func merge(_ old: UInt32, value: UInt32, byteOffset: Int, size: Int) -> UInt32 {
        let shift = UInt32(byteOffset * 8)
        let bytes = mask(size: size) << shift
        return (old & ~bytes) | ((value << shift) & bytes)
    }

    /// Splits the byte range `start..<end` into naturally aligned accesses of
    /// 4, 2 or 1 bytes, so that handlers only ever see legal sizes.
    static func alignedPieces(from start: Int, to end: Int) -> [(offset: Int, size: Int)] {
        var pieces: [(offset: Int, size: Int)] = []
        var position = start
        while position < end {
            let size = [4, 2, 1].first { position % $0 == 0 && position + $0 <= end }!
            pieces.append((position, size))
            position += size
        }
        return pieces
    }
}
