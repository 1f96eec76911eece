import LKVMCore

/// An arm64 boot worked out without KVM: the parsed Image, where it and the
/// initrd and device tree go, the device tree's bytes, and which slot each
/// virtio device takes. The KVM backend maps `ram`, calls `load(into:)`, and
/// starts vCPU 0 at `entry` with x0 = `deviceTreeAddress` (x1-x3 = 0);
/// secondaries wait powered off for PSCI CPU_ON.
public struct ARM64BootPlan {
    /// lkvm's own parameters: reboot at once after a panic (a PSCI reset lkvm sees).
    public static let defaultParams = "panic=-1"
    /// PCI device numbers on bus 0; device 0 is the host bridge.
    public static let pciDevicesPerBus = 32

    public let config: ARM64MachineConfig
    public let image: ARM64Image
    public let layout: ARM64BootLayout
    /// The guest-physical RAM ranges to map.
    public let ram: [GuestRange]
    public let commandLine: String
    public let deviceTree: [UInt8]
    /// The board's virtio-mmio slot of each of `config.virtio`, in order (none over PCI).
    public let virtioSlots: [(range: GuestRange, irq: Int)]
    /// The PCI device number on bus 0 of each of `config.virtio` over PCI (none over mmio).
    public let pciDevices: [Int]

    /// The kernel's first instruction: the load address itself.
    public var entry: GuestAddress { layout.kernelLoad }
    public var deviceTreeAddress: GuestAddress { layout.deviceTree }
    public var initrd: GuestRange? { layout.initrd }

    public init(config: ARM64MachineConfig) throws(ARM64MachineError) {
        self.config = config
        let board = config.board
        guard board.architecture == .arm64, case .gicv3(let gic) = board.interruptController else {
            throw .unsupportedBoard("\(board.fileName): an arm64 guest needs an arm64 board with a gicv3 interrupt controller")
        }
        do { try board.validate(ramMiB: config.memMiB, cpus: config.cpus) } catch { throw .board(error) }
        (virtioSlots, pciDevices) = try Self.assignVirtio(config)
        do { image = try ARM64Image(config.kernel) } catch { throw .image(error) }
        do { ram = try board.ram.ranges(forMiB: config.memMiB) } catch { throw .board(error) }
        let initrdSize = config.initrd.map { UInt64($0.count) }
        do { layout = try ARM64BootLayout(ram: ram, image: image, initrdSize: initrdSize) } catch { throw .layout(error) }
        let tree = ARM64DeviceTree(board: board, gic: gic, ram: ram, cpus: config.cpus, bootargs: "", initrd: nil,
                                   virtioSlots: [], seed: nil)
        commandLine = [Self.consoleParams(config, uartPath: tree.stdoutPath), Self.defaultParams, config.params]
            .filter { !$0.isEmpty }.joined(separator: " ")
        do {
            deviceTree = try ARM64DeviceTree(board: board, gic: gic, ram: ram, cpus: config.cpus, bootargs: commandLine,
                                             initrd: layout.initrd, virtioSlots: virtioSlots, seed: config.seed).build()
        } catch { throw .deviceTree(error) }
    }

    /// Copies the kernel, initrd and device tree into guest RAM.
    public func load(into memory: GuestMemory) throws(ARM64MachineError) {
        do {
            try memory.write(image.bytes, at: layout.kernelLoad)
            if let initrd = layout.initrd, let bytes = config.initrd { try memory.write(bytes, at: initrd.start) }
            try memory.write(deviceTree, at: layout.deviceTree)
        } catch { throw .memory(error) }
    }

    /// console= for the board's UART (ttyAMA0 for a PL011, ttyS0 for an 8250)
    /// or hvc0, unless the user gave their own console=.
    static func consoleParams(_ config: ARM64MachineConfig, uartPath: String?) -> String {
        if config.params.split(separator: " ").contains(where: { $0.hasPrefix("console=") }) { return "" }
        var params: [String] = []
        if let uartPath { params.append(uartPath.hasPrefix("/pl011@") ? "console=ttyAMA0" : "console=ttyS0") }
        if config.virtioConsole { params.append("console=hvc0") }
        return params.joined(separator: " ")
    }

    private static func assignVirtio(_ config: ARM64MachineConfig)
        throws(ARM64MachineError) -> ([(range: GuestRange, irq: Int)], [Int]) {
        let board = config.board
        let count = config.virtio.count
        guard count > 0 else { return ([], []) }
        switch config.virtioTransport {
        case .pci:
            guard board.pci != nil else {
                throw .unsupportedBoard("\(board.fileName): no [pci] windows for virtio-pci devices; use --virtio-transport mmio")
            }
            guard count < pciDevicesPerBus else {
                throw .unsupportedBoard("\(count) virtio devices: PCI bus 0 has room for \(pciDevicesPerBus - 1)")
            }
            return ([], (1...count).map { $0 })
        case .mmio:
            guard let window = board.virtioMMIO else {
                throw .unsupportedBoard("\(board.fileName): no [virtio_mmio] window for virtio devices")
            }
            guard count <= window.count else {
                throw .unsupportedBoard("\(board.fileName): \(count) virtio devices, but virtio_mmio.count is \(window.count)")
            }
            return ((0..<count).compactMap { window.slot($0) }, [])
        }
    }
}
