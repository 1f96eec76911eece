import LKVMCore

/// The guest buffers of one side of a chain (readable or writable) read or
/// written as one byte stream, front to back. Request data is moved in
/// windows; the cursor remembers where the last window ended, so a request
/// with many segments is walked once, not once per window.
struct VirtioBlockSegmentCursor {
    private let segments: [DescriptorSegment]
    private let memory: GuestMemory
    private var index = 0
    private var offsetInSegment: UInt64 = 0

    /// Starts `skipping` bytes in (past the header, for OUT data).
    init(segments: [DescriptorSegment], memory: GuestMemory, skipping: UInt64 = 0) {
        // Zero-length segments carry nothing and would stall the walk.
        self.segments = segments.filter { $0.length > 0 }
        self.memory = memory
        advance(by: skipping)
    }

    private mutating func advance(by count: UInt64) {
        var remaining = count
        while remaining > 0, index < segments.count {
            let step = min(remaining, UInt64(segments[index].length) - offsetInSegment)
            offsetInSegment += step
            remaining -= step
            if offsetInSegment == UInt64(segments[index].length) {
                index += 1
                offsetInSegment = 0
            }
        }
    }

    /// The next piece of at most `limit` bytes: where it is and how long.
    private func nextPiece(limit: Int) -> (address: GuestAddress, length: Int)? {
        guard index < segments.count, limit > 0 else { return nil }
        let segment = segments[index]
        let length = min(UInt64(segment.length) - offsetInSegment, UInt64(limit))
        // In range: the queue checked the whole segment against guest RAM.
        return (GuestAddress(segment.address.raw + offsetInSegment), Int(length))
    }

    /// The guest buffers of the next `count` bytes (fewer if the buffers end
    /// first), for I/O straight to or from guest memory.
    mutating func take(_ count: Int) -> [GuestBuffer] {
        var buffers: [GuestBuffer] = []
        var taken = 0
        while let piece = nextPiece(limit: count - taken) {
            buffers.append(GuestBuffer(address: piece.address, length: piece.length))
            advance(by: UInt64(piece.length))
            taken += piece.length
        }
        return buffers
    }

    /// Copies the next `count` bytes out of guest memory (fewer if the
    /// buffers end first).
    mutating func gather(_ count: Int) throws(VirtQueueError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while let piece = nextPiece(limit: count - bytes.count) {
            do { bytes += try memory.read(piece.length, at: piece.address) } catch { throw .memory(error) }
            advance(by: UInt64(piece.length))
        }
        return bytes
    }

    /// Copies `bytes` into the next guest bytes; returns how many fitted.
    @discardableResult
    mutating func scatter(_ bytes: [UInt8]) throws(VirtQueueError) -> Int {
        var written = 0
        while let piece = nextPiece(limit: bytes.count - written) {
            do {
                try memory.write(bytes[written..<(written + piece.length)], at: piece.address)
            } catch {
                throw .memory(error)
            }
            advance(by: UInt64(piece.length))
            written += piece.length
        }
        return written
    }
}
