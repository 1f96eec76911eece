import CKVM
import LKVMCore
import LKVMKVM

/// Brings arm64 vCPUs to their boot state: KVM_ARM_VCPU_INIT with the host's
/// preferred target and PSCI 0.2 (secondaries powered off until the guest's
/// PSCI CPU_ON, which KVM handles), then the boot CPU's registers as
/// booting.rst asks: PC at the Image, x0 = the device tree, x1-x3 = 0,
/// EL1h with DAIF masked.
enum ARM64VCPUSetup {
    static func preferredTarget(_ machine: KVMMachine) throws(HypervisorError) -> ckvm_vcpu_init {
        var target = ckvm_vcpu_init()
        try machine.fd.call("KVM_ARM_PREFERRED_TARGET", ckvm_ARM_PREFERRED_TARGET(), &target)
        return target
    }

    static func initialize(_ vcpu: KVMVCPU, preferred: ckvm_vcpu_init) throws(HypervisorError) {
        var features: UInt32 = 1 << UInt32(CKVM_ARM_VCPU_PSCI_0_2)
        if vcpu.id != 0 { features |= 1 << UInt32(CKVM_ARM_VCPU_POWER_OFF) }
        var initialization = ckvm_vcpu_init()
        initialization.target = preferred.target
        initialization.features.0 = preferred.features.0 | features
        try vcpu.fd.call("KVM_ARM_VCPU_INIT", ckvm_ARM_VCPU_INIT(), &initialization)
    }

    static func setBootRegisters(_ vcpu: KVMVCPU, entry: GuestAddress, deviceTree: GuestAddress) throws(HypervisorError) {
        try vcpu.setOneRegister(ARM64CoreRegister.pstate.id, ARM64CoreRegister.bootPSTATE)
        try vcpu.setOneRegister(ARM64CoreRegister.x(0).id, deviceTree.raw)
        for n in 1...3 { try vcpu.setOneRegister(ARM64CoreRegister.x(n).id, 0) }
        try vcpu.setOneRegister(ARM64CoreRegister.pc.id, entry.raw)
    }
}
