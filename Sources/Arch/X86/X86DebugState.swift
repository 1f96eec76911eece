#if arch(x86_64)
import CKVM
import Glibc
import LKVMCore
import LKVMKVM

/// RIP and LSTAR for `lkvm debug`: Linux points LSTAR at entry_SYSCALL_64,
/// which gives away a KASLR kernel's slide.
enum X86DebugState {
    static let lstar: UInt32 = 0xC000_0082

    @Sendable static func read(_ vcpu: KVMVCPU) -> VCPUDebugState? {
        guard let regs = try? vcpu.registers() else { return nil }
        return VCPUDebugState(instructionPointer: regs.rip, anchorSymbol: "entry_SYSCALL_64",
                              anchorValue: (try? vcpu.readMSR(lstar)) ?? 0)
    }
}

extension KVMVCPU {
    /// One MSR through KVM_GET_MSRS.
    public func readMSR(_ index: UInt32) throws(HypervisorError) -> UInt64 {
        guard let buffer = ckvm_msrs_alloc(1) else { throw .invalid("out of memory for MSRs") }
        defer { free(buffer) }
        ckvm_msr_entry(buffer, 0)!.pointee.index = index
        let read = try fd.call("KVM_GET_MSRS", ckvm_GET_MSRS(), pointer: UnsafeMutableRawPointer(buffer))
        guard read == 1 else { throw .unsupported("reading MSR \(hex(UInt64(index)))") }
        return ckvm_msr_entry(buffer, 0)!.pointee.data
    }
}
#endif
