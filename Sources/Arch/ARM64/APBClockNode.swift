/// The fixed 24 MHz clock the PrimeCell devices (PL011, PL031) name as
/// their bus clock: the AMBA bus driver will not probe them without one.
struct APBClockNode: FDTNodeWriter {
    static let frequency: UInt32 = 24_000_000

    func writeNode(to fdt: inout FDTWriter) throws(FDTError) {
        try fdt.beginNode("apb-pclk")
        try fdt.property("compatible", string: "fixed-clock")
        try fdt.property("#clock-cells", cells: [0])
        try fdt.property("clock-frequency", cells: [Self.frequency])
        try fdt.property("clock-output-names", string: "clk24mhz")
        try fdt.property("phandle", cells: [ARM64Phandle.apbClock])
        try fdt.endNode()
    }
}
