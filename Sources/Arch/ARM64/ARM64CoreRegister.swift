import CKVM

/// arm64 vCPU registers lkvm reads or sets through KVM's ONE_REG interface,
/// with their KVM register ids (arch/arm64/include/uapi/asm/kvm.h).
public enum ARM64CoreRegister: Hashable, Sendable {
    /// x0 ... x30.
    case x(Int)
    /// SP_EL0 (`regs.sp` of struct kvm_regs).
    case sp
    case pc
    case pstate
    case spEL1
    case elrEL1
    /// ESR_EL1 and FAR_EL1: why and where the guest last took an exception.
    case esrEL1
    case farEL1
    /// The exception vector base: Linux's `vectors`, a KASLR anchor for `lkvm debug`.
    case vbarEL1

    /// The KVM_GET/SET_ONE_REG id.
    public var id: UInt64 {
        switch self {
        case .x(let n):
            precondition((0...30).contains(n), "x\(n) is not an arm64 general-purpose register")
            return ckvm_arm64_reg_x(UInt32(n))
        case .sp: return ckvm_arm64_reg_sp()
        case .pc: return ckvm_arm64_reg_pc()
        case .pstate: return ckvm_arm64_reg_pstate()
        case .spEL1: return ckvm_arm64_reg_sp_el1()
        case .elrEL1: return ckvm_arm64_reg_elr_el1()
        case .esrEL1: return ckvm_arm64_sysreg(3, 0, 5, 2, 0)
        case .farEL1: return ckvm_arm64_sysreg(3, 0, 6, 0, 0)
        case .vbarEL1: return ckvm_arm64_sysreg(3, 0, 12, 0, 0)
        }
    }

    public var name: String {
        switch self {
        case .x(let n): "x\(n)"
        case .sp: "sp_el0"
        case .pc: "pc"
        case .pstate: "pstate"
        case .spEL1: "sp_el1"
        case .elrEL1: "elr_el1"
        case .esrEL1: "esr_el1"
        case .farEL1: "far_el1"
        case .vbarEL1: "vbar_el1"
        }
    }

    /// PSTATE at the kernel's entry (booting.rst): EL1h with D, A, I and F masked.
    public static let bootPSTATE: UInt64 = 0x3C5
}
