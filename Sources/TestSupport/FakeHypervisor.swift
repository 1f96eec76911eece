import Glibc
import LKVMCore
import Synchronization

/// An in-memory hypervisor for unit tests: vCPUs replay a script of guest
/// actions (port/MMIO accesses dispatched to the real buses, then exits).
public final class FakeHypervisor: Hypervisor {
    public let maxVCPUs: Int
    public init(maxVCPUs: Int = 8) { self.maxVCPUs = maxVCPUs }

    public func createVM() throws(HypervisorError) -> FakeMachine { FakeMachine(maxVCPUs: maxVCPUs) }
}

public final class FakeMachine: VirtualMachine {
    let maxVCPUs: Int
    /// Interrupt line changes, in order: (line, asserted).
    public let interruptLog = Mutex<[(Int, Bool)]>([])
    public let mappedRanges = Mutex<[GuestRange]>([])

    init(maxVCPUs: Int) { self.maxVCPUs = maxVCPUs }

    public func map(_ memory: GuestMemory) throws(HypervisorError) {
        mappedRanges.withLock { $0 += memory.ranges }
    }

    public func createVCPU(id: Int) throws(HypervisorError) -> FakeVCPU {
        guard id < maxVCPUs else { throw .invalid("vCPU \(id) is beyond the \(maxVCPUs) allowed") }
        return FakeVCPU(id: id)
    }

    public func setInterruptLevel(line: Int, asserted: Bool) throws(HypervisorError) {
        interruptLog.withLock { $0.append((line, asserted)) }
    }
}

/// Records every MSI a device sends, in order.
public final class FakeMSIController: MSIController {
    public let messages = Mutex<[MSIMessage]>([])
    public init() {}
    public func signalMSI(_ message: MSIMessage) { messages.withLock { $0.append(message) } }
}

/// One step a scripted guest takes.
public enum FakeGuestStep: Sendable {
    case portWrite(port: UInt64, size: Int, value: UInt64)
    case portRead(port: UInt64, size: Int)
    case mmioWrite(address: UInt64, size: Int, value: UInt64)
    case mmioRead(address: UInt64, size: Int)
    case exit(VCPUExit)
}

public final class FakeVCPU: VirtualCPU {
    public let id: Int
    private struct State {
        var script: [FakeGuestStep] = []
        var exitRequested = false
        var readValues: [UInt64] = []
    }
    private let state = Mutex(State())
    private let wake = Mutex(false)

    init(id: Int) { self.id = id }

    /// Steps replayed by the next `run` calls; after the last, `run` waits
    /// for `requestExit` like an idle guest.
    public func setScript(_ steps: [FakeGuestStep]) { state.withLock { $0.script = steps } }

    /// Values returned by reads, in order.
    public var readValues: [UInt64] { state.withLock { $0.readValues } }

    public func run(buses: IOBuses) throws(HypervisorError) -> VCPUExit {
        while true {
            let step: FakeGuestStep? = state.withLock { state in
                if state.exitRequested { return nil }
                return state.script.isEmpty ? nil : state.script.removeFirst()
            }
            guard let step else {
                // Idle guest: poll until kicked (tests keep this short).
                while !state.withLock({ $0.exitRequested }) { sched_yield() }
                return .interrupted
            }
            switch step {
            case .portWrite(let port, let size, let value): buses.pio.write(port, size: size, value: value)
            case .portRead(let port, let size):
                let value = buses.pio.read(port, size: size)
                state.withLock { $0.readValues.append(value) }
            case .mmioWrite(let address, let size, let value): buses.mmio.write(address, size: size, value: value)
            case .mmioRead(let address, let size):
                let value = buses.mmio.read(address, size: size)
                state.withLock { $0.readValues.append(value) }
            case .exit(let exit): return exit
            }
        }
    }

    public func requestExit() { state.withLock { $0.exitRequested = true } }
    public func clearExitRequest() { state.withLock { $0.exitRequested = false } }
    public func registerDump() -> String { "fake vCPU \(id) registers" }

    /// What `debugState()` answers; nil by default, like a backend that cannot say.
    public let fakeDebugState = Mutex<VCPUDebugState?>(nil)
    /// NMIs delivered through `injectNMI()`.
    public let deliveredNMIs = Mutex(0)
    public func debugState() -> VCPUDebugState? { fakeDebugState.withLock { $0 } }
    public func injectNMI() throws(HypervisorError) { deliveredNMIs.withLock { $0 += 1 } }
}

