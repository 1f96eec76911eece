import LKVMCore

/// The GICv3 ("arm,gic-v3"): distributor and redistributor frames, the
/// maintenance interrupt, and the ITS ("arm,gic-v3-its") as a child when the
/// board has one, so that PCI MSIs can name it.
struct GICv3Node: FDTNodeWriter {
    /// The virtual GIC maintenance interrupt is PPI 9 (INTID 25) on KVM.
    static let maintenancePPI = 9

    let spec: GICv3Spec

    static func path(_ spec: GICv3Spec) -> String { "/intc@" + FDTCells.unitAddress(spec.distributor.start) }

    func writeNode(to fdt: inout FDTWriter) throws(FDTError) {
        try fdt.beginNode("intc@" + FDTCells.unitAddress(spec.distributor.start))
        try fdt.property("compatible", string: "arm,gic-v3")
        try fdt.property("#interrupt-cells", cells: [3])
        try fdt.property("interrupt-controller")
        // Two cells each and an identity `ranges`, so the ITS child can have a
        // root-style `reg`; interrupt-map parents then carry two address cells.
        try fdt.property("#address-cells", cells: [2])
        try fdt.property("#size-cells", cells: [2])
        try fdt.property("ranges")
        // One redistributor region, so #redistributor-regions (default 1) is left out.
        try fdt.property("reg", cells: FDTCells.reg(spec.distributor) + FDTCells.reg(spec.redistributors))
        try fdt.property("interrupts", cells: GICInterruptSpecifier.ppi(Self.maintenancePPI, .levelHigh).cells)
        try fdt.property("phandle", cells: [ARM64Phandle.gic])
        if let its = spec.its {
            try fdt.beginNode("its@" + FDTCells.unitAddress(its.start))
            try fdt.property("compatible", string: "arm,gic-v3-its")
            try fdt.property("msi-controller")
            try fdt.property("#msi-cells", cells: [1])
            try fdt.property("reg", cells: FDTCells.reg(its))
            try fdt.property("phandle", cells: [ARM64Phandle.its])
            try fdt.endNode()
        }
        try fdt.endNode()
    }
}
