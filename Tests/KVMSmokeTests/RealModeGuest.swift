import ArchX86
import CKVM
import LKVMCore
import LKVMKVM
import Synchronization
import XCTest

/// A tiny VM on the host's /dev/kvm running hand-assembled real-mode code at
/// 0x1000, without an in-kernel irqchip (kvm-pvm runs such guests).
final class RealModeGuest {
    static let codeAddress: UInt64 = 0x1000
    let kvm: KVMSystem
    let machine: KVMMachine
    let memory: GuestMemory
    let vcpus: [KVMVCPU]

    /// Skips the calling test, with the reason printed, when /dev/kvm cannot be used.
    static func openKVM() throws -> KVMSystem {
        do {
            return try KVMSystem(hooks: .x86)
        } catch {
            print("skipping KVM smoke test: \(error)")
            throw XCTSkip("/dev/kvm unusable: \(error)")
        }
    }

    init(code: [UInt8], cpus: Int = 1) throws {
        kvm = try Self.openKVM()
        machine = try kvm.createVM()
        memory = try GuestMemory(ranges: [GuestRange(start: GuestAddress(0), size: 0x10000)!])
        try memory.write(code, at: GuestAddress(Self.codeAddress))
        try machine.map(memory)
        var created: [KVMVCPU] = []
        for id in 0..<cpus {
            let vcpu = try machine.createVCPU(id: id)
            var sregs = try vcpu.specialRegisters()
            sregs.cs.base = 0
            sregs.cs.selector = 0
            try vcpu.setSpecialRegisters(sregs)
            var regs = kvm_regs()
            regs.rip = Self.codeAddress
            regs.rflags = 0x2
            try vcpu.setRegisters(regs)
            created.append(vcpu)
        }
        vcpus = created
    }
}

/// Records every byte written to it; reads return a fixed pattern.
final class RecordingDevice: BusDevice {
    let writes = Mutex<[(offset: UInt64, size: Int, value: UInt64)]>([])
    let readValue: UInt64
    init(readValue: UInt64 = 0) { self.readValue = readValue }
    func read(offset: UInt64, size: Int) -> UInt64 { readValue }
    func write(offset: UInt64, size: Int, value: UInt64) { writes.withLock { $0.append((offset, size, value)) } }
}

/// Asks the VM to power off when written: the guest's "shutdown port".
final class PowerOffPort: BusDevice {
    let controller: Mutex<VMController?> = Mutex(nil)
    func read(offset: UInt64, size: Int) -> UInt64 { 0 }
    func write(offset: UInt64, size: Int, value: UInt64) {
        controller.withLock { $0 }?.requestStop(.powerOff)
    }
}

/// Hand assembly for the 16-bit instructions the smoke tests use.
enum Asm16 {
    static func movDX(_ value: UInt16) -> [UInt8] { [0xBA, UInt8(value & 0xFF), UInt8(value >> 8)] }
    static func movAL(_ value: UInt8) -> [UInt8] { [0xB0, value] }
    static func movAX(_ value: UInt16) -> [UInt8] { [0xB8, UInt8(value & 0xFF), UInt8(value >> 8)] }
    static let outDXAL: [UInt8] = [0xEE]
    static let inALDX: [UInt8] = [0xEC]
    static let movDSAX: [UInt8] = [0x8E, 0xD8]
    /// mov byte [offset], imm8
    static func movByteToMemory(_ offset: UInt16, _ value: UInt8) -> [UInt8] {
        [0xC6, 0x06, UInt8(offset & 0xFF), UInt8(offset >> 8), value]
    }
    /// mov al, [offset]
    static func movALFromMemory(_ offset: UInt16) -> [UInt8] { [0xA0, UInt8(offset & 0xFF), UInt8(offset >> 8)] }
    static let hlt: [UInt8] = [0xF4]
    /// jmp $ (spin forever with no exits)
    static let spin: [UInt8] = [0xEB, 0xFE]

    static func print(_ text: String, port: UInt16 = 0x3F8) -> [UInt8] {
        movDX(port) + text.utf8.flatMap { movAL($0) + outDXAL }
    }
}
