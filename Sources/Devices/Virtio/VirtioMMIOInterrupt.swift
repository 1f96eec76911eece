import LKVMCore
import Logging
import Synchronization

/// The virtio-mmio side of `VirtioInterrupt`: InterruptStatus, the line that
/// follows it, ConfigGeneration and the DEVICE_NEEDS_RESET flag. A leaf: it
/// takes only its own lock and drives only the line, so devices may call it
/// with their locks held.
final class VirtioMMIOInterrupt: VirtioTransportInterrupt {
    private struct State {
        var status: UInt32 = 0
        var lineAsserted = false
        var configGeneration: UInt32 = 0
        var needsReset = false
    }

    private let line: any InterruptLine
    private let deviceName: String
    private let logger = Logger(label: "lkvm.virtio")
    private let state = Mutex(State())

    init(line: any InterruptLine, deviceName: String) {
        self.line = line
        self.deviceName = deviceName
    }

    var interruptStatus: UInt32 { state.withLock { $0.status } }
    var configGeneration: UInt32 { state.withLock { $0.configGeneration } }
    var needsReset: Bool { state.withLock { $0.needsReset } }

    func signalUsedBuffer(queue: Int) {
        state.withLock { raise(VirtioMMIOInterruptBit.usedBuffer, &$0) }
    }

    func signalConfigChange() {
        state.withLock {
            $0.configGeneration &+= 1
            raise(VirtioMMIOInterruptBit.configChange, &$0)
        }
    }

    func signalDeviceNeedsReset(_ error: VirtQueueError) {
        markNeedsReset(because: error.description)
    }

    /// Sets DEVICE_NEEDS_RESET; logs only the first reason until the driver resets.
    func markNeedsReset(because reason: String) {
        state.withLock { state in
            guard !state.needsReset else { return }
            state.needsReset = true
            logger.error("\(deviceName) needs reset: \(reason)")
            raise(VirtioMMIOInterruptBit.configChange, &state)
        }
    }

    func acknowledge(_ bits: UInt32) {
        state.withLock { state in
            state.status &= ~bits
            updateLine(&state)
        }
    }

    /// Device reset: no pending interrupts, no error.
    func reset() {
        state.withLock { state in
            state.status = 0
            state.needsReset = false
            updateLine(&state)
        }
    }

    private func raise(_ bit: UInt32, _ state: inout State) {
        state.status |= bit
        updateLine(&state)
    }

    private func updateLine(_ state: inout State) {
        let asserted = state.status != 0
        guard asserted != state.lineAsserted else { return }
        state.lineAsserted = asserted
        line.setLevel(asserted)
    }
}
