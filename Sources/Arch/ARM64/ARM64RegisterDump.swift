import LKVMCore
import LKVMKVM

/// The register dump lkvm prints when an arm64 vCPU fails: PC, PSTATE, the
/// stack pointers, the last exception's ESR/FAR/ELR, then x0-x30.
enum ARM64RegisterDump {
    static let summary: [ARM64CoreRegister] = [.pc, .pstate, .sp, .spEL1, .elrEL1, .esrEL1, .farEL1]

    @Sendable static func format(_ vcpu: KVMVCPU) -> String {
        func value(_ register: ARM64CoreRegister) -> String {
            guard let raw = try? vcpu.oneRegister(register.id) else { return "?" }
            return hex(raw)
        }
        var lines = [summary.map { "\($0.name)=\(value($0))" }.joined(separator: " ")]
        for row in stride(from: 0, through: 30, by: 4) {
            lines.append((row..<min(row + 4, 31)).map { "x\($0)=\(value(.x($0)))" }.joined(separator: " "))
        }
        return "vCPU \(vcpu.id): " + lines.joined(separator: "\n  ")
    }

    /// PC, and VBAR_EL1 (Linux's `vectors`) as the KASLR anchor.
    @Sendable static func debugState(_ vcpu: KVMVCPU) -> VCPUDebugState? {
        guard let pc = try? vcpu.oneRegister(ARM64CoreRegister.pc.id) else { return nil }
        let vbar = (try? vcpu.oneRegister(ARM64CoreRegister.vbarEL1.id)) ?? 0
        return VCPUDebugState(instructionPointer: pc, anchorSymbol: "vectors", anchorValue: vbar)
    }
}

extension KVMArchHooks {
    /// arm64: the VM is created by `ARM64Machine` with the IPA size the board needs.
    public static let arm64 = KVMArchHooks(machineType: 0, registerDump: ARM64RegisterDump.format,
                                           debugState: ARM64RegisterDump.debugState)
}
