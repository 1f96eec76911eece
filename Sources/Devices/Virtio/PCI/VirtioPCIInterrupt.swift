import LKVMCore
import Logging
import Synchronization

/// The virtio-pci side of `VirtioInterrupt` (virtio 1.2 section 4.1.5):
/// with MSI-X enabled, the vector the driver chose for the queue or for
/// configuration changes; otherwise the ISR status byte and the INTx line
/// that follows it (reading ISR clears both). Also ConfigGeneration and
/// DEVICE_NEEDS_RESET. A leaf: it takes its own lock, then at most the
/// MSI-X table's and the line's.
final class VirtioPCIInterrupt: VirtioTransportInterrupt {
    static let isrQueue: UInt8 = 1
    static let isrConfig: UInt8 = 2

    private struct State {
        var isr: UInt8 = 0
        var lineAsserted = false
        var configGeneration: UInt8 = 0
        var needsReset = false
        var configVector = virtioNoVector
        var queueVectors: [UInt16]
    }

    private let msix: MSIXVectors
    private let line: (any InterruptLine)?
    /// Unowned: the config space holds this object (through the PCI config
    /// access capability and its registers), so a strong reference made a
    /// cycle that kept every virtio-pci transport, its device and the
    /// device's files (a disk image's descriptor) alive after the VM.
    private unowned let configSpace: PCIConfigSpace
    private let vectorCount: Int
    private let deviceName: String
    private let logger = Logger(label: "lkvm.virtio")
    private let state: Mutex<State>

    /// - Parameter line: the INTx input, nil when the board wires none
    ///   (the driver then has MSI-X or nothing).
    init(msix: MSIXVectors, vectorCount: Int, line: (any InterruptLine)?, configSpace: PCIConfigSpace,
         queueCount: Int, deviceName: String) {
        self.msix = msix
        self.vectorCount = vectorCount
        self.line = line
        self.configSpace = configSpace
        self.deviceName = deviceName
        state = Mutex(State(queueVectors: Array(repeating: virtioNoVector, count: queueCount)))
    }

    var configGeneration: UInt8 { state.withLock { $0.configGeneration } }
    var needsReset: Bool { state.withLock { $0.needsReset } }
    var configVector: UInt16 { state.withLock { $0.configVector } }

    func queueVector(_ queue: Int) -> UInt16 {
        state.withLock { queue < $0.queueVectors.count ? $0.queueVectors[queue] : virtioNoVector }
    }

    /// msix_config: a vector the table lacks reads back as NO_VECTOR, which
    /// is how the driver learns it was refused.
    func setConfigVector(_ vector: UInt16) {
        state.withLock { $0.configVector = accepted(vector) }
    }

    func setQueueVector(_ queue: Int, _ vector: UInt16) {
        state.withLock { state in
            guard queue < state.queueVectors.count else { return }
            state.queueVectors[queue] = accepted(vector)
        }
    }

    private func accepted(_ vector: UInt16) -> UInt16 {
        Int(vector) < vectorCount ? vector : virtioNoVector
    }

    func signalUsedBuffer(queue: Int) {
        state.withLock { state in
            let vector = queue < state.queueVectors.count ? state.queueVectors[queue] : virtioNoVector
            raise(Self.isrQueue, vector: vector, &state)
        }
    }

    func signalConfigChange() {
        state.withLock { state in
            state.configGeneration &+= 1
            raise(Self.isrConfig, vector: state.configVector, &state)
        }
    }

    func signalDeviceNeedsReset(_ error: VirtQueueError) {
        markNeedsReset(because: error.description)
    }

    func markNeedsReset(because reason: String) {
        state.withLock { state in
            guard !state.needsReset else { return }
            state.needsReset = true
            logger.error("\(deviceName) needs reset: \(reason)")
            raise(Self.isrConfig, vector: state.configVector, &state)
        }
    }

    /// The ISR status read: the bits, cleared by the read, and INTx lowered.
    func readAndClearISR() -> UInt8 {
        state.withLock { state in
            let bits = state.isr
            state.isr = 0
            updateLine(&state)
            return bits
        }
    }

    func reset() {
        state.withLock { state in
            state.isr = 0
            state.needsReset = false
            state.configVector = virtioNoVector
            state.queueVectors = state.queueVectors.map { _ in virtioNoVector }
            updateLine(&state)
        }
    }

    /// MSI-X when the driver enabled it (a NO_VECTOR event is dropped, as
    /// the spec says); otherwise the ISR bit and INTx.
    private func raise(_ isrBit: UInt8, vector: UInt16, _ state: inout State) {
        if msix.signal(vector: vector) {
            // A line INTx left high before the driver enabled MSI-X must come
            // down here, or it stays stuck for good (nothing reads ISR now).
            if state.lineAsserted { updateLine(&state) }
            return
        }
        state.isr |= isrBit
        updateLine(&state)
    }

    /// INTx follows ISR unless the guest disabled it (command bit 10, set by
    /// Linux with MSI-X) or uses MSI-X; a change of those bits takes effect
    /// at the next event or ISR read.
    private func updateLine(_ state: inout State) {
        let asserted = state.isr != 0 && !configSpace.intxDisabled && !msix.isEnabled
        guard asserted != state.lineAsserted, let line else { return }
        state.lineAsserted = asserted
        line.setLevel(asserted)
    }
}
