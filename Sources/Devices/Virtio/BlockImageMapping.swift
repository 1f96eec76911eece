import CGuardedCopy
import Glibc
import Logging
import Synchronization

/// A shared mapping of a whole disk image: guest reads and writes copy
/// through it instead of preadv's and pwritev's copies in the kernel.
///
/// Why: under QEMU's TCG (the lab's L1, where users without KVM hardware run
/// lkvm) the x86 kernel's copy_to_user and copy_from_user are `rep movsb`,
/// emulated a byte at a time: 2.7 ms per MiB, against 0.3-0.7 ms for word
/// copies through a mapping (docs/performance.md). Elsewhere the two cost
/// about the same.
///
/// The mapping covers the image's size at open. A page the file cannot back
/// raises SIGBUS (the file shrank under lkvm; no space to fill a hole; an I/O
/// error), which `guarded_copy` turns into a short count. A read then fails
/// with `endOfFile` (or `readFailed`, EIO, when the file still covers the
/// page); a write reports how far it got, and the caller writes the rest
/// with pwritev, which gives the real reason if it fails too.
///
/// Pages touched through the mapping count in lkvm's RSS, and with it in the
/// OOM killer's choice: after every `releaseAfter` bytes moved, the
/// mapping's page table entries are dropped (MADV_DONTNEED: the pages, dirty
/// ones included, stay in the page cache). fdatasync writes back pages
/// dirtied through the mapping as it does pwritev's.
final class BlockImageMapping: @unchecked Sendable {
    // @unchecked: `base` is written once, in init; the page cache keeps the
    // mapped bytes coherent with pread/pwrite on the file.
    private let base: UnsafeMutableRawPointer
    /// The image's descriptor (BlockImage's; it outlives the mapping).
    private let descriptor: Int32
    let byteCount: UInt64
    let isWritable: Bool
    let releaseAfter: UInt64
    private let movedSinceRelease = Atomic<UInt64>(0)
    static let defaultReleaseAfter: UInt64 = 64 << 20

    /// Maps `byteCount` bytes of `descriptor` from offset 0 (writable when
    /// `writable`: the descriptor must then be open read-write), or nil
    /// (logged at debug) when the file or the host cannot: transfers then
    /// use preadv and pwritev.
    init?(descriptor: Int32, byteCount: UInt64, writable: Bool, path: String,
          releaseAfter: UInt64 = defaultReleaseAfter) {
        let logger = Logger(label: "lkvm.virtio.blk")
        guard guarded_copy_prepare() == 0 else {
            logger.debug("disk image \(path): no SIGBUS handler (errno \(errno)); transfers use preadv/pwritev")
            return nil
        }
        guard byteCount > 0, byteCount <= UInt64(Int.max) else { return nil }
        let protection = writable ? PROT_READ | PROT_WRITE : PROT_READ
        let address = mmap(nil, Int(byteCount), protection, MAP_SHARED, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            logger.debug("disk image \(path) cannot be mapped (errno \(errno)); transfers use preadv/pwritev")
            return nil
        }
        base = address
        self.descriptor = descriptor
        self.byteCount = byteCount
        isWritable = writable
        self.releaseAfter = releaseAfter
    }

    deinit {
        munmap(base, Int(byteCount))
    }

    /// Copies image bytes from `offset` into `vectors`, front to back.
    /// The caller checked that offset plus the vectors' total lies inside
    /// `byteCount`.
    func read(at offset: UInt64, into vectors: UnsafeBufferPointer<iovec>) throws(BlockImageError) {
        let (moved, complete) = copy(at: offset, vectors, toImage: false)
        guard complete else { throw failure(at: offset + moved) }
    }

    /// Copies `vectors` into the image from `offset`, front to back, and
    /// returns how many bytes it stored: all of them, or those before the
    /// first page the file could not take. Needs `isWritable`; the caller
    /// checked the range as for `read`.
    func write(at offset: UInt64, from vectors: UnsafeBufferPointer<iovec>) -> UInt64 {
        precondition(isWritable, "BlockImageMapping.write on a read-only mapping")
        return copy(at: offset, vectors, toImage: true).moved
    }

    private func copy(at offset: UInt64, _ vectors: UnsafeBufferPointer<iovec>,
                      toImage: Bool) -> (moved: UInt64, complete: Bool) {
        var position = offset
        defer { account(position - offset) }
        for vector in vectors where vector.iov_len > 0 {
            precondition(position <= byteCount && UInt64(vector.iov_len) <= byteCount - position,
                         "BlockImageMapping copy outside the mapping")
            // SAFETY: the image range lies inside the mapping (checked above),
            // which lives as long as self; the guest side is RAM that the
            // caller's GuestMemory.withIOVectors checked and keeps mapped.
            // guarded_copy stops at a page the file cannot back.
            let image = base + Int(position)
            let copied = toImage ? guarded_copy(image, vector.iov_base, vector.iov_len)
                : guarded_copy(vector.iov_base, image, vector.iov_len)
            position += UInt64(copied)
            guard copied == vector.iov_len else { return (position - offset, false) }
        }
        return (position - offset, true)
    }

    /// Drops the mapping's page table entries once `releaseAfter` bytes
    /// have moved through it since the last time.
    private func account(_ moved: UInt64) {
        let total = movedSinceRelease.add(moved, ordering: .relaxed).newValue
        if total >= releaseAfter, movedSinceRelease.compareExchange(
            expected: total, desired: 0, ordering: .relaxed).exchanged {
            // SAFETY: the whole mapping, which self owns; a copy running on
            // another thread meanwhile faults its pages back in from the cache.
            madvise(base, Int(byteCount), MADV_DONTNEED)
        }
    }

    /// Why a page at `offset` could not be read: the file ends before it,
    /// or (the file still reaching past it) the file system failed the read.
    private func failure(at offset: UInt64) -> BlockImageError {
        var info = stat()
        if fstat(descriptor, &info) == 0, UInt64(info.st_size) > offset { return .readFailed(offset: offset, errno: EIO) }
        return .endOfFile(offset: offset)
    }
}
