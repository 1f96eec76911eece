import CGuardedCopy
import Glibc
import Logging
import Synchronization

/// A read-only shared mapping of a whole disk image: reads copy from the
/// page cache through it instead of preadv's copy in the kernel.
///
/// Why: under QEMU's TCG (the lab's L1, where users without KVM hardware run
/// lkvm) the x86 kernel's copy_to_user is `rep movsb`, emulated a byte at a
/// time: 2.7 ms per MiB, against 0.3-0.7 ms for word copies from a mapping
/// (docs/performance.md). Elsewhere the two cost about the same. Writes stay
/// pwritev: a store through a mapping cannot report ENOSPC or EIO.
///
/// The mapping covers the image's size at open. If the file shrinks later, a
/// read of a page past its new end gets SIGBUS, which `guarded_copy` turns
/// into a short count, and the read into `BlockImageError.endOfFile` (or
/// `readFailed` with EIO when the file still covers the page: the file
/// system could not read it).
///
/// Pages read through the mapping count in lkvm's RSS, and with it in the
/// OOM killer's choice: after every `releaseAfter` bytes read, the mapping's
/// page table entries are dropped (MADV_DONTNEED; the pages stay in the page
/// cache). A guest reading its whole disk leaves lkvm no bigger.
final class BlockImageMapping: @unchecked Sendable {
    // @unchecked: `base` is written once, in init; the mapped bytes are only
    // read, and the page cache keeps them coherent with our own pwrites.
    private let base: UnsafeRawPointer
    /// The image's descriptor (BlockImage's; it outlives the mapping).
    private let descriptor: Int32
    let byteCount: UInt64
    let releaseAfter: UInt64
    private let readSinceRelease = Atomic<UInt64>(0)
    static let defaultReleaseAfter: UInt64 = 64 << 20

    /// Maps `byteCount` bytes of `descriptor` from offset 0, or nil (logged at
    /// debug) when the file or the host cannot: reads then use preadv.
    init?(descriptor: Int32, byteCount: UInt64, path: String, releaseAfter: UInt64 = defaultReleaseAfter) {
        let logger = Logger(label: "lkvm.virtio.blk")
        guard guarded_copy_prepare() == 0 else {
            logger.debug("disk image \(path): no SIGBUS handler (errno \(errno)); reads use preadv")
            return nil
        }
        guard byteCount > 0, byteCount <= UInt64(Int.max) else { return nil }
        let address = mmap(nil, Int(byteCount), PROT_READ, MAP_SHARED, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            logger.debug("disk image \(path) cannot be mapped (errno \(errno)); reads use preadv")
            return nil
        }
        base = UnsafeRawPointer(address)
        self.descriptor = descriptor
        self.byteCount = byteCount
        self.releaseAfter = releaseAfter
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), Int(byteCount))
    }

    /// Copies image bytes from `offset` into `vectors`, front to back.
    /// The caller checked that offset plus the vectors' total lies inside
    /// `byteCount`.
    func read(at offset: UInt64, into vectors: UnsafeBufferPointer<iovec>) throws(BlockImageError) {
        var position = offset
        for vector in vectors where vector.iov_len > 0 {
            precondition(position <= byteCount && UInt64(vector.iov_len) <= byteCount - position,
                         "BlockImageMapping.read outside the mapping")
            // SAFETY: the source range lies inside the mapping (checked above),
            // which lives as long as self; the destination is guest RAM that
            // the caller's GuestMemory.withIOVectors checked and keeps mapped.
            // guarded_copy stops at a page the file no longer backs.
            let copied = guarded_copy(vector.iov_base, base + Int(position), vector.iov_len)
            guard copied == vector.iov_len else { throw failure(at: position + UInt64(copied)) }
            position += UInt64(vector.iov_len)
        }
        let total = readSinceRelease.add(position - offset, ordering: .relaxed).newValue
        if total >= releaseAfter, readSinceRelease.compareExchange(
            expected: total, desired: 0, ordering: .relaxed).exchanged {
            // SAFETY: the whole mapping, which self owns; a copy running on
            // another thread meanwhile faults its pages back in from the cache.
            madvise(UnsafeMutableRawPointer(mutating: base), Int(byteCount), MADV_DONTNEED)
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
