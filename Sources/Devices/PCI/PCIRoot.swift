import LKVMCore
import Synchronization

/// The PCI host bridge's root: the functions on bus 0, their config space
/// through ECAM (and `PCIConfigPorts` on x86), and the BAR windows, filled
/// the way firmware would before the kernel boots.
public final class PCIRoot: Sendable {
    public let windows: PCIWindows
    private let table: PCIFunctionTable
    /// Also serialises `attach`.
    private let allocators: Mutex<PCIBARAllocators>

    /// Register at `windows.ecam`.
    public let ecam: any BusDevice
    /// Register over `windows.mmio32`.
    public let mmio32Window: any BusDevice
    /// Register over `windows.mmio64`, when the board has one.
    public let mmio64Window: (any BusDevice)?
    /// Register over `windows.ioPorts` on the port bus, when the board has one.
    public let ioWindow: (any BusDevice)?

    public init(windows: PCIWindows) {
        let table = PCIFunctionTable()
        self.windows = windows
        self.table = table
        allocators = Mutex(PCIBARAllocators(windows: windows))
        ecam = PCIECAM(functions: table)
        mmio32Window = PCIBARWindow(base: windows.mmio32.start.raw, space: .memory, functions: table)
        mmio64Window = windows.mmio64.map { PCIBARWindow(base: $0.start.raw, space: .memory, functions: table) }
        ioWindow = windows.ioPorts.map { PCIBARWindow(base: UInt64($0.start), space: .io, functions: table) }
    }

    /// Puts `function` at `address` (bus 0 only for now), assigns each
    /// declared BAR from the board's windows like firmware would (naturally
    /// aligned; memory64 from mmio64 when the board has one, else from
    /// mmio32; io from ioPorts), writes them into its config space, enables
    /// IO/memory decode for what it has, and routes its INTx pin (interrupt
    /// line 0xFF when the board wires none).
    public func attach(_ function: any PCIFunction, at address: PCIDeviceAddress) throws(PCIError) {
        guard address.bus == 0 else { throw .busNotSupported(address) }
        guard address.device < PCIDeviceAddress.deviceCount else { throw .deviceOutOfRange(address) }
        guard address.function < PCIDeviceAddress.functionCount else { throw .functionOutOfRange(address) }
        let config = function.configSpace
        let outcome = allocators.withLock { allocators -> Result<Void, PCIError> in
            if let conflict = table.conflict(for: function, at: address) { return .failure(conflict) }
            var trial = allocators
            let placements: [(index: Int, address: UInt64)]
            do throws(PCIError) {
                placements = try trial.place(config.declaredBARs, for: address)
            } catch {
                return .failure(error)
            }
            guard config.markAttached() else { return .failure(.attachedElsewhere(address)) }
            allocators = trial
            program(config, placements: placements, device: address.device)
            table.insert(PCIAttachedFunction(address: address, function: function))
            return .success(())
        }
        try outcome.get()
    }

    /// Firmware's part: BAR bases, decode enables, the interrupt line.
    private func program(_ config: PCIConfigSpace, placements: [(index: Int, address: UInt64)], device: UInt8) {
        var decode: UInt16 = 0
        for (index, bar) in config.declaredBARs.enumerated() {
            config.assignBAR(bar.index, address: placements[index].address)
            decode |= bar.kind == .io ? PCIConfigRegister.commandIO : PCIConfigRegister.commandMemory
        }
        config.enableDecode(decode)
        let pin = Int(config.interruptPin)
        if pin != 0 {
            let irq = windows.intxIRQ(device: Int(device), pin: pin)
            config.interruptLine = irq.flatMap { UInt8(exactly: $0) } ?? 0xFF
        }
    }

    /// An absent function reads all ones of the access size.
    public func configRead(_ address: PCIDeviceAddress, offset: Int, size: Int) -> UInt32 {
        table.configRead(address, offset: offset, size: size)
    }

    public func configWrite(_ address: PCIDeviceAddress, offset: Int, size: Int, value: UInt32) {
        table.configWrite(address, offset: offset, size: size, value: value)
    }

    /// Attached functions in address order.
    public var functions: [(address: PCIDeviceAddress, function: any PCIFunction)] {
        table.snapshot.map { ($0.address, $0.function) }
    }
}
