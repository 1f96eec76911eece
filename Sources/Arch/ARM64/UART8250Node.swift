import LKVMCore

/// A 16550-compatible UART on MMIO ("ns16550a"), byte-wide registers one
/// byte apart: Linux's ttyS0 through the 8250 OF driver.
struct UART8250Node: FDTNodeWriter {
    /// The classic 1.8432 MHz UART crystal: divisors then mean the usual baud rates.
    static let clockFrequency: UInt32 = 1_843_200

    let range: GuestRange
    let irq: Int

    var nodeName: String { "serial@" + FDTCells.unitAddress(range.start) }

    func writeNode(to fdt: inout FDTWriter) throws(FDTError) {
        try fdt.beginNode(nodeName)
        try fdt.property("compatible", string: "ns16550a")
        try fdt.property("reg", cells: FDTCells.reg(range))
        try fdt.property("interrupts", cells: GICInterruptSpecifier.spi(irq, .levelHigh).cells)
        try fdt.property("clock-frequency", cells: [Self.clockFrequency])
        try fdt.endNode()
    }
}
