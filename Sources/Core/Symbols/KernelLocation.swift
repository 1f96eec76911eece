/// Where a stopped vCPU is, in the kernel's own terms, for `lkvm debug`.
public enum KernelLocation {
    /// `ip 0xffffffff9a2f1c4e = default_idle+0xe/0x20 (KASLR slide 0x19000000)`.
    /// Without symbols, or outside the kernel's text, says so instead.
    public static func describe(_ state: VCPUDebugState, symbols: KernelSymbolTable?) -> String {
        let ip = "ip 0x" + String(state.instructionPointer, radix: 16)
        guard let symbols, !symbols.isEmpty else {
            return ip + " (no kernel symbols: pass --symbols vmlinux or System.map to lkvm run)"
        }
        // Before the guest sets the anchor register (early boot) or with a
        // kernel that was not relocated, link addresses are run addresses.
        let slide = symbols.slide(anchor: state.anchorSymbol, runningAt: state.anchorValue) ?? 0
        let linked = state.instructionPointer &- slide
        let slideText: String
        if slide == 0 {
            slideText = ""
        } else if slide >> 63 == 0 {
            slideText = " (KASLR slide 0x\(String(slide, radix: 16)))"
        } else {
            slideText = " (KASLR slide -0x\(String(0 &- slide, radix: 16)) from the symbols' addresses)"
        }
        guard let name = symbols.describe(linked) else { return ip + " (not in the kernel's text)" + slideText }
        return ip + " = " + name + slideText
    }
}
