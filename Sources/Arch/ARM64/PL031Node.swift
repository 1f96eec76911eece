import LKVMCore

/// A PL031 real-time clock ("arm,pl031" on the AMBA bus).
struct PL031Node: FDTNodeWriter {
    let spec: MMIODeviceSpec

    func writeNode(to fdt: inout FDTWriter) throws(FDTError) {
        try fdt.beginNode("pl031@" + FDTCells.unitAddress(spec.range.start))
        try fdt.property("compatible", strings: ["arm,pl031", "arm,primecell"])
        try fdt.property("reg", cells: FDTCells.reg(spec.range))
        try fdt.property("interrupts", cells: GICInterruptSpecifier.spi(spec.irq, .levelHigh).cells)
        try fdt.property("clocks", cells: [ARM64Phandle.apbClock])
        try fdt.property("clock-names", string: "apb_pclk")
        try fdt.endNode()
    }
}
