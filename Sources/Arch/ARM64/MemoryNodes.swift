import LKVMCore

/// One `memory@BASE` node per RAM range the board lays out.
struct MemoryNodes: FDTNodeWriter {
    let ram: [GuestRange]

    func writeNode(to fdt: inout FDTWriter) throws(FDTError) {
        for range in ram {
            try fdt.beginNode("memory@" + FDTCells.unitAddress(range.start))
            try fdt.property("device_type", string: "memory")
            try fdt.property("reg", cells: FDTCells.reg(range))
            try fdt.endNode()
        }
    }
}
