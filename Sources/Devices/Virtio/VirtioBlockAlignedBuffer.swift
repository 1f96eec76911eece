/// Host memory aligned for O_DIRECT, which wants the buffer address (and the
/// file offset and length, the caller's business) on the device's logical
/// block size. A page covers every block size Linux hosts use.
struct VirtioBlockAlignedBuffer: ~Copyable {
    static let alignment = 4096

    let count: Int
    private let storage: UnsafeMutableRawPointer

    init(count: Int) {
        self.count = count
        // SAFETY: owned by this non-copyable value and freed once, in deinit;
        // never handed out beyond the scoped accessors below. At least one
        // byte so that the pointer is never a zero-sized allocation.
        storage = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: Self.alignment)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    }

    deinit {
        storage.deallocate()
    }

    /// Scoped access for pread/pwrite; the pointer must not escape `body`.
    func withUnsafeMutableBytes<Result, Failure: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        // SAFETY: [storage, storage + count) is allocated and initialised for
        // this value's lifetime, which covers the call.
        try body(UnsafeMutableRawBufferPointer(start: storage, count: count))
    }

    var bytes: [UInt8] {
        withUnsafeMutableBytes { Array($0) }
    }

    /// Copies `source` to the start of the buffer (at most `count` bytes).
    func copy(from source: [UInt8]) {
        withUnsafeMutableBytes { target in
            source.withUnsafeBytes { target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(target.count))) }
        }
    }
}
