import LKVMCore
import Synchronization

/// The ACPI fixed-hardware registers the FADT points at, in one block of
/// I/O ports (default 0x600-0x607):
///
/// | offset | register | behaviour |
/// | --- | --- | --- |
/// | 0-1 | PM1a_STS | status bits, write 1 to clear; nothing ever sets them |
/// | 2-3 | PM1a_EN | plain read/write (ACPICA checks that enable bits stick) |
/// | 4-5 | PM1a_CNT | SCI_EN (bit 0) always reads 1; SLP_TYP (bits 10-12) stored; SLP_EN (13) and GBL_RLS (2) write-only |
/// | 6 | RESET_REG | writing `resetValue` calls `onReset`; reads 0 |
/// | 7 | none | reads 0xFF, writes ignored |
///
/// A write with SLP_EN set and SLP_TYP = 5 (the DSDT's `\_S5`) calls
/// `onPowerOff`, once: ACPICA writes SLP_EN again after 10 s if it is still
/// running. Other sleep types are ignored (lkvm offers no S1-S4), so the
/// guest simply keeps running. Any access size at any offset works, byte by
/// byte; bytes outside the block read 0xFF like an empty bus. The closures
/// are called after the lock is dropped.
public final class ACPIPowerManagement: BusDevice {
    public static let defaultBasePort: UInt16 = 0x600
    public static let portSpan: UInt64 = 8
    static let eventBlockOffset: UInt64 = 0
    static let eventBlockLength = 4
    static let controlBlockOffset: UInt64 = 4
    static let controlBlockLength = 2
    static let resetRegisterOffset: UInt64 = 6
    /// What the FADT tells the OS to write to the reset register.
    public static let resetValue: UInt8 = 0x06

    static let sciEnabled: UInt16 = 1 << 0
    static let globalLockRelease: UInt16 = 1 << 2
    static let sleepTypeShift = 10
    static let sleepTypeMask: UInt16 = 0b111 << 10
    static let sleepEnable: UInt16 = 1 << 13

    private let onPowerOff: @Sendable () -> Void
    private let onReset: @Sendable () -> Void
    private let registers = Mutex(PM1Registers())

    public init(onPowerOff: @escaping @Sendable () -> Void, onReset: @escaping @Sendable () -> Void) {
        self.onPowerOff = onPowerOff
        self.onReset = onReset
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        let width = min(max(size, 0), 8)
        return registers.withLock { registers in
            var value: UInt64 = 0
            for index in 0..<width {
                let byte = Self.byteOffset(offset, index).map { registers.readByte(at: $0) } ?? 0xFF
                value |= UInt64(byte) << (8 * index)
            }
            return value
        }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        let width = min(max(size, 0), 8)
        let action = registers.withLock { registers in
            var action = PM1Registers.Action.none
            for index in 0..<width {
                guard let at = Self.byteOffset(offset, index) else { continue }
                let result = registers.writeByte(UInt8(truncatingIfNeeded: value >> (8 * index)), at: at)
                if result != .none { action = result }
            }
            return action
        }
        switch action {
        case .powerOff: onPowerOff()
        case .reset: onReset()
        case .none: break
        }
    }

    /// The block offset of byte `index` of an access at `offset`, if inside the block.
    private static func byteOffset(_ offset: UInt64, _ index: Int) -> Int? {
        let (at, overflow) = offset.addingReportingOverflow(UInt64(index))
        return !overflow && at < portSpan ? Int(at) : nil
    }
}

/// The register state, byte-addressed as the guest sees it.
struct PM1Registers {
    enum Action: Equatable { case none, powerOff, reset }

    var status: UInt16 = 0
    var enable: UInt16 = 0
    /// PM1_CNT as last written, without the write-only bits.
    var control: UInt16 = 0
    var poweredOff = false

    func readByte(at offset: Int) -> UInt8 {
        switch offset {
        case 0, 1: Self.byte(status, offset)
        case 2, 3: Self.byte(enable, offset - 2)
        case 4, 5: Self.byte(control | ACPIPowerManagement.sciEnabled, offset - 4)
        case 6: 0
        default: 0xFF
        }
    }

    mutating func writeByte(_ byte: UInt8, at offset: Int) -> Action {
        switch offset {
        case 0, 1:
            status &= ~(UInt16(byte) << (8 * offset))
        case 2, 3:
            enable = Self.replacing(enable, byte: byte, at: offset - 2)
        case 4, 5:
            let written = Self.replacing(control, byte: byte, at: offset - 4)
            control = written & ~(ACPIPowerManagement.sleepEnable | ACPIPowerManagement.globalLockRelease
                | ACPIPowerManagement.sciEnabled)
            // SLP_EN and SLP_TYP both live in the high byte.
            guard offset == 5, written & ACPIPowerManagement.sleepEnable != 0 else { return .none }
            let sleepType = (written & ACPIPowerManagement.sleepTypeMask) >> ACPIPowerManagement.sleepTypeShift
            guard sleepType == UInt16(ACPIDSDT.softOffSleepType), !poweredOff else { return .none }
            poweredOff = true
            return .powerOff
        case 6:
            return byte == ACPIPowerManagement.resetValue ? .reset : .none
        default:
            break
        }
        return .none
    }

    private static func byte(_ register: UInt16, _ index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: register >> (8 * index))
    }

    private static func replacing(_ register: UInt16, byte: UInt8, at index: Int) -> UInt16 {
        let shift = UInt16(8 * index)
        return register & ~(0xFF << shift) | UInt16(byte) << shift
    }
}
