import LKVMCore

/// A PL011 UART ("arm,pl011" on the AMBA bus): Linux's ttyAMA0.
struct PL011Node: FDTNodeWriter {
    let spec: MMIODeviceSpec

    var nodeName: String { "pl011@" + FDTCells.unitAddress(spec.range.start) }

    func writeNode(to fdt: inout FDTWriter) throws(FDTError) {
        try fdt.beginNode(nodeName)
        try fdt.property("compatible", strings: ["arm,pl011", "arm,primecell"])
        try fdt.property("reg", cells: FDTCells.reg(spec.range))
        try fdt.property("interrupts", cells: GICInterruptSpecifier.spi(spec.irq, .levelHigh).cells)
        // The driver wants the UART clock first, then the bus clock; one clock serves both.
        try fdt.property("clocks", cells: [ARM64Phandle.apbClock, ARM64Phandle.apbClock])
        try fdt.property("clock-names", strings: ["uartclk", "apb_pclk"])
        try fdt.endNode()
    }
}
