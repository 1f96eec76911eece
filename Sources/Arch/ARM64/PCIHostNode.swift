import LKVMCore

/// The PCI host bridge ("pci-host-ecam-generic"): ECAM config space, the
/// BAR windows as `ranges`, INTx routing as `interrupt-map` (the same
/// `PCIWindows.intxIRQ` rule the devices use) and MSIs through the ITS.
struct PCIHostNode: FDTNodeWriter {
    /// PCI address phys.hi space codes (PCI bus binding): 32-bit and 64-bit memory.
    static let memory32Space: UInt32 = 0x0200_0000
    static let memory64Space: UInt32 = 0x0300_0000
    /// Device numbers on bus 0 the interrupt-map covers: all of them.
    static let devicesPerBus = 32
    /// Requester IDs are 16 bits (bus, device, function): all map to the ITS.
    static let requesterIDCount: UInt32 = 0x10000

    let windows: PCIWindows
    let hasITS: Bool

    func writeNode(to fdt: inout FDTWriter) throws(FDTError) {
        try fdt.beginNode("pcie@" + FDTCells.unitAddress(windows.ecam.start))
        try fdt.property("compatible", string: "pci-host-ecam-generic")
        try fdt.property("device_type", string: "pci")
        try fdt.property("#address-cells", cells: [3])
        try fdt.property("#size-cells", cells: [2])
        try fdt.property("#interrupt-cells", cells: [1])
        try fdt.property("bus-range", cells: [0, UInt32(windows.busCount - 1)])
        try fdt.property("linux,pci-domain", cells: [0])
        try fdt.property("reg", cells: FDTCells.reg(windows.ecam))
        try fdt.property("ranges", cells: ranges)
        if windows.intxIRQs != nil {
            // Match on device number and pin; bus and function do not change the route.
            try fdt.property("interrupt-map-mask", cells: [0xF800, 0, 0, 7])
            try fdt.property("interrupt-map", cells: interruptMap)
        }
        if hasITS {
            try fdt.property("msi-map", cells: [0, ARM64Phandle.its, 0, Self.requesterIDCount])
        }
        try fdt.property("dma-coherent")
        try fdt.endNode()
    }

    /// Identity-mapped windows: PCI address = CPU address.
    var ranges: [UInt32] {
        var cells = Self.window(Self.memory32Space, windows.mmio32)
        if let mmio64 = windows.mmio64 { cells += Self.window(Self.memory64Space, mmio64) }
        return cells
    }

    static func window(_ space: UInt32, _ range: GuestRange) -> [UInt32] {
        [space] + FDTCells.u64(range.start.raw) + FDTCells.u64(range.start.raw) + FDTCells.u64(range.size)
    }

    /// For each device and pin INTA-INTD: child address (device in phys.hi),
    /// pin, the GIC, its two (zero) address cells, and the SPI, level-high.
    var interruptMap: [UInt32] {
        var cells: [UInt32] = []
        for device in 0..<Self.devicesPerBus {
            for pin in 1...4 {
                guard let irq = windows.intxIRQ(device: device, pin: pin) else { continue }
                cells += [UInt32(device) << 11, 0, 0, UInt32(pin), ARM64Phandle.gic, 0, 0]
                cells += GICInterruptSpecifier.spi(irq, .levelHigh).cells
            }
        }
        return cells
    }
}
