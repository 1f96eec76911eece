/// PSCI through HVC: KVM implements it in the kernel (CPU_ON for
/// secondaries, SYSTEM_OFF and SYSTEM_RESET become exits lkvm sees).
struct PSCINode: FDTNodeWriter {
    func writeNode(to fdt: inout FDTWriter) throws(FDTError) {
        try fdt.beginNode("psci")
        try fdt.property("compatible", string: "arm,psci-0.2")
        try fdt.property("method", string: "hvc")
        try fdt.endNode()
    }
}
