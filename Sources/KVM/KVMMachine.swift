import CKVM
import Glibc
import LKVMCore
import Synchronization

/// One KVM virtual machine.
public final class KVMMachine: VirtualMachine {
    public let fd: KVMFileDescriptor
    public let system: KVMSystem
    /// Memory handed to KVM must outlive the VM: keep it referenced.
    private let mappedMemory = Mutex<[GuestMemory]>([])
    private let nextSlot = Mutex<UInt32>(0)

    init(system: KVMSystem, fd: KVMFileDescriptor) {
        self.system = system
        self.fd = fd
    }

    deinit { fd.close() }

    public func map(_ memory: GuestMemory) throws(HypervisorError) {
        for mapping in memory.hostMappings {
            let slot = nextSlot.withLock { slot in
                defer { slot += 1 }
                return slot
            }
            var region = kvm_userspace_memory_region(
                slot: slot, flags: 0, guest_phys_addr: mapping.guest.start.raw,
                memory_size: mapping.guest.size, userspace_addr: mapping.hostAddress)
            try fd.call("KVM_SET_USER_MEMORY_REGION", ckvm_SET_USER_MEMORY_REGION(), &region)
        }
        mappedMemory.withLock { $0.append(memory) }
    }

    public func createVCPU(id: Int) throws(HypervisorError) -> KVMVCPU {
        guard id >= 0, id < system.maxVCPUs else {
            throw .invalid("vCPU \(id) is beyond the \(system.maxVCPUs) this host's KVM allows")
        }
        let raw = try fd.call("KVM_CREATE_VCPU", ckvm_CREATE_VCPU(), value: UInt(id))
        return try KVMVCPU(id: id, fd: KVMFileDescriptor(raw), mapSize: system.vcpuMapSize,
                           hooks: system.hooks)
    }

    public func setInterruptLevel(line: Int, asserted: Bool) throws(HypervisorError) {
        var level = kvm_irq_level()
        level.irq = UInt32(line)
        level.level = asserted ? 1 : 0
        try fd.call("KVM_IRQ_LINE", ckvm_IRQ_LINE(), &level)
    }
}

extension KVMMachine: MSIController {
    /// KVM_SIGNAL_MSI: KVM decodes the message as the guest's interrupt
    /// controller would (LAPIC destination and vector on x86, ITS on arm64).
    /// A message the guest blocked (returns 0) is the guest's business.
    public func signalMSI(_ message: MSIMessage) {
        var msi = kvm_msi()
        msi.address_lo = UInt32(truncatingIfNeeded: message.address)
        msi.address_hi = UInt32(truncatingIfNeeded: message.address >> 32)
        msi.data = message.data
        if let deviceID = message.deviceID {
            msi.flags = UInt32(KVM_MSI_VALID_DEVID)
            msi.devid = deviceID
        }
        // Fails only for a malformed message (reserved bits), which the
        // guest wrote; there is nobody to report it to.
        _ = try? fd.call("KVM_SIGNAL_MSI", ckvm_SIGNAL_MSI(), &msi)
    }
}

/// An interrupt input of KVM's in-kernel interrupt controller.
public struct KVMInterruptLine: InterruptLine {
    let machine: KVMMachine
    let number: Int

    public init(machine: KVMMachine, number: Int) {
        self.machine = machine
        self.number = number
    }

    public func setLevel(_ asserted: Bool) {
        // KVM_IRQ_LINE fails only for an invalid line, which the board validated.
        try? machine.setInterruptLevel(line: number, asserted: asserted)
    }
}
