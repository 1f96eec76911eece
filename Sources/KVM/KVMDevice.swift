import CKVM
import LKVMCore

/// A device created in KVM with KVM_CREATE_DEVICE (the arm64 vGIC and ITS),
/// configured through its attributes.
public final class KVMDevice: Sendable {
    public let fd: KVMFileDescriptor
    /// Kept for error messages.
    public let name: String

    init(fd: KVMFileDescriptor, name: String) {
        self.fd = fd
        self.name = name
    }

    deinit { fd.close() }

    /// KVM_SET_DEVICE_ATTR with a 64-bit value (addresses).
    public func setAttribute(group: UInt32, attribute: UInt64, value: UInt64) throws(HypervisorError) {
        var value = value
        try set(group: group, attribute: attribute, valueSize: 8, &value)
    }

    /// KVM_SET_DEVICE_ATTR with a 32-bit value (counts such as NR_IRQS).
    public func setAttribute(group: UInt32, attribute: UInt64, value32: UInt32) throws(HypervisorError) {
        var value = value32
        try set(group: group, attribute: attribute, valueSize: 4, &value)
    }

    /// KVM_SET_DEVICE_ATTR with no value (control commands such as CTRL_INIT).
    public func setAttribute(group: UInt32, attribute: UInt64) throws(HypervisorError) {
        var attr = kvm_device_attr(flags: 0, group: group, attr: attribute, addr: 0)
        try fd.call("KVM_SET_DEVICE_ATTR(\(name) group \(group) attr \(attribute))", ckvm_SET_DEVICE_ATTR(), &attr)
    }

    private func set<T>(group: UInt32, attribute: UInt64, valueSize: Int, _ value: inout T) throws(HypervisorError) {
        precondition(MemoryLayout<T>.size == valueSize)
        // SAFETY: attr.addr points at `value`, which lives for the whole ioctl and
        // has the size KVM reads for this attribute.
        let result: Result<Void, HypervisorError> = withUnsafeMutablePointer(to: &value) { pointer in
            var attr = kvm_device_attr(flags: 0, group: group, attr: attribute, addr: UInt64(UInt(bitPattern: pointer)))
            do throws(HypervisorError) {
                try fd.call("KVM_SET_DEVICE_ATTR(\(name) group \(group) attr \(attribute))", ckvm_SET_DEVICE_ATTR(), &attr)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }
}

extension KVMMachine {
    /// KVM_CREATE_DEVICE of `type` (a KVM_DEV_TYPE_* value); `name` labels errors.
    public func createDevice(type: UInt32, name: String) throws(HypervisorError) -> KVMDevice {
        var create = kvm_create_device(type: type, fd: 0, flags: 0)
        try fd.call("KVM_CREATE_DEVICE(\(name))", ckvm_CREATE_DEVICE(), &create)
        return KVMDevice(fd: KVMFileDescriptor(Int32(bitPattern: create.fd)), name: name)
    }

    /// KVM_ENABLE_CAP on the VM with its first argument.
    public func enableCapability(_ capability: Int32, argument: UInt64 = 0) throws(HypervisorError) {
        var enable = kvm_enable_cap()
        enable.cap = UInt32(capability)
        enable.args.0 = argument
        try fd.call("KVM_ENABLE_CAP(\(capability))", ckvm_ENABLE_CAP(), &enable)
    }
}

extension KVMSystem {
    /// KVM_CREATE_VM with an explicit machine type (arm64: the IPA size).
    public func createVM(machineType: UInt) throws(HypervisorError) -> KVMMachine {
        let raw = try fd.call("KVM_CREATE_VM", ckvm_CREATE_VM(), value: machineType)
        return KVMMachine(system: self, fd: KVMFileDescriptor(raw))
    }
}
