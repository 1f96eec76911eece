#if arch(x86_64)
import CKVM
import LKVMCore
import LKVMKVM
import Synchronization

/// Stops kvmclock while the VM is paused: the value read at pause is written
/// back at resume, so the guest sees no time pass (kvmtool's pause lets the
/// guest's clock jump; Linux then reports stalls and soft lockups).
public final class X86GuestClock: GuestClockFreezer {
    private let machine: KVMMachine
    private let frozen = Mutex<UInt64?>(nil)

    public init(machine: KVMMachine) { self.machine = machine }

    public func freeze() {
        var data = kvm_clock_data()
        // Fails only on hosts without kvmclock: the guest's clock then runs on.
        guard (try? machine.fd.call("KVM_GET_CLOCK", ckvm_GET_CLOCK(), &data)) != nil else { return }
        frozen.withLock { $0 = data.clock }
    }

    public func thaw() {
        guard let clock = frozen.withLock({ value -> UInt64? in defer { value = nil }; return value }) else { return }
        var data = kvm_clock_data()
        data.clock = clock
        _ = try? machine.fd.call("KVM_SET_CLOCK", ckvm_SET_CLOCK(), &data)
    }
}
#endif
