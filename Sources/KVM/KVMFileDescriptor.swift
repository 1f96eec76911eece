import CKVM
import Glibc
import LKVMCore
import SystemPackage

/// An open KVM file descriptor (system, VM or vCPU) and the ioctl forms lkvm
/// uses on it. Every failure carries the request's name and errno.
public struct KVMFileDescriptor: Sendable {
    public let raw: Int32

    init(_ raw: Int32) { self.raw = raw }

    /// ioctl with an integer argument; returns the non-negative result.
    @discardableResult
    public func call(_ name: String, _ request: UInt, value: UInt = 0) throws(HypervisorError) -> Int32 {
        while true {
            let result = ckvm_ioctl_val(raw, request, value)
            if result >= 0 { return result }
            if errno != EINTR { throw .request(name, Errno(rawValue: errno)) }
        }
    }

    /// ioctl whose argument is a pointer to `argument`, read and/or written by KVM.
    @discardableResult
    public func call<T>(_ name: String, _ request: UInt, _ argument: inout T) throws(HypervisorError) -> Int32 {
        while true {
            // SAFETY: the pointer is valid for the duration of the call and KVM
            // reads/writes at most sizeof(T) bytes for these requests.
            let result = withUnsafeMutablePointer(to: &argument) { ckvm_ioctl_ptr(raw, request, $0) }
            if result >= 0 { return result }
            if errno != EINTR { throw .request(name, Errno(rawValue: errno)) }
        }
    }

    /// ioctl on a C-allocated variable-length struct (kvm_cpuid2, kvm_msrs).
    @discardableResult
    public func call(_ name: String, _ request: UInt, pointer: UnsafeMutableRawPointer) throws(HypervisorError) -> Int32 {
        while true {
            let result = ckvm_ioctl_ptr(raw, request, pointer)
            if result >= 0 { return result }
            if errno != EINTR { throw .request(name, Errno(rawValue: errno)) }
        }
    }

    func close() { _ = Glibc.close(raw) }
}
