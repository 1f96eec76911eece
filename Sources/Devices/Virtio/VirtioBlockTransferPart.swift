import LKVMCore
import Synchronization

enum VirtioBlockTransferDirection: Sendable {
    case read   // image to guest (IN)
    case write  // guest to image (OUT)
}

/// A piece of one request's data: an image offset and the guest buffers
/// that hold its bytes. Large windows are cut into a few parts so that
/// several threads copy at once: with one request in flight (`dd` with
/// direct I/O) the copy is the latency, and a second core halves it.
struct VirtioBlockTransferPart: Sendable {
    /// Smaller windows move on one thread: waking another costs more.
    static let splitThreshold = 256 << 10
    static let minimumPart = 128 << 10
    /// Parts start at 4 KiB multiples, so sector and page alignment carry over.
    static let partAlignment = 4096

    let offset: UInt64
    let buffers: [GuestBuffer]

    /// Part lengths for a window of `length` bytes over at most `threads`.
    static func sizes(_ length: Int, threads: Int) -> [Int] {
        guard length >= splitThreshold, threads > 1 else { return [length] }
        let count = min(threads, length / minimumPart)
        let size = length / count / partAlignment * partAlignment
        return Array(repeating: size, count: count - 1) + [length - size * (count - 1)]
    }

    /// Runs every part, on the pool when there is more than one, and returns
    /// each part's result in order.
    static func run(_ parts: [VirtioBlockTransferPart], _ direction: VirtioBlockTransferDirection,
                    image: BlockImage, memory: GuestMemory,
                    pool: HostWorkerPool?) -> [Result<Void, BlockGuestTransferError>] {
        guard parts.count > 1, let pool else {
            return parts.map { part in Result { () throws(BlockGuestTransferError) in try part.move(direction, image, memory) } }
        }
        let results = PartResults(count: parts.count)
        pool.run(parts.enumerated().map { index, part in
            { results.set(index, Result { () throws(BlockGuestTransferError) in try part.move(direction, image, memory) }) }
        })
        return results.all
    }

    private func move(_ direction: VirtioBlockTransferDirection, _ image: BlockImage,
                      _ memory: GuestMemory) throws(BlockGuestTransferError) {
        switch direction {
        case .read: try image.read(at: offset, into: buffers, of: memory)
        case .write: try image.write(at: offset, from: buffers, of: memory)
        }
    }

    /// Where the pool's threads leave their results.
    private final class PartResults: Sendable {
        private let results: Mutex<[Result<Void, BlockGuestTransferError>]>
        init(count: Int) { results = Mutex(Array(repeating: .success(()), count: count)) }
        func set(_ index: Int, _ result: Result<Void, BlockGuestTransferError>) { results.withLock { $0[index] = result } }
        var all: [Result<Void, BlockGuestTransferError>] { results.withLock { $0 } }
    }
}
