import Glibc
import LKVMCore
import Logging

/// Why a disk image could not be opened, or a transfer on it failed.
public enum BlockImageError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, readOnly: Bool, errno: Int32)
    /// open(2) refused O_DIRECT (EINVAL): the file system cannot do it.
    case directIOUnsupported(path: String)
    case notARegularFile(path: String)
    case empty(path: String)
    case readFailed(offset: UInt64, errno: Int32)
    case writeFailed(offset: UInt64, errno: Int32)
    case flushFailed(errno: Int32)
    /// pread/pwrite moved no bytes inside the image: it shrank while in use.
    case endOfFile(offset: UInt64)
    case outsideImage(offset: UInt64, count: Int)
    case readOnly
    case misalignedDirectIO(offset: UInt64, count: Int)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let readOnly, let errno):
            "cannot open disk image \(path)\(readOnly ? "" : " for writing"): \(Self.text(errno))"
                + (!readOnly && (errno == EACCES || errno == EROFS) ? " (add ,ro to use it read-only)" : "")
        case .directIOUnsupported(let path):
            "disk image \(path): its file system does not support direct I/O (O_DIRECT); drop ,direct"
        case .notARegularFile(let path):
            "disk image \(path) is not a regular file"
        case .empty(let path):
            "disk image \(path) holds no whole 512-byte sector"
        case .readFailed(let offset, let errno):
            "disk image read at byte \(offset) failed: \(Self.text(errno))"
        case .writeFailed(let offset, let errno):
            "disk image write at byte \(offset) failed: \(Self.text(errno))"
        case .flushFailed(let errno):
            "disk image fdatasync failed: \(Self.text(errno))"
        case .endOfFile(let offset):
            "disk image ends at byte \(offset), before the transfer did: was it truncated?"
        case .outsideImage(let offset, let count):
            "\(count) bytes at byte \(offset) lie outside the disk image"
        case .readOnly:
            "the disk image is open read-only"
        case .misalignedDirectIO(let offset, let count):
            "direct I/O of \(count) bytes at byte \(offset) is not sector aligned"
        }
    }

    private static func text(_ errno: Int32) -> String { String(cString: strerror(errno)) }
}

/// Why a transfer between the image and guest RAM failed: a guest buffer
/// that is not RAM (the driver broke the queue's rules), or the host I/O.
public enum BlockGuestTransferError: Error, Equatable {
    case guestMemory(GuestMemoryError)
    case image(BlockImageError)
}

/// A raw disk image: a regular file whose bytes are the disk's, sector 0 at
/// offset 0. Capacity is the whole 512-byte sectors it holds, fixed at open;
/// a trailing partial sector stays out of the guest's reach (with a warning).
///
/// Transfers use pread/pwrite (preadv/pwritev for guest RAM) at explicit
/// offsets, so concurrent callers never share a file position. Guest data
/// moves straight between the file and guest RAM, with no host copy; it
/// copies through a shared mapping of the file when one can be made
/// (`BlockImageMapping`). With `direct` the file is opened O_DIRECT and never
/// mapped: guest buffers go straight too when they are sector aligned (and
/// the file system takes them), else through a page-aligned bounce buffer,
/// as do the byte-array transfers.
public final class BlockImage: Sendable {
    public let path: String
    public let isReadOnly: Bool
    public let usesDirectIO: Bool
    /// The file's size when opened.
    public let byteCount: UInt64
    /// The GET_ID answer: "lkvm-" and 15 hex digits hashed from the file's
    /// device and inode numbers, so it is stable across runs and renames, and
    /// differs between images. 20 bytes: no NUL terminator, as the spec allows.
    public let serial: [UInt8]
    private let descriptor: Int32
    /// The page cache view that guest reads copy from and writes (of a
    /// read-write image) copy into; nil with O_DIRECT or when the file cannot
    /// be mapped.
    private let mapping: BlockImageMapping?

    public var sectorCount: UInt64 { byteCount / UInt64(VirtioBlockSizes.sector) }
    /// Whether reads into guest RAM copy from the file's mapping.
    var readsThroughMapping: Bool { mapping != nil }
    /// Whether writes from guest RAM copy into it.
    var writesThroughMapping: Bool { mapping?.isWritable ?? false }

    // Glibc hides O_DIRECT behind _GNU_SOURCE; the values are the kernel's uapi.
    #if arch(x86_64)
    static let openDirect: Int32 = 0o40000    // asm-generic/fcntl.h
    #elseif arch(arm64)
    static let openDirect: Int32 = 0o200000   // arch/arm64/include/uapi/asm/fcntl.h
    #else
    #error("O_DIRECT value unknown for this host architecture")
    #endif

    /// Opens the image; every failure names the file, for a one-line error
    /// before the guest starts.
    public init(path: String, readOnly: Bool = false, direct: Bool = false) throws(BlockImageError) {
        let flags = (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? Self.openDirect : 0)
        let descriptor = open(path, flags)
        guard descriptor >= 0 else {
            if direct, errno == EINVAL { throw .directIOUnsupported(path: path) }
            throw .cannotOpen(path: path, readOnly: readOnly, errno: errno)
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let error = errno
            close(descriptor)
            throw .cannotOpen(path: path, readOnly: readOnly, errno: error)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw .notARegularFile(path: path)
        }
        let size = UInt64(info.st_size)
        guard size >= UInt64(VirtioBlockSizes.sector) else {
            close(descriptor)
            throw .empty(path: path)
        }
        let tail = size % UInt64(VirtioBlockSizes.sector)
        if tail != 0 {
            Logger(label: "lkvm.virtio.blk").warning(
                "disk image \(path) is \(size) bytes, not whole 512-byte sectors: its last \(tail) bytes are ignored")
        }
        self.path = path
        self.descriptor = descriptor
        isReadOnly = readOnly
        usesDirectIO = direct
        byteCount = size
        serial = Self.serial(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        // O_DIRECT promises transfers that bypass the page cache: no mapping.
        mapping = direct ? nil : BlockImageMapping(descriptor: descriptor, byteCount: size, writable: !readOnly, path: path)
    }

    deinit {
        close(descriptor)
    }

    /// FNV-1a over the two numbers: short, stable, and not a path that may
    /// be longer than 20 bytes.
    static func serial(device: UInt64, inode: UInt64) -> [UInt8] {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for value in [device, inode] {
            for shift in stride(from: 0, to: 64, by: 8) {
                hash = (hash ^ (value >> UInt64(shift) & 0xFF)) &* 0x0000_0100_0000_01B3
            }
        }
        let digits = String(hash >> 4, radix: 16)
        let padded = String(repeating: "0", count: 15 - digits.count) + digits
        return Array("lkvm-\(padded)".utf8)
    }

    /// Reads `count` bytes at byte `offset`, all of them or an error.
    public func read(_ count: Int, at offset: UInt64) throws(BlockImageError) -> [UInt8] {
        try checkRange(offset: offset, count: count)
        if usesDirectIO {
            let buffer = VirtioBlockAlignedBuffer(count: count)
            try buffer.withUnsafeMutableBytes { bytes throws(BlockImageError) in try transfer(.read, bytes, at: offset) }
            return buffer.bytes
        }
        var bytes = [UInt8](repeating: 0, count: count)
        // Array's accessor rethrows untyped errors: carry ours out in a Result.
        try bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(BlockImageError) in try transfer(.read, buffer, at: offset) }
        }.get()
        return bytes
    }

    /// Writes all of `bytes` at byte `offset`, or fails.
    public func write(_ bytes: [UInt8], at offset: UInt64) throws(BlockImageError) {
        guard !isReadOnly else { throw .readOnly }
        try checkRange(offset: offset, count: bytes.count)
        if usesDirectIO {
            let buffer = VirtioBlockAlignedBuffer(count: bytes.count)
            buffer.copy(from: bytes)
            try buffer.withUnsafeMutableBytes { bytes throws(BlockImageError) in try transfer(.write, bytes, at: offset) }
            return
        }
        var copy = bytes
        try copy.withUnsafeMutableBytes { buffer in
            Result { () throws(BlockImageError) in try transfer(.write, buffer, at: offset) }
        }.get()
    }

    /// Reads image bytes from `offset` straight into guest RAM, filling
    /// `buffers` front to back; all of them or an error.
    public func read(at offset: UInt64, into buffers: [GuestBuffer],
                     of memory: GuestMemory) throws(BlockGuestTransferError) {
        try transfer(.read, at: offset, buffers, memory)
    }

    /// Writes `buffers` of guest RAM, front to back, to the image at `offset`.
    public func write(at offset: UInt64, from buffers: [GuestBuffer],
                      of memory: GuestMemory) throws(BlockGuestTransferError) {
        guard !isReadOnly else { throw .image(.readOnly) }
        try transfer(.write, at: offset, buffers, memory)
    }

    /// fdatasync: what the guest's FLUSH asks for (data, not timestamps).
    public func flush() throws(BlockImageError) {
        while fdatasync(descriptor) != 0 {
            guard errno == EINTR else { throw .flushFailed(errno: errno) }
        }
    }

    private func checkRange(offset: UInt64, count: Int) throws(BlockImageError) {
        guard count >= 0, offset <= byteCount, UInt64(count) <= byteCount - offset else {
            throw .outsideImage(offset: offset, count: count)
        }
        let sector = UInt64(VirtioBlockSizes.sector)
        if usesDirectIO, offset % sector != 0 || count % VirtioBlockSizes.sector != 0 {
            throw .misalignedDirectIO(offset: offset, count: count)
        }
    }

    private enum Direction { case read, write }

    /// Linux's UIO_MAXIOV: the most vectors one preadv/pwritev takes.
    static let maxVectors = 1024

    private func transfer(_ direction: Direction, at offset: UInt64, _ buffers: [GuestBuffer],
                          _ memory: GuestMemory) throws(BlockGuestTransferError) {
        var count = 0
        for buffer in buffers {
            let (sum, overflow) = count.addingReportingOverflow(max(buffer.length, 0))
            guard !overflow else { throw .image(.outsideImage(offset: offset, count: Int.max)) }
            count = sum
        }
        do { try checkRange(offset: offset, count: count) } catch { throw .image(error) }
        let sector = UInt64(VirtioBlockSizes.sector)
        if usesDirectIO, !buffers.allSatisfy({ $0.address.raw % sector == 0 && $0.length % Int(sector) == 0 }) {
            return try bounce(direction, at: offset, buffers, memory, count: count)
        }
        let result: Result<Void, BlockImageError>
        do {
            result = try memory.withIOVectors(buffers) { vectors in
                Result { () throws(BlockImageError) in
                    switch (direction, mapping) {
                    case (.read, let mapping?):
                        try mapping.read(at: offset, into: vectors)
                    case (.write, let mapping?) where mapping.isWritable:
                        // Stores stop at a page the file cannot take; pwritev
                        // then writes the rest, or says why it cannot.
                        let stored = mapping.write(at: offset, from: vectors)
                        if stored < UInt64(count) { try transferVectored(.write, vectors, at: offset, done: stored) }
                    default:
                        try transferVectored(direction, vectors, at: offset)
                    }
                }
            }
        } catch {
            throw .guestMemory(error)
        }
        switch result {
        case .success: return
        // O_DIRECT may want more than sector alignment (a 4 KiB-sector disk).
        case .failure(.readFailed(_, EINVAL)) where usesDirectIO,
             .failure(.writeFailed(_, EINVAL)) where usesDirectIO:
            try bounce(direction, at: offset, buffers, memory, count: count)
        case .failure(let error):
            throw .image(error)
        }
    }

    /// Guest data through a host buffer: O_DIRECT with unaligned guest buffers.
    private func bounce(_ direction: Direction, at offset: UInt64, _ buffers: [GuestBuffer],
                        _ memory: GuestMemory, count: Int) throws(BlockGuestTransferError) {
        switch direction {
        case .read:
            let bytes: [UInt8]
            do { bytes = try read(count, at: offset) } catch { throw .image(error) }
            var done = 0
            for buffer in buffers {
                do { try memory.write(bytes[done..<(done + buffer.length)], at: buffer.address) } catch {
                    throw .guestMemory(error)
                }
                done += buffer.length
            }
        case .write:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count)
            for buffer in buffers {
                do { bytes += try memory.read(buffer.length, at: buffer.address) } catch { throw .guestMemory(error) }
            }
            do { try write(bytes, at: offset) } catch { throw .image(error) }
        }
    }

    /// preadv/pwritev until every byte moved: they may stop short on a
    /// signal, and take at most `maxVectors` vectors at a time. The first
    /// `done` bytes already moved (through the mapping): the rest goes from
    /// `offset + done`.
    private func transferVectored(_ direction: Direction, _ vectors: UnsafeBufferPointer<iovec>,
                                  at offset: UInt64, done: UInt64 = 0) throws(BlockImageError) {
        // SAFETY: the vectors point into guest RAM that GuestMemory checked
        // and keeps mapped for the caller's closure, which this call is
        // inside; this copy is advanced past moved bytes and dies with it.
        var pending = Array(vectors)
        var first = 0
        var position = offset  // checkRange kept offset + count inside the file
        func advance(by count: Int) {
            var left = count
            while left > 0 {
                let length = pending[first].iov_len
                if left >= length {
                    left -= length
                    first += 1
                } else {
                    pending[first].iov_base = pending[first].iov_base! + left
                    pending[first].iov_len = length - left
                    left = 0
                }
            }
        }
        advance(by: Int(done))
        position += done
        while true {
            while first < pending.count, pending[first].iov_len == 0 { first += 1 }
            guard first < pending.count else { return }
            let batch = Int32(min(pending.count - first, Self.maxVectors))
            let (moved, error) = pending.withUnsafeBufferPointer { all in
                let moved = switch direction {
                case .read: preadv(descriptor, all.baseAddress! + first, batch, off_t(position))
                case .write: pwritev(descriptor, all.baseAddress! + first, batch, off_t(position))
                }
                return (moved, errno)
            }
            if moved < 0 {
                if error == EINTR { continue }
                throw direction == .read ? .readFailed(offset: position, errno: error)
                    : .writeFailed(offset: position, errno: error)
            }
            if moved == 0 { throw .endOfFile(offset: position) }
            position += UInt64(moved)
            advance(by: moved)
        }
    }

    /// Loops until every byte moved: pread/pwrite may stop short on a signal.
    private func transfer(_ direction: Direction, _ buffer: UnsafeMutableRawBufferPointer,
                          at offset: UInt64) throws(BlockImageError) {
        var done = 0
        while done < buffer.count {
            // checkRange kept offset + count inside the file, whose size fits off_t.
            let position = off_t(offset + UInt64(done))
            // SAFETY: [done, count) lies inside `buffer`, which the caller keeps
            // alive and exclusive for this call.
            let moved = switch direction {
            case .read: pread(descriptor, buffer.baseAddress! + done, buffer.count - done, position)
            case .write: pwrite(descriptor, buffer.baseAddress! + done, buffer.count - done, position)
            }
            if moved < 0 {
                if errno == EINTR { continue }
                let at = offset + UInt64(done)
                throw direction == .read ? .readFailed(offset: at, errno: errno) : .writeFailed(offset: at, errno: errno)
            }
            if moved == 0 { throw .endOfFile(offset: offset + UInt64(done)) }
            done += moved
        }
    }
}
