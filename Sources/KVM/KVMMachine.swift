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
                           registerDump: system.hooks.registerDump)
    }

    public func setInterruptLevel(line: Int, asserted: Bool) throws(HypervisorError) {
        var level = kvm_irq_level()
        level.irq = UInt32(line)
        level.level = asserted ? 1 : 0
        try fd.call("KVM_IRQ_LINE", ckvm_IRQ_LINE(), &level)
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
