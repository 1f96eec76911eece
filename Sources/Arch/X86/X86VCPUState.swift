#if arch(x86_64)
import CKVM
import Glibc
import LKVMCore
import LKVMKVM

/// The architectural state lkvm gives x86 vCPUs before the guest runs.
extension KVMVCPU {
    /// MSRs a freshly reset PC has that KVM leaves at zero.
    public func setBootMSRs() throws(HypervisorError) {
        let values: [(UInt32, UInt64)] = [
            (0x1A0, 1),                // IA32_MISC_ENABLE: fast strings
            (0x2FF, (1 << 11) | 6),    // MTRRdefType: MTRRs on, default write-back
        ]
        guard let buffer = ckvm_msrs_alloc(UInt32(values.count)) else { throw .invalid("out of memory for MSRs") }
        defer { free(buffer) }
        for (index, (msr, value)) in values.enumerated() {
            let entry = ckvm_msr_entry(buffer, UInt32(index))!
            entry.pointee.index = msr
            entry.pointee.data = value
        }
        let written = try fd.call("KVM_SET_MSRS", ckvm_SET_MSRS(), pointer: UnsafeMutableRawPointer(buffer))
        guard written == values.count else {
            throw .unsupported("MSR \(hex(values[Int(written)].0)) (KVM_SET_MSRS set \(written) of \(values.count))")
        }
    }

    /// x87 and SSE control words as after FNINIT / reset.
    public func setInitialFPU() throws(HypervisorError) {
        var fpu = kvm_fpu()
        fpu.fcw = 0x37F
        fpu.mxcsr = 0x1F80
        try fd.call("KVM_SET_FPU", ckvm_SET_FPU(), &fpu)
    }

    /// Local APIC LINT0 = ExtINT (the 8259 PIC), LINT1 = NMI, as a PC BIOS leaves them.
    public func setupLocalAPIC() throws(HypervisorError) {
        var lapic = kvm_lapic_state()
        try fd.call("KVM_GET_LAPIC", ckvm_GET_LAPIC(), &lapic)
        let lint0: UInt32 = 0x350, lint1: UInt32 = 0x360
        let deliveryModeMask: UInt32 = 0x700, extINT: UInt32 = 0x700, nmi: UInt32 = 0x400
        ckvm_lapic_set(&lapic, lint0, (ckvm_lapic_get(&lapic, lint0) & ~deliveryModeMask) | extINT)
        ckvm_lapic_set(&lapic, lint1, (ckvm_lapic_get(&lapic, lint1) & ~deliveryModeMask) | nmi)
        try fd.call("KVM_SET_LAPIC", ckvm_SET_LAPIC(), &lapic)
    }

    public func registers() throws(HypervisorError) -> kvm_regs {
        var regs = kvm_regs()
        try fd.call("KVM_GET_REGS", ckvm_GET_REGS(), &regs)
        return regs
    }

    public func setRegisters(_ regs: kvm_regs) throws(HypervisorError) {
        var copy = regs
        try fd.call("KVM_SET_REGS", ckvm_SET_REGS(), &copy)
    }

    public func specialRegisters() throws(HypervisorError) -> kvm_sregs {
        var sregs = kvm_sregs()
        try fd.call("KVM_GET_SREGS", ckvm_GET_SREGS(), &sregs)
        return sregs
    }

    public func setSpecialRegisters(_ sregs: kvm_sregs) throws(HypervisorError) {
        var copy = sregs
        try fd.call("KVM_SET_SREGS", ckvm_SET_SREGS(), &copy)
    }
}

/// Register dump for fatal exits: general registers, control registers, CS.
public enum X86RegisterDump {
    public static func format(_ vcpu: KVMVCPU) -> String {
        guard let r = try? vcpu.registers(), let s = try? vcpu.specialRegisters() else {
            return "vCPU \(vcpu.id): registers unavailable"
        }
        func h(_ v: UInt64) -> String {
            let digits = String(v, radix: 16)
            return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
        }
        return """
        vCPU \(vcpu.id) registers:
          rip \(h(r.rip))  rsp \(h(r.rsp))  rflags \(h(r.rflags))
          rax \(h(r.rax))  rbx \(h(r.rbx))  rcx \(h(r.rcx))  rdx \(h(r.rdx))
          rsi \(h(r.rsi))  rdi \(h(r.rdi))  rbp \(h(r.rbp))  r8  \(h(r.r8))
          r9  \(h(r.r9))  r10 \(h(r.r10))  r11 \(h(r.r11))  r12 \(h(r.r12))
          r13 \(h(r.r13))  r14 \(h(r.r14))  r15 \(h(r.r15))
          cr0 \(h(s.cr0))  cr2 \(h(s.cr2))  cr3 \(h(s.cr3))  cr4 \(h(s.cr4))  efer \(h(s.efer))
          cs  sel \(hex(s.cs.selector)) base \(h(s.cs.base)) l=\(s.cs.l) db=\(s.cs.db)  ss sel \(hex(s.ss.selector))
        """
    }
}
#endif
