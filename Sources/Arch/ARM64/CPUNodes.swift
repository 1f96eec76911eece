/// `/cpus` with one `cpu@MPIDR` per vCPU, started through PSCI.
struct CPUNodes: FDTNodeWriter {
    let count: Int

    /// The affinity KVM gives vCPU `index` in MPIDR_EL1 (its reset value):
    /// Aff0 = index bits 0-3, Aff1 = bits 4-11, Aff2 = bits 12-19, so that 16
    /// vCPUs share a cluster the way the GICv3 SGI target lists expect.
    static func mpidrAffinity(vcpu index: Int) -> UInt32 {
        let id = UInt32(index)
        return (id & 0xF) | ((id >> 4) & 0xFF) << 8 | ((id >> 12) & 0xFF) << 16
    }

    func writeNode(to fdt: inout FDTWriter) throws(FDTError) {
        try fdt.beginNode("cpus")
        // Aff0-Aff2 fit in one cell (Aff3 is always 0 here).
        try fdt.property("#address-cells", cells: [1])
        try fdt.property("#size-cells", cells: [0])
        for index in 0..<count {
            let mpidr = Self.mpidrAffinity(vcpu: index)
            try fdt.beginNode("cpu@" + String(mpidr, radix: 16))
            try fdt.property("device_type", string: "cpu")
            try fdt.property("compatible", string: "arm,armv8")
            try fdt.property("reg", cells: [mpidr])
            try fdt.property("enable-method", string: "psci")
            try fdt.endNode()
        }
        try fdt.endNode()
    }
}
