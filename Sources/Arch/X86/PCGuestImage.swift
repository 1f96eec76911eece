import LKVMCore
import LKVMDevices

/// Guest RAM with everything the kernel needs at entry: the kernel, initrd,
/// command line, zero page with e820, MP table, ACPI tables, page tables and GDT. Built
/// without KVM, so every problem with the guest's inputs is found and
/// reported the same way on any host, before a VM exists.
public struct PCGuestImage {
    public let config: PCMachineConfig
    public let memory: GuestMemory
    /// The kernel's 64-bit entry point.
    public let entry: GuestAddress
    public let cpuState: LongModeLayout.CPUState
    /// The board's virtio-mmio slot for each of `config.virtio`, in order
    /// (none over PCI).
    public let virtioSlots: [(range: GuestRange, irq: Int)]
    /// The PCI device number on bus 0 of each of `config.virtio` over PCI, in
    /// order (none over virtio-mmio). Device 0 is the host bridge.
    public let pciDevices: [Int]

    /// lkvm's own kernel parameters: reboot through the i8042 (which lkvm
    /// sees) and no waiting after a panic, plus the console's (below).
    public static let defaultParams = "reboot=k panic=-1"
    /// Device numbers on one PCI bus.
    public static let pciDevicesPerBus = 32

    /// The console= parameters for the guest console, unless the user gave
    /// their own console=. virtio: COM1 carries early output until hvc0 exists
    /// (a module in many distribution kernels), then hvc0 takes over.
    public static func consoleParams(_ console: GuestConsole, userParams: String) -> String {
        if userParams.split(separator: " ").contains(where: { $0.hasPrefix("console=") }) { return "" }
        switch console {
        case .serial: return "console=ttyS0"
        case .virtio: return "console=ttyS0 console=hvc0"
        }
    }

    /// `config` is kept without its kernel and initrd bytes: once they are
    /// in guest RAM, a second copy in lkvm's heap is memory for nothing
    /// (a distribution kernel and initrd are tens of MiB).
    public init(config: PCMachineConfig) throws(PCMachineError) {
        var kept = config
        kept.kernel = []
        kept.initrd = nil
        self.config = kept
        let board = config.board
        guard case .x86IOAPIC(let ioapic) = board.interruptController else {
            throw .unsupportedBoard("\(board.fileName): an x86_64 board needs the x86-ioapic interrupt controller")
        }
        var slots: [(range: GuestRange, irq: Int)] = []
        var pciDevices: [Int] = []
        if !config.virtio.isEmpty, config.virtioTransport == .pci {
            guard board.pci != nil else {
                throw .unsupportedBoard("\(board.fileName): no [pci] windows for virtio-pci devices; use --virtio-transport mmio")
            }
            guard config.virtio.count < PCGuestImage.pciDevicesPerBus else {
                throw .unsupportedBoard("\(config.virtio.count) virtio devices: PCI bus 0 has room for \(PCGuestImage.pciDevicesPerBus - 1)")
            }
            pciDevices = config.virtio.indices.map { $0 + 1 }
        } else if !config.virtio.isEmpty {
            guard let window = board.virtioMMIO else {
                throw .unsupportedBoard("\(board.fileName): no [virtio_mmio] window for virtio devices")
            }
            guard config.virtio.count <= ACPIVirtioMMIODevice.maxCount else {
                throw .unsupportedBoard("\(config.virtio.count) virtio devices: the pc machine describes at most \(ACPIVirtioMMIODevice.maxCount)")
            }
            for index in config.virtio.indices {
                guard let slot = window.slot(index) else {
                    throw .unsupportedBoard("\(board.fileName): \(config.virtio.count) virtio devices, but virtio_mmio.count is \(window.count)")
                }
                slots.append(slot)
            }
        }
        virtioSlots = slots
        self.pciDevices = pciDevices
        let kernel: X86Kernel
        do { kernel = try X86Kernel(config.kernel) } catch { throw .boot(error) }
        let ram: [GuestRange]
        do { ram = try board.ram.ranges(forMiB: config.memMiB) } catch { throw .board(error) }
        do { memory = try GuestMemory(ranges: ram) } catch { throw .memory(error) }
        do {
            let loaded = try kernel.load(into: memory)
            entry = loaded.entry64
            let commandLine = [Self.consoleParams(config.console, userParams: config.params), Self.defaultParams,
                               config.params].filter { !$0.isEmpty }.joined(separator: " ")
            try memory.write(BootParams.commandLineBytes(commandLine, header: kernel.header),
                             at: LongModeLayout.commandLineAddress)
            var initrdRange: GuestRange?
            if let initrd = config.initrd {
                let start = try BootParams.placeInitrd(
                    size: UInt64(initrd.count), ram: ram,
                    initrdAddressMax: kernel.header.initrdAddressMax, kernelEnd: loaded.end)
                try memory.write(initrd, at: start)
                initrdRange = GuestRange(start: start, size: UInt64(initrd.count))
            }
            // ECAM too: Linux uses the MCFG's window only if the E820 map reserves it.
            let ecam = board.pci.map { [$0.ecam] } ?? []
            let e820 = try E820Map.build(ram: ram, reserved: board.ram.reserved.map(\.range) + ecam)
            try BootParams(header: kernel.header, commandLine: LongModeLayout.commandLineAddress,
                           initrd: initrdRange, e820: e820)
                .write(into: memory, at: LongModeLayout.zeroPageAddress)
            // KVM's default routing sends GSI 0 (the in-kernel PIT) to IOAPIC
            // pin 0, so the table says IRQ0 -> pin 0 rather than a PC's pin 2.
            let mpTable = try MPTable.pc(cpuCount: config.cpus, ioapicAddress: ioapic.ioapic.start, timerPin: 0,
                                         pci: board.pci, pciDevices: pciDevices)
            try memory.write(mpTable.encode(at: LongModeLayout.mpTableAddress), at: LongModeLayout.mpTableAddress)
            // ACPI as well, for what the MP table cannot say: how to power off.
            // ... and the virtio-mmio devices: stock x86 kernels find them only there.
            // The PCI root whenever the board has one, even with no device behind it.
            try ACPITables.write(into: memory, cpuCount: config.cpus, ioapicAddress: ioapic.ioapic.start,
                                 virtioMMIO: slots.map { ACPIVirtioMMIODevice(window: $0.range, gsi: UInt32($0.irq)) },
                                 pci: board.pci)
            cpuState = try LongModeLayout.write(into: memory)
        } catch let error as BootError {
            throw .boot(error)
        } catch let error as GuestMemoryError {
            throw .memory(error)
        } catch let error as ACPIError {
            throw .acpi(error)
        } catch {
            throw .unsupportedBoard("\(error)")
        }
    }
}
