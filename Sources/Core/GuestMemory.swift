import Glibc
import SystemPackage

public enum GuestMemoryError: Error, Equatable, CustomStringConvertible {
    /// (address, length) is not wholly inside one RAM region, or wraps.
    case outOfRange(GuestAddress, length: UInt64)
    case overlappingRegions(GuestRange, GuestRange)
    case badRegion(start: GuestAddress, size: UInt64)
    case mapFailed(size: UInt64, errno: Errno)
    /// A range to give back that is not aligned to the host's page size.
    case discardMisaligned(GuestRange, pageSize: UInt64)
    case discardFailed(GuestRange, errno: Errno)

    public var description: String {
        switch self {
        case .outOfRange(let address, let length):
            "guest access of \(length) bytes at \(address) is outside guest RAM"
        case .overlappingRegions(let a, let b):
            "guest RAM regions \(a) and \(b) overlap"
        case .badRegion(let start, let size):
            "guest RAM region at \(start) of size \(hex(size)) is empty, unaligned or wraps"
        case .mapFailed(let size, let errno):
            "cannot map \(size / (1 << 20)) MiB of guest RAM: \(errno)"
        case .discardMisaligned(let range, let pageSize):
            "guest RAM \(range) cannot be given back: not aligned to the host's \(pageSize)-byte pages"
        case .discardFailed(let range, let errno):
            "cannot give guest RAM \(range) back to the host: \(errno)"
        }
    }
}

/// A guest buffer for vectored I/O: `length` bytes at `address`.
public struct GuestBuffer: Equatable, Sendable {
    public let address: GuestAddress
    public let length: Int

    public init(address: GuestAddress, length: Int) {
        self.address = address
        self.length = length
    }
}

/// One host mapping backing a guest-physical range, as KVM needs to see it.
public struct HostMapping: Sendable {
    public let guest: GuestRange
    /// Host virtual address of the first byte, for KVM_SET_USER_MEMORY_REGION only.
    public let hostAddress: UInt64
}

/// Guest RAM: page-aligned regions backed by anonymous `mmap`. Every access is
/// checked to lie wholly inside one region (overflow included); no raw pointer
/// ever leaves this type.
public final class GuestMemory: @unchecked Sendable {
    // @unchecked: the region table is immutable after init; the bytes behind it
    // are shared with the guest by design, like real RAM.
    private struct Region {
        let range: GuestRange
        let base: UnsafeMutableRawPointer
    }

    public static let pageSize: UInt64 = 4096
    private let regions: [Region]

    public init(ranges: [GuestRange]) throws(GuestMemoryError) {
        let sorted = ranges.sorted { $0.start < $1.start }
        for range in sorted where range.size == 0
            || range.start.raw % Self.pageSize != 0 || range.size % Self.pageSize != 0 {
            throw .badRegion(start: range.start, size: range.size)
        }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.overlaps(b) {
            throw .overlappingRegions(a, b)
        }
        var mapped: [Region] = []
        for range in sorted {
            guard let pointer = Self.mapCongruent(range) else {
                let errno = Errno(rawValue: Glibc.errno)
                for region in mapped { munmap(region.base, Int(region.range.size)) }
                throw .mapFailed(size: range.size, errno: errno)
            }
            mapped.append(Region(range: range, base: pointer))
        }
        regions = mapped
    }

    /// Huge pages on the host back guest RAM only where host and guest
    /// addresses agree modulo their size: KVM can then map the guest with
    /// 2 MiB stage-2 entries (one fault and one TLB entry per 2 MiB, not 512).
    /// Linux before 6.7 aligns an anonymous mapping to 4 KiB only.
    static let hugePageSize = 2 << 20

    /// A fresh anonymous mapping of `range.size` bytes whose address is
    /// congruent to the guest address modulo 2 MiB; nil (errno set) if mmap fails.
    private static func mapCongruent(_ range: GuestRange) -> UnsafeMutableRawPointer? {
        let size = Int(range.size)
        let (reserved, overflow) = size.addingReportingOverflow(hugePageSize)
        guard !overflow else { errno = ENOMEM; return nil }
        // SAFETY: a fresh private anonymous mapping owned by this object. The
        // slack before and after the congruent start is unmapped here, so what
        // stays mapped is exactly [start, start + size), unmapped in deinit.
        guard let raw = mmap(nil, reserved, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), raw != MAP_FAILED else {
            return nil
        }
        let rawAddress = UInt(bitPattern: raw)
        let mask = UInt(hugePageSize - 1)
        let want = UInt(truncatingIfNeeded: range.start.raw) & mask
        let head = Int((want &- rawAddress) & mask)
        let start = raw + head
        if head > 0 { munmap(raw, head) }
        let tail = reserved - head - size
        if tail > 0 { munmap(start + size, tail) }
        return start
    }

    deinit {
        for region in regions { munmap(region.base, Int(region.range.size)) }
    }

    public var ranges: [GuestRange] { regions.map(\.range) }

    public var totalSize: UInt64 { regions.reduce(0) { $0 + $1.range.size } }

    public var hostMappings: [HostMapping] {
        regions.map { HostMapping(guest: $0.range, hostAddress: UInt64(UInt(bitPattern: $0.base))) }
    }

    /// True when `[address, address + length)` is backed by one region.
    public func contains(_ address: GuestAddress, length: UInt64) -> Bool {
        region(for: address, length: length) != nil
    }

    private func region(for address: GuestAddress, length: UInt64) -> Region? {
        for region in regions where region.range.contains(address, length: length) {
            return region
        }
        return nil
    }

    /// Runs `body` on the host bytes of a checked guest range.
    private func withBytes<R>(
        at address: GuestAddress, length: Int,
        _ body: (UnsafeMutableRawBufferPointer) -> R
    ) throws(GuestMemoryError) -> R {
        guard length >= 0, let region = region(for: address, length: UInt64(length)) else {
            throw .outOfRange(address, length: UInt64(max(length, 0)))
        }
        // SAFETY: region(for:) proved [address, address+length) lies inside this
        // region's mapping, which lives as long as self.
        let start = region.base + Int(address.raw - region.range.start.raw)
        return body(UnsafeMutableRawBufferPointer(start: start, count: length))
    }

    /// The host's page size: the unit `discard` works in.
    public static let hostPageSize: UInt64 = {
        let size = sysconf(Int32(_SC_PAGESIZE))
        return size > 0 ? UInt64(size) : 4096
    }()

    /// Gives the host memory behind `range` back (madvise MADV_DONTNEED):
    /// the mappings are private and anonymous, so the guest reads zeros
    /// there next time and the host allocates afresh only then. The range
    /// must lie inside one region and be aligned to the host's page size.
    public func discard(_ range: GuestRange) throws(GuestMemoryError) {
        guard range.size > 0 else { return }
        let pageSize = Self.hostPageSize
        guard range.start.raw % pageSize == 0, range.size % pageSize == 0 else {
            throw .discardMisaligned(range, pageSize: pageSize)
        }
        guard let size = Int(exactly: range.size) else { throw .outOfRange(range.start, length: range.size) }
        let failure = try withBytes(at: range.start, length: size) { bytes -> Int32 in
            // SAFETY: withBytes proved the range lies inside one of our
            // mappings and the checks above made it whole host pages, so
            // madvise touches no memory but guest RAM.
            madvise(bytes.baseAddress, bytes.count, MADV_DONTNEED) == 0 ? 0 : Glibc.errno
        }
        guard failure == 0 else { throw .discardFailed(range, errno: Errno(rawValue: failure)) }
    }

    /// Runs `body` with one `iovec` per buffer, in order, each pointing at the
    /// host bytes of that guest range: vectored I/O (preadv/pwritev) straight
    /// between a file and guest RAM, with no copy in between. Every buffer is
    /// checked first to lie wholly inside one region, overflow included; a
    /// buffer that runs from one region into the next is refused like any
    /// other access (guest-contiguous regions are not host-contiguous).
    /// The vectors are valid during `body` only: keep nothing from them.
    public func withIOVectors<R>(
        _ buffers: [GuestBuffer], _ body: (UnsafeBufferPointer<iovec>) -> R
    ) throws(GuestMemoryError) -> R {
        var vectors: [iovec] = []
        vectors.reserveCapacity(buffers.count)
        for buffer in buffers {
            guard buffer.length >= 0, let region = region(for: buffer.address, length: UInt64(buffer.length)) else {
                throw .outOfRange(buffer.address, length: UInt64(max(buffer.length, 0)))
            }
            // SAFETY: region(for:) proved the buffer lies inside this region's
            // mapping, which lives as long as self; the pointers go to `body`
            // only, for the duration of this call, which holds self alive.
            let start = region.base + Int(buffer.address.raw - region.range.start.raw)
            vectors.append(iovec(iov_base: start, iov_len: buffer.length))
        }
        return withExtendedLifetime(self) { vectors.withUnsafeBufferPointer { body($0) } }
    }

    public func write(_ bytes: some Collection<UInt8>, at address: GuestAddress) throws(GuestMemoryError) {
        // Arrays and their slices are copied from where they are; other
        // collections are gathered into one first.
        let written = bytes.withContiguousStorageIfAvailable { source in
            Result { () throws(GuestMemoryError) in
                try withBytes(at: address, length: source.count) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(source))
                }
            }
        }
        if let written { return try written.get() }
        let array = Array(bytes)
        try withBytes(at: address, length: array.count) { target in
            array.withUnsafeBytes { target.copyMemory(from: $0) }
        }
    }

    public func read(_ count: Int, at address: GuestAddress) throws(GuestMemoryError) -> [UInt8] {
        try withBytes(at: address, length: count) { Array($0) }
    }

    /// Copies up to `into.count` bytes of guest memory into a caller buffer.
    public func read(into buffer: inout [UInt8], at address: GuestAddress) throws(GuestMemoryError) {
        try withBytes(at: address, length: buffer.count) { source in
            buffer.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(source)) }
        }
    }

    public func fill(_ byte: UInt8, count: Int, at address: GuestAddress) throws(GuestMemoryError) {
        try withBytes(at: address, length: count) { _ = $0.initializeMemory(as: UInt8.self, repeating: byte) }
    }

    /// Little-endian load of a fixed-width integer (guest byte order on x86 and arm64).
    // Pre-specialised for the widths devices use: other modules get these
    // entry points instead of a generic call resolving metadata per access
    // (the descriptor walk makes four such calls per descriptor).
    @_specialize(exported: true, where T == UInt8)
    @_specialize(exported: true, where T == UInt16)
    @_specialize(exported: true, where T == UInt32)
    @_specialize(exported: true, where T == UInt64)
    public func load<T: FixedWidthInteger>(_: T.Type, at address: GuestAddress) throws(GuestMemoryError) -> T {
        try withBytes(at: address, length: MemoryLayout<T>.size) {
            T(littleEndian: $0.loadUnaligned(as: T.self))
        }
    }

    @_specialize(exported: true, where T == UInt8)
    @_specialize(exported: true, where T == UInt16)
    @_specialize(exported: true, where T == UInt32)
    @_specialize(exported: true, where T == UInt64)
    public func store<T: FixedWidthInteger>(_ value: T, at address: GuestAddress) throws(GuestMemoryError) {
        try withBytes(at: address, length: MemoryLayout<T>.size) {
            $0.storeBytes(of: value.littleEndian, as: T.self)
        }
    }
}
