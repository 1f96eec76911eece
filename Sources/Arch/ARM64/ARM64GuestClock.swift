import CKVM
import LKVMCore
import LKVMKVM
import Synchronization

/// Stops the guest's virtual counter while the VM is paused: CNTVCT_EL0
/// (KVM_REG_ARM_TIMER_CNT) is read at pause and written back to every vCPU at
/// resume, which moves KVM's virtual counter offset by the paused time (as
/// QEMU does across a stop). Called only while every vCPU is parked.
public final class ARM64GuestClock: GuestClockFreezer {
    /// KVM_REG_ARM_TIMER_CNT: CNTVCT_EL0, op0=3 op1=3 CRn=14 CRm=3 op2=2.
    static let timerCount = ckvm_arm64_sysreg(3, 3, 14, 3, 2)
    private let vcpus: [KVMVCPU]
    private let frozen = Mutex<UInt64?>(nil)

    public init(vcpus: [KVMVCPU]) { self.vcpus = vcpus }

    public func freeze() {
        // Fails only if KVM lacks the register: the counter then runs on.
        guard let count = try? vcpus.first?.oneRegister(Self.timerCount) else { return }
        frozen.withLock { $0 = count }
    }

    public func thaw() {
        guard let count = frozen.withLock({ value -> UInt64? in defer { value = nil }; return value }) else { return }
        for vcpu in vcpus { try? vcpu.setOneRegister(Self.timerCount, count) }
    }
}
