import CKVM
import LKVMCore
import LKVMDevices
import LKVMKVM
import Logging

/// What the user asked `lkvm run` for on an x86-64 board.
public struct PCMachineConfig: Sendable {
    public var board: Board
    public var memMiB: Int
    public var cpus: Int
    public var kernel: [UInt8]
    public var initrd: [UInt8]?
    /// User parameters, appended after lkvm's own.
    public var params: String
    /// virtio devices, each on the next slot of `virtioTransport`: a
    /// virtio-mmio slot of the board, or PCI device 1, 2, ... on bus 0.
    public var virtio: [any VirtioDevice]
    public var virtioTransport: VirtioTransport
    /// Which device is the guest's console (stdin goes there).
    public var console: GuestConsole = .serial
    /// Devices whose virtqueue traffic is traced to `traceSink` (nil: none).
    public var traceVirtio: VirtioTraceSelection?
    public var traceSink: @Sendable (String) -> Void

    public init(board: Board, memMiB: Int, cpus: Int, kernel: [UInt8], initrd: [UInt8]?, params: String,
                virtio: [any VirtioDevice] = [], virtioTransport: VirtioTransport = .mmio,
                console: GuestConsole = .serial,
                traceVirtio: VirtioTraceSelection? = nil,
                traceSink: @escaping @Sendable (String) -> Void = { _ in }) {
        self.board = board; self.memMiB = memMiB; self.cpus = cpus
        self.kernel = kernel; self.initrd = initrd; self.params = params; self.virtio = virtio
        self.virtioTransport = virtioTransport
        self.console = console; self.traceVirtio = traceVirtio; self.traceSink = traceSink
    }
}

/// The device that carries the guest's console.
public enum GuestConsole: String, Sendable {
    case serial
    case virtio
}

/// Why an x86 machine could not be built; one line each.
public enum PCMachineError: Error, CustomStringConvertible {
    case boot(BootError)
    case board(BoardError)
    case memory(GuestMemoryError)
    case hypervisor(HypervisorError)
    case bus(BusError)
    case unsupportedBoard(String)
    case acpi(ACPIError)
    case pci(PCIError)

    public var description: String {
        switch self {
        case .boot(let error): error.description
        case .board(let error): error.description
        case .memory(let error): error.description
        case .hypervisor(let error): error.description
        case .bus(let error): "board device layout: \(error)"
        case .unsupportedBoard(let what): what
        case .acpi(let error): error.description
        case .pci(let error): "PCI: \(error)"
        }
    }
}

/// An x86-64 PC built from a board file: RAM, in-kernel PIC/IOAPIC/PIT, the
/// board's legacy devices, a bzImage entered at its 64-bit entry point.
#if arch(x86_64)
public final class PCMachine {
    public let controller: VMController
    public let vcpus: [KVMVCPU]
    public let buses: IOBuses
    /// The console UART, for host input.
    public let console: Serial8250?
    let machine: KVMMachine
    let memory: GuestMemory

    public init(image: PCGuestImage, kvm: KVMSystem, output: any ConsoleOutput) throws(PCMachineError) {
        let config = image.config
        let board = config.board
        guard config.cpus <= kvm.maxVCPUs else {
            throw .hypervisor(.invalid("-c \(config.cpus): this host's KVM allows at most \(kvm.maxVCPUs) vCPUs"))
        }
        memory = image.memory
        do {
            machine = try kvm.createVM()
            // RAM before the irqchip: once interrupt routing exists, each memslot
            // change waits for an SRCU grace period (measured: 6 ms of start-up).
            try machine.map(memory)
            try machine.createX86InterruptControllers()
            let supported = try kvm.supportedCPUID()
            let tscDeadline = kvm.checkExtension(KVM_CAP_TSC_DEADLINE_TIMER) > 0
            var created: [KVMVCPU] = []
            for id in 0..<config.cpus {
                let vcpu = try machine.createVCPU(id: id)
                try vcpu.setCPUID(CPUIDTopology.entries(from: supported, cpu: id, count: config.cpus,
                                                           tscDeadlineTimer: tscDeadline))
                try vcpu.setBootMSRs()
                try vcpu.setInitialFPU()
                try vcpu.setupLocalAPIC()
                created.append(vcpu)
            }
            // Only the boot CPU starts at the kernel; the others wait in the
            // in-kernel LAPIC for the guest's INIT/SIPI.
            try Self.enterLongMode(created[0], state: image.cpuState, entry: image.entry)
            vcpus = created
        } catch {
            throw .hypervisor(error)
        }

        controller = VMController(vcpus: vcpus, clock: X86GuestClock(machine: machine))
        var pio = Bus(kind: "port I/O")
        var mmio = Bus(kind: "MMIO")
        var consoleUART: Serial8250?
        do {
            for device in board.devices {
                switch device {
                case .uart8250(let spec):
                    let uart = Serial8250(interrupt: KVMInterruptLine(machine: machine, number: spec.irq), output: output)
                    guard case .ports(let ports) = spec.location else {
                        throw PCMachineError.unsupportedBoard("\(board.fileName): an x86 8250 UART must sit on I/O ports")
                    }
                    try pio.register(uart, name: "uart8250", base: UInt64(ports.start), length: UInt64(ports.count))
                    if consoleUART == nil { consoleUART = uart }
                case .i8042(let spec):
                    let controller = self.controller
                    let keyboard = I8042(keyboardInterrupt: KVMInterruptLine(machine: machine, number: spec.irq),
                                         onReset: { controller.requestStop(.reset) })
                    try pio.register(keyboard, name: "i8042", base: UInt64(spec.dataPort), length: I8042.portSpan)
                case .cmosRTC(let spec):
                    try pio.register(CMOSRTC(), name: "cmos-rtc", base: UInt64(spec.ports.start),
                                     length: UInt64(spec.ports.count))
                case .pl011, .pl031:
                    throw PCMachineError.unsupportedBoard("\(board.fileName): \(device.kind) is an arm64 device")
                }
            }
            // ACPI power management: the guest's poweroff and ACPI reset.
            let stopper = self.controller
            let acpiPower = ACPIPowerManagement(onPowerOff: { stopper.requestStop(.powerOff) },
                                                onReset: { stopper.requestStop(.reset) })
            try pio.register(acpiPower, name: "acpi-pm", base: UInt64(ACPIPowerManagement.defaultBasePort),
                             length: ACPIPowerManagement.portSpan)
        } catch let error as BusError {
            throw .bus(error)
        } catch let error as PCMachineError {
            throw error
        } catch {
            throw .unsupportedBoard("\(error)")
        }
        do {
            for (index, (device, slot)) in zip(config.virtio, image.virtioSlots).enumerated() {
                let name = "virtio-mmio\(index)"
                let tracer = config.traceVirtio?.tracer(for: device, transportName: name, sink: config.traceSink)
                let transport = VirtioMMIOTransport(device: device, memory: memory,
                                                    line: KVMInterruptLine(machine: machine, number: slot.irq),
                                                    name: name, tracer: tracer)
                transport.offloadQueues(ioEvents: machine, base: slot.range.start.raw)
                try mmio.register(transport, name: name, base: slot.range.start.raw, length: transport.length)
            }
            if let windows = board.pci {
                try Self.buildPCI(windows, image: image, machine: machine, memory: memory, pio: &pio, mmio: &mmio)
            }
        } catch let error as BusError {
            throw .bus(error)
        } catch let error as PCIError {
            throw .pci(error)
        } catch {
            throw .unsupportedBoard("\(error)")
        }
        buses = IOBuses(pio: pio, mmio: mmio)
        console = consoleUART
    }

    /// PCI configuration mechanism #1: address at 0xCF8, data at 0xCFC.
    static let pciConfigPorts: UInt64 = 0xCF8
    static let pciConfigPortCount: UInt64 = 8

    /// The PCI root of the board: a host bridge at 00:00.0, each virtio-pci
    /// device at its `image.pciDevices` number with MSI-X through KVM and
    /// INTA on the board's INTx line, configuration through ports
    /// 0xCF8-0xCFF and ECAM, and the BAR windows on the buses.
    static func buildPCI(_ windows: PCIWindows, image: PCGuestImage, machine: KVMMachine, memory: GuestMemory,
                         pio: inout Bus, mmio: inout Bus) throws {
        let config = image.config
        let root = PCIRoot(windows: windows)
        // MSI-X through irqfds; the IOAPIC's pins keep KVM's default routes.
        let msi = KVMIrqfdMSIController(machine: machine, legacyGSIs: config.board.interruptController.lineCount)
        try root.attach(PCIHostBridge(), at: PCIDeviceAddress(device: 0))
        for (index, (device, number)) in zip(config.virtio, image.pciDevices).enumerated() {
            let name = "virtio-pci\(index)"
            let tracer = config.traceVirtio?.tracer(for: device, transportName: name, sink: config.traceSink)
            let intx = windows.intxIRQ(device: number, pin: 1).map { KVMInterruptLine(machine: machine, number: $0) }
            let transport = VirtioPCITransport(device: device, memory: memory, msi: msi, intx: intx,
                                               name: name, tracer: tracer)
            transport.offloadQueues(ioEvents: machine)
            try root.attach(transport, at: PCIDeviceAddress(device: UInt8(number)))
        }
        try pio.register(PCIConfigPorts(root: root), name: "pci-config", base: Self.pciConfigPorts,
                         length: Self.pciConfigPortCount)
        try mmio.register(root.ecam, name: "pci-ecam", base: windows.ecam.start.raw, length: windows.ecam.size)
        try mmio.register(root.mmio32Window, name: "pci-mmio32", base: windows.mmio32.start.raw,
                          length: windows.mmio32.size)
        if let window = root.mmio64Window, let range = windows.mmio64 {
            try mmio.register(window, name: "pci-mmio64", base: range.start.raw, length: range.size)
        }
        if let window = root.ioWindow, let ports = windows.ioPorts {
            try pio.register(window, name: "pci-io", base: UInt64(ports.start), length: UInt64(ports.count))
        }
    }

    /// Long mode with identity paging, flat segments from lkvm's GDT, RSI at
    /// the zero page: the state the 64-bit boot protocol asks for.
    static func enterLongMode(_ vcpu: KVMVCPU, state: LongModeLayout.CPUState, entry: GuestAddress) throws(HypervisorError) {
        var sregs = try vcpu.specialRegisters()
        let code = kvmSegment(state.code), data = kvmSegment(state.data)
        sregs.cs = code
        sregs.ds = data; sregs.es = data; sregs.fs = data; sregs.gs = data; sregs.ss = data
        sregs.tr = kvmSegment(state.tss)
        sregs.gdt.base = state.gdtBase
        sregs.gdt.limit = state.gdtLimit
        sregs.cr0 = state.cr0
        sregs.cr3 = state.cr3
        sregs.cr4 = state.cr4
        sregs.efer = state.efer
        try vcpu.setSpecialRegisters(sregs)
        var regs = kvm_regs()
        regs.rflags = 0x2
        regs.rip = entry.raw
        regs.rsi = LongModeLayout.zeroPageAddress.raw
        try vcpu.setRegisters(regs)
    }

    static func kvmSegment(_ d: SegmentDescriptor) -> kvm_segment {
        var s = kvm_segment()
        s.base = d.base
        s.limit = d.limit
        s.selector = d.selector
        s.type = d.type
        s.present = d.present ? 1 : 0
        s.dpl = d.dpl
        s.db = d.db ? 1 : 0
        s.s = d.s ? 1 : 0
        s.l = d.l ? 1 : 0
        s.g = d.granularity ? 1 : 0
        s.avl = d.avl ? 1 : 0
        return s
    }

    /// Runs the guest until it stops; returns why.
    public func run() -> StopReason {
        VMRunner.run(vcpus: vcpus, buses: buses, controller: controller)
    }
}
#endif
