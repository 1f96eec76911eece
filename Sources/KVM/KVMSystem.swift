import CKVM
import Glibc
import LKVMCore
import SystemPackage

/// Architecture-specific pieces the generic KVM backend needs.
public struct KVMArchHooks: Sendable {
    /// KVM_CREATE_VM's machine type (0 on x86; the IPA size on arm64).
    public var machineType: UInt
    /// Formats a vCPU's registers for error reports.
    public var registerDump: @Sendable (KVMVCPU) -> String
    /// Instruction pointer and KASLR anchor register for `lkvm debug`.
    public var debugState: @Sendable (KVMVCPU) -> VCPUDebugState?
    /// Delivers an NMI, where the architecture has one.
    public var injectNMI: @Sendable (KVMVCPU) throws(HypervisorError) -> Void

    public init(machineType: UInt, registerDump: @escaping @Sendable (KVMVCPU) -> String,
                debugState: @escaping @Sendable (KVMVCPU) -> VCPUDebugState? = { _ in nil },
                injectNMI: @escaping @Sendable (KVMVCPU) throws(HypervisorError) -> Void = { _ throws(HypervisorError) in
                    throw .unsupported("injecting an NMI on this architecture")
                }) {
        self.machineType = machineType
        self.registerDump = registerDump
        self.debugState = debugState
        self.injectNMI = injectNMI
    }
}

/// The host's /dev/kvm.
public final class KVMSystem: Hypervisor {
    public let fd: KVMFileDescriptor
    public let vcpuMapSize: Int
    public let maxVCPUs: Int
    let hooks: KVMArchHooks

    /// Opens the KVM device; errors say what the user can do about them.
    public init(path: String = "/dev/kvm", hooks: KVMArchHooks) throws(HypervisorError) {
        let raw = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard raw >= 0 else {
            let error = Errno(rawValue: errno)
            switch error {
            case .noSuchFileOrDirectory, .noSuchAddressOrDevice:
                throw .unavailable("\(path) does not exist: this host has no usable KVM (load kvm_intel or kvm_amd and enable virtualisation in the firmware), or boot the guest in the lab: lab/run -- ARGS")
            case .permissionDenied, .notPermitted:
                throw .unavailable("\(path): permission denied: add your user to the 'kvm' group (usermod -aG kvm $USER, then log in again) or run as root")
            default:
                throw .request("open(\(path))", error)
            }
        }
        fd = KVMFileDescriptor(raw)
        self.hooks = hooks
        let version = try fd.call("KVM_GET_API_VERSION", ckvm_GET_API_VERSION())
        guard version == KVM_API_VERSION else {
            fd.close()
            throw .unsupported("KVM API version 12 (it reports \(version))")
        }
        guard try fd.call("KVM_CHECK_EXTENSION", ckvm_CHECK_EXTENSION(), value: UInt(KVM_CAP_IMMEDIATE_EXIT)) > 0 else {
            fd.close()
            throw .unsupported("KVM_CAP_IMMEDIATE_EXIT (Linux 4.11 or later)")
        }
        vcpuMapSize = Int(try fd.call("KVM_GET_VCPU_MMAP_SIZE", ckvm_GET_VCPU_MMAP_SIZE()))
        let maxCap = try fd.call("KVM_CHECK_EXTENSION", ckvm_CHECK_EXTENSION(), value: UInt(KVM_CAP_MAX_VCPUS))
        let recommended = try fd.call("KVM_CHECK_EXTENSION", ckvm_CHECK_EXTENSION(), value: UInt(KVM_CAP_NR_VCPUS))
        maxVCPUs = Int(maxCap > 0 ? maxCap : (recommended > 0 ? recommended : 4))
    }

    deinit { fd.close() }

    public func checkExtension(_ capability: Int32) -> Int32 {
        (try? fd.call("KVM_CHECK_EXTENSION", ckvm_CHECK_EXTENSION(), value: UInt(capability))) ?? 0
    }

    public func createVM() throws(HypervisorError) -> KVMMachine {
        let raw = try fd.call("KVM_CREATE_VM", ckvm_CREATE_VM(), value: hooks.machineType)
        return KVMMachine(system: self, fd: KVMFileDescriptor(raw))
    }
}
