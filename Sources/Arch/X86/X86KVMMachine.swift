#if arch(x86_64)
import CKVM
import LKVMCore
import LKVMKVM

extension KVMArchHooks {
    public static let x86 = KVMArchHooks(machineType: 0, registerDump: X86RegisterDump.format,
                                         debugState: X86DebugState.read, injectNMI: { vcpu throws(HypervisorError) in
                                             _ = try vcpu.fd.call("KVM_NMI", ckvm_NMI(), value: 0)
                                         })
}

extension KVMMachine {
    /// In-kernel PIC + IOAPIC + LAPICs and the PIT (with port 0x61 handled in
    /// the kernel too), so the timer and interrupt paths never exit to lkvm.
    /// Must run before any vCPU is created.
    public func createX86InterruptControllers() throws(HypervisorError) {
        // Intel VMX needs a 3-page TSS area and an identity-map page below 4 GiB
        // out of the guest's way; just below the IOAPIC/BIOS area as usual.
        try fd.call("KVM_SET_IDENTITY_MAP_ADDR", ckvm_SET_IDENTITY_MAP_ADDR(), &Self.identityMapAddress)
        try fd.call("KVM_SET_TSS_ADDR", ckvm_SET_TSS_ADDR(), value: UInt(Self.identityMapAddress + 0x1000))
        try fd.call("KVM_CREATE_IRQCHIP", ckvm_CREATE_IRQCHIP())
        var pit = kvm_pit_config()
        pit.flags = UInt32(KVM_PIT_SPEAKER_DUMMY)
        try fd.call("KVM_CREATE_PIT2", ckvm_CREATE_PIT2(), &pit)
    }

    nonisolated(unsafe) static var identityMapAddress: UInt64 = 0xFEFF_C000
}
#endif
