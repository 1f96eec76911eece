import LKVMCore
import LKVMDevices

/// The devices of an arm64 machine on its MMIO bus, built from the boot
/// plan without a hypervisor: the board's UARTs and RTC, the plan's
/// virtio-mmio slots, and the PCI root (ECAM and BAR windows; no config
/// ports on arm64) with virtio-pci functions. Interrupt lines come from
/// `line(spi)`; MSIs go to `msi` with the function's requester ID as the
/// ITS device ID (the device tree's msi-map is the identity). Each virtio
/// transport serves its queues on a worker thread, woken straight by KVM
/// through `ioEvents` (ioeventfd on the notify address) when given.
public struct ARM64DeviceLayout {
    public let mmio: Bus
    /// The console UART (the first PL011, else the first 8250), for stdin.
    public let consoleUART: (any ConsoleReceiver)?
    public let pciRoot: PCIRoot?

    public init(plan: ARM64BootPlan, memory: GuestMemory, output: any ConsoleOutput,
                line: (Int) -> any InterruptLine, msi: any MSIController,
                ioEvents: (any IOEventRegistry)? = nil) throws(ARM64MachineError) {
        let config = plan.config
        var mmio = Bus(kind: "MMIO")
        var pl011: PL011?
        var uart8250: Serial8250?
        do {
            for (index, device) in config.board.devices.enumerated() {
                switch device {
                case .pl011(let spec):
                    let uart = PL011(interrupt: line(spec.irq), output: output)
                    try mmio.register(uart, name: "pl011@\(index)", base: spec.range.start.raw, length: spec.range.size)
                    if pl011 == nil { pl011 = uart }
                case .pl031(let spec):
                    try mmio.register(PL031(interrupt: line(spec.irq)), name: "pl031",
                                      base: spec.range.start.raw, length: spec.range.size)
                case .uart8250(let spec):
                    guard case .mmio(let range) = spec.location else {
                        throw ARM64MachineError.unsupportedBoard(
                            "\(config.board.fileName): devices[\(index)]: an arm64 8250 UART needs an MMIO address")
                    }
                    let uart = Serial8250(interrupt: line(spec.irq), output: output)
                    try mmio.register(uart, name: "uart8250@\(index)", base: range.start.raw, length: range.size)
                    if uart8250 == nil { uart8250 = uart }
                case .i8042, .cmosRTC:
                    throw ARM64MachineError.unsupportedBoard(
                        "\(config.board.fileName): devices[\(index)]: \(device.kind) is an x86 device")
                }
            }
            for (index, (device, slot)) in zip(config.virtio, plan.virtioSlots).enumerated() {
                let name = "virtio-mmio\(index)"
                let tracer = config.traceVirtio?.tracer(for: device, transportName: name, sink: config.traceSink)
                let transport = VirtioMMIOTransport(device: device, memory: memory, line: line(slot.irq),
                                                    name: name, tracer: tracer)
                transport.offloadQueues(ioEvents: ioEvents, base: slot.range.start.raw)
                try mmio.register(transport, name: name, base: slot.range.start.raw, length: transport.length)
            }
            pciRoot = try config.board.pci.map { windows throws in
                try Self.buildPCI(windows, plan: plan, memory: memory, line: line, msi: msi, ioEvents: ioEvents,
                                  mmio: &mmio)
            }
        } catch let error as BusError {
            throw .bus(error)
        } catch let error as PCIError {
            throw .pci(error)
        } catch let error as ARM64MachineError {
            throw error
        } catch {
            throw .unsupportedBoard("\(error)")
        }
        self.mmio = mmio
        consoleUART = pl011 ?? uart8250
    }

    /// The requester ID of device `number` on bus 0, function 0: what the
    /// ITS sees as the device ID.
    public static func requesterID(device number: Int) -> UInt32 { UInt32(number) << 3 }

    private static func buildPCI(_ windows: PCIWindows, plan: ARM64BootPlan, memory: GuestMemory,
                                 line: (Int) -> any InterruptLine, msi: any MSIController,
                                 ioEvents: (any IOEventRegistry)?, mmio: inout Bus) throws -> PCIRoot {
        let config = plan.config
        let root = PCIRoot(windows: windows)
        try root.attach(PCIHostBridge(), at: PCIDeviceAddress(device: 0))
        for (index, (device, number)) in zip(config.virtio, plan.pciDevices).enumerated() {
            let name = "virtio-pci\(index)"
            let tracer = config.traceVirtio?.tracer(for: device, transportName: name, sink: config.traceSink)
            let intx = windows.intxIRQ(device: number, pin: 1).map { line($0) }
            let transport = VirtioPCITransport(device: device, memory: memory, msi: msi,
                                               msiDeviceID: requesterID(device: number), intx: intx,
                                               name: name, tracer: tracer)
            transport.offloadQueues(ioEvents: ioEvents)
            try root.attach(transport, at: PCIDeviceAddress(device: UInt8(number)))
        }
        try mmio.register(root.ecam, name: "pci-ecam", base: windows.ecam.start.raw, length: windows.ecam.size)
        try mmio.register(root.mmio32Window, name: "pci-mmio32", base: windows.mmio32.start.raw,
                          length: windows.mmio32.size)
        if let window = root.mmio64Window, let range = windows.mmio64 {
            try mmio.register(window, name: "pci-mmio64", base: range.start.raw, length: range.size)
        }
        return root
    }
}
