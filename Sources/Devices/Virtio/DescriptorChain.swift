import Glibc
import LKVMCore

/// One buffer of a descriptor chain: a guest range already checked to lie in
/// guest RAM, and whether the device may write it.
public struct DescriptorSegment: Equatable, Sendable {
    public let address: GuestAddress
    public let length: UInt32
    public let isWritable: Bool

    public init(address: GuestAddress, length: UInt32, isWritable: Bool) {
        self.address = address
        self.length = length
        self.isWritable = isWritable
    }
}

/// A request taken from the available ring: its head index (what the used ring
/// must name) and its buffers, readable ones first. Zero-length descriptors
/// are accepted and left out of `segments`: nothing can be accessed there.
public struct DescriptorChain: Sendable {
    public let head: UInt16
    public let segments: [DescriptorSegment]
    private let memory: GuestMemory
    /// Set when the device's traffic is traced; nil otherwise.
    private let trace: VirtQueueTrace?

    init(head: UInt16, segments: [DescriptorSegment], memory: GuestMemory, trace: VirtQueueTrace? = nil) {
        self.head = head
        self.segments = segments
        self.memory = memory
        self.trace = trace
    }

    /// Whether this chain's device is traced: worth building a note for.
    public var isTraced: Bool { trace != nil }

    /// Adds a one-line summary of the request to the virtqueue trace
    /// (`q0 note head 3: IN sector 2048 x8 -> OK`). The text is built only
    /// when the device is traced.
    public func traceNote(_ text: @autoclosure () -> String) {
        trace?.note(head: head, text())
    }

    public var readableSegments: [DescriptorSegment] { segments.filter { !$0.isWritable } }
    public var writableSegments: [DescriptorSegment] { segments.filter(\.isWritable) }

    /// Total bytes the driver gave for the device to read (at most 2^32).
    public var readableLength: UInt64 { readableSegments.reduce(0) { $0 + UInt64($1.length) } }
    /// Total bytes the device may write (at most 2^32).
    public var writableLength: UInt64 { writableSegments.reduce(0) { $0 + UInt64($1.length) } }

    /// The readable bytes in order from `offset` bytes in, at most `limit` of
    /// them, so that a guest cannot make the host allocate gigabytes.
    public func readReadableBytes(from offset: UInt64 = 0, limit: Int) throws(VirtQueueError) -> [UInt8] {
        var bytes: [UInt8] = []
        for piece in Self.pieces(of: readableSegments, from: offset, count: limit) {
            do { bytes += try memory.read(piece.length, at: piece.address) } catch { throw .memory(error) }
        }
        return bytes
    }

    /// The writable buffers as if they were one: `count` bytes from `offset`
    /// bytes in (fewer where they end first), as at most `maxVectors` iovecs
    /// on guest RAM for `body` (vectored I/O straight into the guest).
    public func withWritableVectors<R>(
        from offset: UInt64, count: Int, maxVectors: Int, _ body: (UnsafeBufferPointer<iovec>) -> R
    ) throws(VirtQueueError) -> R {
        let pieces = Self.pieces(of: writableSegments, from: offset, count: count, maxPieces: maxVectors)
        do { return try memory.withIOVectors(pieces, body) } catch { throw .memory(error) }
    }

    /// The readable buffers the same way (vectored I/O straight from the guest).
    public func withReadableVectors<R>(
        from offset: UInt64, count: Int, maxVectors: Int, _ body: (UnsafeBufferPointer<iovec>) -> R
    ) throws(VirtQueueError) -> R {
        let pieces = Self.pieces(of: readableSegments, from: offset, count: count, maxPieces: maxVectors)
        do { return try memory.withIOVectors(pieces, body) } catch { throw .memory(error) }
    }

    /// Writes `bytes` into the writable buffers as if they were one, starting
    /// `offset` bytes in. Writes what fits and returns how many bytes that was.
    @discardableResult
    public func writeWritable(_ bytes: [UInt8], at offset: UInt64) throws(VirtQueueError) -> Int {
        var written = 0
        for piece in Self.pieces(of: writableSegments, from: offset, count: bytes.count) {
            do { try memory.write(bytes[written..<(written + piece.length)], at: piece.address) } catch {
                throw .memory(error)
            }
            written += piece.length
        }
        return written
    }

    /// `segments` as if they were one buffer: the guest ranges that hold
    /// `count` bytes from `offset` bytes in (fewer where the segments end
    /// first), in at most `maxPieces` ranges. In range: the walk checked
    /// every whole segment.
    static func pieces(of segments: [DescriptorSegment], from offset: UInt64, count: Int,
                       maxPieces: Int = .max) -> [GuestBuffer] {
        var pieces: [GuestBuffer] = []
        var skip = offset
        var remaining = UInt64(max(count, 0))
        for segment in segments where remaining > 0 && pieces.count < maxPieces {
            let length = UInt64(segment.length)
            if skip >= length {
                skip -= length
                continue
            }
            let take = min(length - skip, remaining)
            pieces.append(GuestBuffer(address: GuestAddress(segment.address.raw + skip), length: Int(take)))
            remaining -= take
            skip = 0
        }
        return pieces
    }
}
