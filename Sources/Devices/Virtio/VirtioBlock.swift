import LKVMCore
import Logging
import Synchronization

/// virtio-blk (virtio 1.2 section 5.2): a disk backed by a raw image file.
///
/// One request queue of 256. Each request is a 16-byte header (type,
/// reserved, sector) in the device-readable part, then data, then one status
/// byte at the very end of the device-writable part. Offered features:
/// SEG_MAX (queue size - 2, so header and status always fit beside the data),
/// FLUSH (mapped to fdatasync) and RO for read-only images. Requests: IN, OUT,
/// FLUSH, GET_ID; any other type is answered UNSUPP.
///
/// All work happens in `processQueue()`, under the device's lock, on the
/// transport's queue worker thread (inline in unit tests). Data moves
/// straight between the image and guest RAM (through the image's mapping,
/// or with preadv/pwritev: `BlockImage`); a read of
/// 256 KiB or more (or a write, with O_DIRECT) is cut into parts that a few
/// pool threads (one per further CPU, made at the first such request) move
/// at once.
public final class VirtioBlock: VirtioDevice {
    public static let queueSize: UInt16 = 256
    /// Data segments per request; header and status take two more descriptors.
    public static let maxSegmentsPerRequest = UInt32(queueSize) - 2
    /// Request data moves in windows of at most this size, so a 4 GiB
    /// request never needs 4 GiB of host memory when it has to go through a
    /// bounce buffer (O_DIRECT with unaligned guest buffers).
    static let transferWindow = 1 << 20

    private struct State {
        var queue: VirtQueue?
        var memory: GuestMemory?
        var interrupt: (any VirtioInterrupt)?
        var reportedProblems: Set<String> = []
        /// Threads for large transfers, made at the first one; nil before,
        /// and for good when they could not be made or the host has one CPU.
        var pool: HostWorkerPool?
        var poolUnavailable = false
    }

    public let image: BlockImage
    private let config: [UInt8]
    private let state = Mutex(State())
    private let logger = Logger(label: "lkvm.virtio.blk")

    public init(image: BlockImage) {
        self.image = image
        var config = [UInt8](repeating: 0, count: VirtioBlockConfigLayout.size)
        Self.put(image.sectorCount, at: VirtioBlockConfigLayout.capacity, in: &config)
        Self.put(Self.maxSegmentsPerRequest, at: VirtioBlockConfigLayout.segmentMax, in: &config)
        Self.put(UInt32(VirtioBlockSizes.sector), at: VirtioBlockConfigLayout.blockSize, in: &config)
        self.config = config
    }

    /// Opens the image; see `BlockImage` for what makes that fail.
    public convenience init(path: String, readOnly: Bool = false, direct: Bool = false) throws(BlockImageError) {
        self.init(image: try BlockImage(path: path, readOnly: readOnly, direct: direct))
    }

    private static func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        for byte in 0..<MemoryLayout<T>.size {
            bytes[offset + byte] = UInt8(truncatingIfNeeded: value >> (8 * byte))
        }
    }

    public var deviceType: VirtioDeviceType { .block }
    public var deviceFeatures: UInt64 {
        VirtioBlockFeature.segmentMax | VirtioBlockFeature.flush | (image.isReadOnly ? VirtioBlockFeature.readOnly : 0)
    }
    public var queueMaxSizes: [UInt16] { [Self.queueSize] }
    public var configSize: Int { config.count }

    public func readConfig(offset: Int, size: Int) -> UInt64 {
        configSpaceValue(config, offset: offset, size: size)
    }

    // The configuration space is read-only: writes are ignored (the default).

    public func activate(memory: GuestMemory, queues: [VirtQueue?], features: UInt64,
                         interrupt: any VirtioInterrupt) {
        state.withLock { state in
            state.queue = queues.first ?? nil
            state.memory = memory
            state.interrupt = interrupt
        }
    }

    public func queueNotified(_ index: Int) throws(VirtQueueError) {
        guard index == 0 else { return }
        try processQueue()
    }

    /// Answers every available request, then interrupts if the driver wants.
    /// Safe to call from any thread; calls are serialised by the device lock.
    /// A worker thread should pass a thrown error to the interrupt's
    /// `signalDeviceNeedsReset`.
    public func processQueue() throws(VirtQueueError) {
        try state.withLock { state throws(VirtQueueError) in
            guard var queue = state.queue, let memory = state.memory else { return }
            defer { state.queue = queue }
            let wantsInterrupt = try queue.serveAvailable { chain throws(VirtQueueError) in
                try serve(chain, memory: memory, &state)
            }
            if wantsInterrupt { state.interrupt?.signalUsedBuffer(queue: 0) }
        }
    }

    public func reset() {
        state.withLock { state in
            state.queue = nil
            state.memory = nil
            state.interrupt = nil
        }
    }

    /// Executes one request and writes its status; returns the used length:
    /// the bytes written into the chain (data for IN and GET_ID, plus status).
    private func serve(_ chain: DescriptorChain, memory: GuestMemory,
                       _ state: inout State) throws(VirtQueueError) -> UInt32 {
        let writableLength = chain.writableLength
        guard writableLength > 0 else {
            report(.noStatusByte, &state)
            return 0
        }
        let dataCapacity = writableLength - 1  // the status byte is the last writable one
        // Buffered writes to one file hold its inode lock (tmpfs, ext4, xfs
        // alike), so parts of a write would only queue behind each other;
        // reads, and direct writes inside the file, run side by side.
        let splittable = image.usesDirectIO ? max(writableLength, chain.readableLength) : writableLength
        let pool = splittable >= UInt64(VirtioBlockTransferPart.splitThreshold) ? transferPool(&state) : nil
        let outcome = try execute(chain, memory: memory, writableDataLength: dataCapacity, pool: pool)
        if let problem = outcome.problem { report(problem, &state) }
        try chain.writeWritable([outcome.status.rawValue], at: dataCapacity)
        // A chain holds at most 2^32 bytes; clamping keeps even that edge from trapping.
        return UInt32(clamping: outcome.dataWritten + 1)
    }

    private struct Outcome {
        var status: VirtioBlockStatus
        var dataWritten: UInt64 = 0
        var problem: VirtioBlockRequestProblem?

        static let ok = Outcome(status: .ok)
        static func ioError(_ problem: VirtioBlockRequestProblem, dataWritten: UInt64 = 0) -> Outcome {
            Outcome(status: .ioError, dataWritten: dataWritten, problem: problem)
        }
    }

    private func execute(_ chain: DescriptorChain, memory: GuestMemory, writableDataLength: UInt64,
                         pool: HostWorkerPool?) throws(VirtQueueError) -> Outcome {
        let readableLength = chain.readableLength
        guard let header = VirtioBlockRequestHeader(try chain.readReadableBytes(limit: VirtioBlockSizes.header)) else {
            return .ioError(.headerTooShort(readableBytes: readableLength))
        }
        let readableDataLength = readableLength - UInt64(VirtioBlockSizes.header)
        switch VirtioBlockRequestType(rawValue: header.type) {
        case .read:
            guard readableDataLength == 0 else { return .ioError(.dataInWrongDirection(.read)) }
            if let problem = checkRange(sector: header.sector, length: writableDataLength) { return .ioError(problem) }
            return try readData(chain, memory: memory, sector: header.sector, length: writableDataLength, pool: pool)
        case .write:
            guard writableDataLength == 0 else { return .ioError(.dataInWrongDirection(.write)) }
            guard !image.isReadOnly else { return .ioError(.writeToReadOnly) }
            if let problem = checkRange(sector: header.sector, length: readableDataLength) { return .ioError(problem) }
            return try writeData(chain, memory: memory, sector: header.sector, length: readableDataLength, pool: pool)
        case .flush:
            do { try image.flush() } catch { return .ioError(.hostIO(error)) }
            return .ok
        case .getID:
            var cursor = VirtioBlockSegmentCursor(segments: chain.writableSegments, memory: memory)
            let written = try cursor.scatter(Array(image.serial.prefix(Int(min(writableDataLength, 20)))))
            return Outcome(status: .ok, dataWritten: UInt64(written))
        case nil:
            return Outcome(status: .unsupported, problem: .unsupportedType(header.type))
        }
    }

    /// Whole sectors, all inside the disk; written so that a sector near
    /// 2^64 cannot overflow into range.
    private func checkRange(sector: UInt64, length: UInt64) -> VirtioBlockRequestProblem? {
        let sectorSize = UInt64(VirtioBlockSizes.sector)
        guard length % sectorSize == 0 else { return .lengthNotSectorMultiple(length) }
        let sectors = length / sectorSize
        let capacity = image.sectorCount
        guard sector <= capacity, sectors <= capacity - sector else {
            return .beyondCapacity(sector: sector, sectors: sectors, capacity: capacity)
        }
        return nil
    }

    /// IN: image to the writable data buffers, straight into guest RAM.
    private func readData(_ chain: DescriptorChain, memory: GuestMemory, sector: UInt64, length: UInt64,
                          pool: HostWorkerPool?) throws(VirtQueueError) -> Outcome {
        var cursor = VirtioBlockSegmentCursor(segments: chain.writableSegments, memory: memory)
        return try moveData(.read, &cursor, memory: memory, sector: sector, length: length, pool: pool)
    }

    /// OUT: the readable data buffers (after the header) to the image,
    /// straight from guest RAM.
    private func writeData(_ chain: DescriptorChain, memory: GuestMemory, sector: UInt64, length: UInt64,
                           pool: HostWorkerPool?) throws(VirtQueueError) -> Outcome {
        var cursor = VirtioBlockSegmentCursor(segments: chain.readableSegments, memory: memory,
                                              skipping: UInt64(VirtioBlockSizes.header))
        return try moveData(.write, &cursor, memory: memory, sector: sector, length: length, pool: pool)
    }

    /// Moves request data one window at a time; a large window is cut into
    /// parts that the pool's threads move at once. The first part that
    /// fails, in image order, decides the outcome, as if they ran in turn.
    private func moveData(_ direction: VirtioBlockTransferDirection, _ cursor: inout VirtioBlockSegmentCursor,
                          memory: GuestMemory, sector: UInt64, length: UInt64,
                          pool: HostWorkerPool?) throws(VirtQueueError) -> Outcome {
        let start = sector * UInt64(VirtioBlockSizes.sector)  // checkRange: no overflow
        var done: UInt64 = 0
        while done < length {
            let window = Int(min(UInt64(Self.transferWindow), length - done))
            var parts: [VirtioBlockTransferPart] = []
            var offset = start + done
            for size in VirtioBlockTransferPart.sizes(window, threads: (pool?.helperCount ?? 0) + 1) {
                let buffers = cursor.take(size)
                // Never empty (length is what the buffers hold): no endless loop.
                guard !buffers.isEmpty else {
                    return .ioError(.hostIO(.endOfFile(offset: offset)), dataWritten: direction == .read ? offset - start : 0)
                }
                parts.append(VirtioBlockTransferPart(offset: offset, buffers: buffers))
                offset += UInt64(buffers.reduce(0) { $0 + $1.length })
            }
            let results = VirtioBlockTransferPart.run(parts, direction, image: image, memory: memory, pool: pool)
            for (part, result) in zip(parts, results) {
                guard case .failure(let error) = result else { continue }
                switch error {
                case .guestMemory(let error): throw .memory(error)
                case .image(let error):
                    return .ioError(.hostIO(error), dataWritten: direction == .read ? part.offset - start : 0)
                }
            }
            done = offset - start
        }
        return Outcome(status: .ok, dataWritten: direction == .read ? done : 0)
    }

    /// The pool for a large transfer: made once, with one thread per further
    /// CPU (at most 3), or nil when the transfer has to run on this thread.
    private func transferPool(_ state: inout State) -> HostWorkerPool? {
        if let pool = state.pool { return pool }
        guard !state.poolUnavailable else { return nil }
        let helpers = min(HostWorkerPool.onlineCPUs, 4) - 1
        guard helpers > 0 else {
            state.poolUnavailable = true
            return nil
        }
        do {
            state.pool = try HostWorkerPool(helpers: helpers, name: "lkvm-blk-io")
        } catch {
            state.poolUnavailable = true
            logger.warning("virtio-blk \(image.path): no transfer threads (\(error)); large requests move on one thread")
        }
        return state.pool
    }

    /// Logs the first problem of each kind; the guest already has its status.
    private func report(_ problem: VirtioBlockRequestProblem, _ state: inout State) {
        guard state.reportedProblems.insert(problem.kind).inserted else { return }
        logger.warning("virtio-blk \(image.path): \(problem.description) (further ones are not logged)")
    }
}
