import LKVMCore
import LKVMDevices

/// Everything an arm64 boot is built from, as the user asked for it.
public struct ARM64MachineConfig: Sendable {
    public var board: Board
    public var memMiB: Int
    public var cpus: Int
    /// The raw arm64 Image file.
    public var kernel: [UInt8]
    public var initrd: [UInt8]?
    /// User parameters, appended after lkvm's own.
    public var params: String
    /// virtio devices, each on the next slot of `virtioTransport`: a
    /// virtio-mmio slot of the board (described in the device tree), or a PCI
    /// device on bus 0 (found by the guest under the PCI host node).
    public var virtio: [any VirtioDevice]
    public var virtioTransport: VirtioTransport
    /// The guest console is virtio-console (hvc0) rather than the board's UART.
    public var virtioConsole: Bool
    /// Entropy for /chosen kaslr-seed and rng-seed (nil: none, as in tests).
    public var seed: [UInt8]?
    /// Devices whose virtqueue traffic is traced to `traceSink` (nil: none).
    public var traceVirtio: VirtioTraceSelection?
    public var traceSink: @Sendable (String) -> Void

    public init(board: Board, memMiB: Int, cpus: Int, kernel: [UInt8], initrd: [UInt8]?, params: String,
                virtio: [any VirtioDevice] = [], virtioTransport: VirtioTransport = .mmio,
                virtioConsole: Bool = false, seed: [UInt8]? = nil,
                traceVirtio: VirtioTraceSelection? = nil, traceSink: @escaping @Sendable (String) -> Void = { _ in }) {
        self.board = board; self.memMiB = memMiB; self.cpus = cpus
        self.kernel = kernel; self.initrd = initrd; self.params = params
        self.virtio = virtio; self.virtioTransport = virtioTransport
        self.virtioConsole = virtioConsole; self.seed = seed
        self.traceVirtio = traceVirtio; self.traceSink = traceSink
    }
}
