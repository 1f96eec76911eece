import LKVMCore
import Logging
import Synchronization

/// virtio-rng (virtio 1.2 section 5.4, the entropy device): one request
/// queue whose writable buffers the device fills with random bytes from the
/// host. No features, no configuration space.
public final class VirtioRNG: VirtioDevice {
    public static let queueSize: UInt16 = 256
    /// The most bytes given per request. The spec lets the device fill less
    /// than offered; this keeps a 4 GiB request from stalling a vCPU.
    public static let maxBytesPerRequest = 64 * 1024

    private struct State {
        var queue: VirtQueue?
        var interrupt: (any VirtioInterrupt)?
        var warnedAboutEmptyRequest = false
        var warnedAboutEntropy = false
    }

    private let entropy: any EntropySource
    private let state = Mutex(State())
    private let logger = Logger(label: "lkvm.virtio.rng")

    public init(entropy: any EntropySource = HostEntropy()) {
        self.entropy = entropy
    }

    public var deviceType: VirtioDeviceType { .entropy }
    public var deviceFeatures: UInt64 { 0 }
    public var queueMaxSizes: [UInt16] { [Self.queueSize] }

    public func activate(memory: GuestMemory, queues: [VirtQueue?], features: UInt64,
                         interrupt: any VirtioInterrupt) {
        state.withLock { state in
            state.queue = queues.first ?? nil
            state.interrupt = interrupt
        }
    }

    public func queueNotified(_ index: Int) throws(VirtQueueError) {
        try state.withLock { state throws(VirtQueueError) in
            guard index == 0, var queue = state.queue else { return }
            defer { state.queue = queue }
            let wantsInterrupt = try queue.serveAvailable { chain throws(VirtQueueError) in
                UInt32(try fill(chain, &state))
            }
            if wantsInterrupt { state.interrupt?.signalUsedBuffer(queue: 0) }
        }
    }

    /// Fills the chain's writable part; returns the bytes written.
    private func fill(_ chain: DescriptorChain, _ state: inout State) throws(VirtQueueError) -> Int {
        let wanted = Int(min(chain.writableLength, UInt64(Self.maxBytesPerRequest)))
        guard wanted > 0 else {
            if !state.warnedAboutEmptyRequest {
                state.warnedAboutEmptyRequest = true
                logger.warning("virtio-rng: request with no writable buffer, answered with 0 bytes")
            }
            return 0
        }
        let bytes: [UInt8]
        do {
            bytes = try entropy.randomBytes(wanted)
        } catch {
            if !state.warnedAboutEntropy {
                state.warnedAboutEntropy = true
                logger.error("virtio-rng: \(error); answering with 0 bytes")
            }
            return 0
        }
        return try chain.writeWritable(bytes, at: 0)
    }

    public func reset() {
        state.withLock { state in
            state.queue = nil
            state.interrupt = nil
        }
    }
}
