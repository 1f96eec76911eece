import CKVM
import LKVMCore

/// KVM_GET_ONE_REG / KVM_SET_ONE_REG: one 64-bit register by its KVM id
/// (the arm64 core and system registers are set this way).
extension KVMVCPU {
    public func oneRegister(_ id: UInt64) throws(HypervisorError) -> UInt64 {
        var value: UInt64 = 0
        try withRegister(id, &value) { (register: inout kvm_one_reg) throws(HypervisorError) in
            try fd.call("KVM_GET_ONE_REG", ckvm_GET_ONE_REG(), &register)
        }
        return value
    }

    public func setOneRegister(_ id: UInt64, _ value: UInt64) throws(HypervisorError) {
        var value = value
        try withRegister(id, &value) { (register: inout kvm_one_reg) throws(HypervisorError) in
            try fd.call("KVM_SET_ONE_REG", ckvm_SET_ONE_REG(), &register)
        }
    }

    private func withRegister(_ id: UInt64, _ value: inout UInt64,
                              _ body: (inout kvm_one_reg) throws(HypervisorError) -> Void) throws(HypervisorError) {
        // SAFETY: kvm_one_reg.addr points at `value`, 8 bytes that live for the
        // whole ioctl; only 64-bit register ids are passed here.
        let result: Result<Void, HypervisorError> = withUnsafeMutablePointer(to: &value) { pointer in
            var register = kvm_one_reg(id: id, addr: UInt64(UInt(bitPattern: pointer)))
            do throws(HypervisorError) {
                try body(&register)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }
}
