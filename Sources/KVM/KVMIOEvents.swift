import CKVM
import LKVMCore

extension KVMMachine: IOEventRegistry {
    public func addIOEvent(_ event: HostEventFD, address: UInt64, length: Int, value: UInt64?) throws(HypervisorError) {
        var request = Self.ioEvent(event, address: address, length: length, value: value)
        try fd.call("KVM_IOEVENTFD", ckvm_IOEVENTFD(), &request)
    }

    public func removeIOEvent(_ event: HostEventFD, address: UInt64, length: Int, value: UInt64?) throws(HypervisorError) {
        var request = Self.ioEvent(event, address: address, length: length, value: value)
        request.flags |= UInt32(1 << kvm_ioeventfd_flag_nr_deassign)
        try fd.call("KVM_IOEVENTFD (deassign)", ckvm_IOEVENTFD(), &request)
    }

    private static func ioEvent(_ event: HostEventFD, address: UInt64, length: Int, value: UInt64?) -> kvm_ioeventfd {
        var request = kvm_ioeventfd()
        request.addr = address
        request.len = UInt32(length)
        request.fd = event.fd
        if let value {
            request.datamatch = value
            request.flags = UInt32(1 << kvm_ioeventfd_flag_nr_datamatch)
        }
        return request
    }
}
