/// What `lkvm debug` needs from a stopped vCPU besides its register dump:
/// where it is, and a register that gives away where the kernel was placed.
public struct VCPUDebugState: Equatable, Sendable {
    public let instructionPointer: UInt64
    /// A kernel symbol whose run-time address a register holds (x86 LSTAR =
    /// entry_SYSCALL_64, arm64 VBAR_EL1 = vectors): with the symbol's link
    /// address it gives the KASLR slide.
    public let anchorSymbol: String
    public let anchorValue: UInt64

    public init(instructionPointer: UInt64, anchorSymbol: String, anchorValue: UInt64) {
        self.instructionPointer = instructionPointer
        self.anchorSymbol = anchorSymbol
        self.anchorValue = anchorValue
    }
}

extension VirtualCPU {
    public func debugState() -> VCPUDebugState? { nil }
    public func injectNMI() throws(HypervisorError) { throw .unsupported("injecting an NMI") }
}
