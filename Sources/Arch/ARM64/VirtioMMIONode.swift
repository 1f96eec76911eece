import LKVMCore

/// One virtio-mmio device slot ("virtio,mmio"). Its interrupt is
/// edge-rising, as Linux's virtio_mmio driver requests it; guest memory is
/// coherent with the device (lkvm reads it directly).
struct VirtioMMIONode: FDTNodeWriter {
    let range: GuestRange
    let irq: Int

    func writeNode(to fdt: inout FDTWriter) throws(FDTError) {
        try fdt.beginNode("virtio_mmio@" + FDTCells.unitAddress(range.start))
        try fdt.property("compatible", string: "virtio,mmio")
        try fdt.property("reg", cells: FDTCells.reg(range))
        try fdt.property("interrupts", cells: GICInterruptSpecifier.spi(irq, .edgeRising).cells)
        try fdt.property("dma-coherent")
        try fdt.endNode()
    }
}
