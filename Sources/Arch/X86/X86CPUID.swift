#if arch(x86_64)
import CKVM
import Glibc
import LKVMCore
import SystemPackage
import LKVMKVM

/// One CPUID leaf/subleaf as lkvm edits it before handing it to a vCPU.
public struct CPUIDEntry: Equatable, Sendable {
    public var function: UInt32
    public var index: UInt32
    public var flags: UInt32
    public var eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32

    public init(function: UInt32, index: UInt32 = 0, flags: UInt32 = 0,
                eax: UInt32 = 0, ebx: UInt32 = 0, ecx: UInt32 = 0, edx: UInt32 = 0) {
        self.function = function; self.index = index; self.flags = flags
        self.eax = eax; self.ebx = ebx; self.ecx = ecx; self.edx = edx
    }
}

/// Per-vCPU CPUID: KVM's supported set with a topology that matches the MP
/// table: `count` cores of one thread each in one package, APIC ID = vCPU index.
public enum CPUIDTopology {
    static let hypervisorBit: UInt32 = 1 << 31
    /// CPUID.1:ECX[24]. KVM_GET_SUPPORTED_CPUID leaves it clear even where the
    /// in-kernel LAPIC emulates the deadline MSR (KVM_CAP_TSC_DEADLINE_TIMER
    /// says so); without it Linux calibrates the LAPIC timer against the PIT
    /// for ~0.2 s of boot and reprograms the timer through TMICT.
    static let tscDeadlineTimer: UInt32 = 1 << 24
    static let htt: UInt32 = 1 << 28
    static let significantIndex = UInt32(KVM_CPUID_FLAG_SIGNIFCANT_INDEX)

    /// Bits of the APIC ID that number cores in a package of `count` cores.
    static func coreIDBits(_ count: Int) -> UInt32 {
        var bits: UInt32 = 0
        while (1 << bits) < count { bits += 1 }
        return bits
    }

    public static func entries(from supported: [CPUIDEntry], cpu: Int, count: Int,
                               tscDeadlineTimer: Bool = false) -> [CPUIDEntry] {
        let apicID = UInt32(cpu)
        var result: [CPUIDEntry] = []
        for var entry in supported {
            switch entry.function {
            case 0x1:
                // EBX[31:24] initial APIC ID, [23:16] logical processors per package.
                entry.ebx = (entry.ebx & 0xFFFF) | (UInt32(min(count, 255)) << 16) | (apicID << 24)
                entry.ecx |= hypervisorBit
                if tscDeadlineTimer { entry.ecx |= Self.tscDeadlineTimer }
                if count > 1 { entry.edx |= htt } else { entry.edx &= ~htt }
            case 0x4:
                // EAX[31:26]: cores per package - 1 (Intel deterministic cache leaf).
                entry.eax = (entry.eax & 0x03FF_FFFF) | (UInt32(min(count, 64) - 1) << 26)
            case 0xB, 0x1F:
                continue  // replaced below
            case 0x8000_0008:
                // AMD: ECX[7:0] cores - 1, ECX[15:12] APIC ID bits for the core number.
                entry.ecx = (entry.ecx & ~0xF0FF) | (coreIDBits(count) << 12) | UInt32(min(count, 256) - 1)
            default:
                break
            }
            result.append(entry)
        }
        if supported.contains(where: { $0.function == 0xB }) {
            result += extendedTopology(function: 0xB, apicID: apicID, count: count)
        }
        if supported.contains(where: { $0.function == 0x1F }) {
            result += extendedTopology(function: 0x1F, apicID: apicID, count: count)
        }
        return result
    }

    /// Leaf 0xB/0x1F: an SMT level of one thread, a core level of `count`.
    static func extendedTopology(function: UInt32, apicID: UInt32, count: Int) -> [CPUIDEntry] {
        let smt: UInt32 = 1, core: UInt32 = 2
        return [
            CPUIDEntry(function: function, index: 0, flags: significantIndex,
                       eax: 0, ebx: 1, ecx: (smt << 8) | 0, edx: apicID),
            CPUIDEntry(function: function, index: 1, flags: significantIndex,
                       eax: coreIDBits(count), ebx: UInt32(count), ecx: (core << 8) | 1, edx: apicID),
            CPUIDEntry(function: function, index: 2, flags: significantIndex,
                       eax: 0, ebx: 0, ecx: 2, edx: apicID),
        ]
    }
}

extension KVMSystem {
    /// KVM_GET_SUPPORTED_CPUID, growing the buffer until KVM is satisfied.
    public func supportedCPUID() throws(HypervisorError) -> [CPUIDEntry] {
        var capacity: UInt32 = 128
        while true {
            guard let buffer = ckvm_cpuid_alloc(capacity) else { throw .invalid("out of memory for CPUID") }
            defer { free(buffer) }
            do {
                try fd.call("KVM_GET_SUPPORTED_CPUID", ckvm_GET_SUPPORTED_CPUID(), pointer: UnsafeMutableRawPointer(buffer))
            } catch .request(_, let errno) where errno.rawValue == E2BIG && capacity < 4096 {
                capacity *= 2
                continue
            }
            return (0..<buffer.pointee.nent).map { index in
                let e = ckvm_cpuid_entry(buffer, index)!.pointee
                return CPUIDEntry(function: e.function, index: e.index, flags: e.flags,
                                  eax: e.eax, ebx: e.ebx, ecx: e.ecx, edx: e.edx)
            }
        }
    }
}

extension KVMVCPU {
    public func setCPUID(_ entries: [CPUIDEntry]) throws(HypervisorError) {
        guard let buffer = ckvm_cpuid_alloc(UInt32(entries.count)) else { throw .invalid("out of memory for CPUID") }
        defer { free(buffer) }
        for (index, entry) in entries.enumerated() {
            var e = kvm_cpuid_entry2()
            e.function = entry.function; e.index = entry.index; e.flags = entry.flags
            e.eax = entry.eax; e.ebx = entry.ebx; e.ecx = entry.ecx; e.edx = entry.edx
            ckvm_cpuid_entry(buffer, UInt32(index))!.pointee = e
        }
        try fd.call("KVM_SET_CPUID2", ckvm_SET_CPUID2(), pointer: UnsafeMutableRawPointer(buffer))
    }
}
#endif
