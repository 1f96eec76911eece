import LKVMCore

/// The guest's device tree: the root node with the pieces of the machine
/// below it, each written by its own `FDTNodeWriter`.
struct ARM64DeviceTree {
    /// What the root claims to be: a generic machine described only by its tree.
    static let compatible = "linux,dummy-virt"

    let board: Board
    let gic: GICv3Spec
    let ram: [GuestRange]
    let cpus: Int
    let bootargs: String
    let initrd: GuestRange?
    /// The virtio-mmio slots in use, one per virtio device over mmio.
    let virtioSlots: [(range: GuestRange, irq: Int)]
    let seed: [UInt8]?

    /// The console UART's node path: the first PL011, else the first MMIO 8250.
    var stdoutPath: String? {
        let uarts = board.devices.compactMap { device -> String? in
            if case .pl011(let spec) = device { return "/" + PL011Node(spec: spec).nodeName }
            return nil
        } + board.devices.compactMap { device -> String? in
            if case .uart8250(let spec) = device, case .mmio(let range) = spec.location {
                return "/" + UART8250Node(range: range, irq: spec.irq).nodeName
            }
            return nil
        }
        return uarts.first
    }

    /// Every node below the root, in the order they appear.
    var writers: [any FDTNodeWriter] {
        var writers: [any FDTNodeWriter] = [
            ChosenNode(bootargs: bootargs, stdoutPath: stdoutPath, initrd: initrd, seed: seed),
            MemoryNodes(ram: ram), CPUNodes(count: cpus), PSCINode(), ArmTimerNode(), GICv3Node(spec: gic),
            APBClockNode(),
        ]
        for device in board.devices {
            switch device {
            case .pl011(let spec): writers.append(PL011Node(spec: spec))
            case .pl031(let spec): writers.append(PL031Node(spec: spec))
            case .uart8250(let spec):
                if case .mmio(let range) = spec.location { writers.append(UART8250Node(range: range, irq: spec.irq)) }
            case .i8042, .cmosRTC: break  // x86 only: the board parser refuses them on arm64
            }
        }
        writers += virtioSlots.map { VirtioMMIONode(range: $0.range, irq: $0.irq) }
        if let pci = board.pci { writers.append(PCIHostNode(windows: pci, hasITS: gic.its != nil)) }
        return writers
    }

    func build() throws(FDTError) -> [UInt8] {
        var fdt = try FDTWriter()
        try fdt.beginNode("")
        try fdt.property("compatible", string: Self.compatible)
        try fdt.property("model", string: "lkvm \(board.name)")
        try fdt.property("#address-cells", cells: [2])
        try fdt.property("#size-cells", cells: [2])
        try fdt.property("interrupt-parent", cells: [ARM64Phandle.gic])
        for writer in writers { try writer.writeNode(to: &fdt) }
        try fdt.endNode()
        return try fdt.finish()
    }
}
