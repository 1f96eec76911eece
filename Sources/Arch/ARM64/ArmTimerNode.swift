/// The architected timer ("arm,armv8-timer"): its four PPIs in the binding's
/// order, secure physical (INTID 29), non-secure physical (30), virtual (27)
/// and hypervisor (26), level-triggered as KVM raises them.
struct ArmTimerNode: FDTNodeWriter {
    static let ppis = [13, 14, 11, 10]

    func writeNode(to fdt: inout FDTWriter) throws(FDTError) {
        try fdt.beginNode("timer")
        try fdt.property("compatible", string: "arm,armv8-timer")
        try fdt.property("interrupts", cells: Self.ppis.flatMap { GICInterruptSpecifier.ppi($0, .levelHigh).cells })
        // The counter runs while vCPUs are idle: Linux need not look for a broadcast timer.
        try fdt.property("always-on")
        try fdt.endNode()
    }
}
