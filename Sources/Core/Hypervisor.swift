import SystemPackage

/// A failed hypervisor request: which request, and why.
public enum HypervisorError: Error, Equatable, CustomStringConvertible {
    /// An ioctl or system call failed; `request` is its name (e.g. "KVM_CREATE_VM").
    case request(String, Errno)
    /// The host hypervisor lacks something lkvm needs.
    case unsupported(String)
    /// The caller asked for something invalid (bad vCPU count, IRQ number, ...).
    case invalid(String)
    /// The hypervisor device cannot be used at all; the text says what to do.
    case unavailable(String)

    public var description: String {
        switch self {
        case .request(let name, let errno): "\(name) failed: \(errno) (errno \(errno.rawValue))"
        case .unsupported(let what): "the host's KVM does not support \(what)"
        case .invalid(let what): what
        case .unavailable(let advice): advice
        }
    }
}

/// Why a vCPU stopped running guest code and came back to lkvm. Port and MMIO
/// accesses are dispatched to the buses inside `run` and never appear here.
public enum VCPUExit: Equatable, Sendable {
    /// HLT executed with no in-kernel irqchip to wait on.
    case halt
    /// Triple fault or other reset-causing shutdown.
    case shutdown
    /// The guest asked to power off or reset (PSCI, ACPI, ...).
    case systemEvent(SystemEvent)
    /// KVM could not emulate or handle something: suberror and raw data.
    case internalError(suberror: UInt32, data: [UInt64])
    /// VM entry failed: hardware reason code.
    case failEntry(reason: UInt64, cpu: UInt32)
    /// KVM_RUN returned early because lkvm asked it to (stop, pause).
    case interrupted
    /// arm64: the guest accessed MMIO at `address` with an instruction whose
    /// syndrome KVM cannot decode (KVM_EXIT_ARM_NISV), so nobody can emulate it.
    case undecodableMMIO(address: UInt64, syndrome: UInt64)
    /// An exit reason lkvm does not know.
    case unknown(reason: UInt32)
}

public enum SystemEvent: Equatable, Sendable {
    case powerOff
    case reset
    case crash
    case other(UInt32)
}

/// The buses a vCPU dispatches port and MMIO exits to.
public struct IOBuses: Sendable {
    public let pio: Bus
    public let mmio: Bus
    public init(pio: Bus, mmio: Bus) { self.pio = pio; self.mmio = mmio }
}

/// A host hypervisor able to create virtual machines (KVM, or a fake in tests).
public protocol Hypervisor: Sendable {
    associatedtype Machine: VirtualMachine
    /// Largest vCPU count one VM may have.
    var maxVCPUs: Int { get }
    func createVM() throws(HypervisorError) -> Machine
}

public protocol VirtualMachine: AnyObject, Sendable {
    associatedtype CPU: VirtualCPU
    /// Makes guest RAM visible to the guest at its guest-physical ranges.
    func map(_ memory: GuestMemory) throws(HypervisorError)
    func createVCPU(id: Int) throws(HypervisorError) -> CPU
    /// Sets the level of interrupt input `line` of the in-kernel controller.
    func setInterruptLevel(line: Int, asserted: Bool) throws(HypervisorError)
}

public protocol VirtualCPU: AnyObject, Sendable {
    var id: Int { get }
    /// Runs guest code until an exit that is not port or MMIO I/O; those are
    /// dispatched to `buses` without returning.
    func run(buses: IOBuses) throws(HypervisorError) -> VCPUExit
    /// Makes a current or the next `run` return `.interrupted` soon; callable
    /// from any thread. Never lost, even when the vCPU is not in `run` yet.
    func requestExit()
    /// Clears a previous `requestExit` so that `run` enters the guest again.
    func clearExitRequest()
    /// Human-readable register dump for error reports.
    func registerDump() -> String
    /// Instruction pointer and KASLR anchor for `lkvm debug`; nil when the
    /// backend cannot say. Only while the vCPU is not running.
    func debugState() -> VCPUDebugState?
    /// Delivers a non-maskable interrupt to the vCPU (x86; others throw).
    func injectNMI() throws(HypervisorError)
}
