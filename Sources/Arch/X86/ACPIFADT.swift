/// The Fixed ACPI Description Table ("FACP", ACPI 6.5 §5.2.9, revision 6,
/// 276 bytes) and the FACS it points to (§5.2.10).
///
/// Only PM1a event and control blocks exist, on `ACPIPowerManagement`'s
/// ports; every legacy 32-bit block field and its X_ Generic Address form
/// agree (ACPICA warns on a mismatch of address or length). No PM timer
/// (reads would each be a VM exit; Linux uses kvm-clock/TSC), no GPE blocks,
/// SMI_CMD 0 so the OS never does the ACPI_ENABLE handshake.
enum ACPIFADT {
    static let revision: UInt8 = 6
    static let minorRevision: UInt8 = 5
    static let length = 276

    /// Byte offsets of the fields lkvm sets (Table 5.9).
    enum Field {
        static let firmwareControl = 36
        static let dsdt = 40
        static let preferredPMProfile = 45
        static let sciInterrupt = 46
        static let smiCommand = 48
        static let pm1aEventBlock = 56
        static let pm1aControlBlock = 64
        static let pm1EventLength = 88
        static let pm1ControlLength = 89
        static let cStateLevel2Latency = 96
        static let cStateLevel3Latency = 98
        static let bootArchitecture = 109
        static let flags = 112
        static let resetRegister = 116
        static let resetValue = 128
        static let minorVersion = 131
        static let extendedFirmwareControl = 132
        static let extendedDSDT = 140
        static let extendedPM1aEventBlock = 148
        static let extendedPM1aControlBlock = 172
    }

    /// IA-PC boot architecture flags (Table 5.11).
    enum BootArchitecture {
        static let legacyDevices: UInt16 = 1 << 0  // ISA devices the OS probes itself
        static let has8042: UInt16 = 1 << 1  // Linux probes the i8042 only with this bit
        static let noVGA: UInt16 = 1 << 2  // no VGA: do not probe its ports
    }

    /// Fixed feature flags (Table 5.10).
    enum Flags {
        static let wbinvd: UInt32 = 1 << 0
        static let processorC1: UInt32 = 1 << 2
        static let powerButtonNotFixed: UInt32 = 1 << 4  // no fixed-feature power button
        static let sleepButtonNotFixed: UInt32 = 1 << 5  // no fixed-feature sleep button
        static let rtcWakeNotFixed: UInt32 = 1 << 6  // FIX_RTC: no RTC_STS in PM1
        static let resetRegisterSupported: UInt32 = 1 << 10
    }

    /// "A value > 100 indicates the system does not support a C2 state", > 1000 for C3.
    static let noC2Latency: UInt16 = 101
    static let noC3Latency: UInt16 = 1001

    static func table(facs: UInt32, dsdt: UInt32, powerPorts: UInt16, sci: UInt8) -> [UInt8] {
        var body = [UInt8](repeating: 0, count: length - ACPITables.headerSize)
        func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
            LittleEndian.put(value, into: &body, at: offset - ACPITables.headerSize)
        }
        func put(_ bytes: [UInt8], _ offset: Int) {
            body.replaceSubrange((offset - ACPITables.headerSize)..<(offset - ACPITables.headerSize + bytes.count),
                                 with: bytes)
        }
        let eventBlock = UInt32(powerPorts) + UInt32(ACPIPowerManagement.eventBlockOffset)
        let controlBlock = UInt32(powerPorts) + UInt32(ACPIPowerManagement.controlBlockOffset)
        let resetPort = UInt64(powerPorts) + ACPIPowerManagement.resetRegisterOffset

        // FIRMWARE_CTRL only: X_FIRMWARE_CTRL is for a FACS above 4 GiB, and
        // Linux would install the same FACS twice if both were set.
        put(facs, Field.firmwareControl)
        put(dsdt, Field.dsdt)
        put(UInt8(0), Field.preferredPMProfile)  // unspecified
        put(UInt16(sci), Field.sciInterrupt)
        put(UInt32(0), Field.smiCommand)
        put(eventBlock, Field.pm1aEventBlock)
        put(controlBlock, Field.pm1aControlBlock)
        put(UInt8(ACPIPowerManagement.eventBlockLength), Field.pm1EventLength)
        put(UInt8(ACPIPowerManagement.controlBlockLength), Field.pm1ControlLength)
        put(noC2Latency, Field.cStateLevel2Latency)
        put(noC3Latency, Field.cStateLevel3Latency)
        put(BootArchitecture.legacyDevices | BootArchitecture.has8042 | BootArchitecture.noVGA,
            Field.bootArchitecture)
        put(Flags.wbinvd | Flags.processorC1 | Flags.powerButtonNotFixed | Flags.sleepButtonNotFixed
                | Flags.rtcWakeNotFixed | Flags.resetRegisterSupported, Field.flags)
        put(GenericAddress.systemIO(port: resetPort, bytes: 1), Field.resetRegister)
        put(ACPIPowerManagement.resetValue, Field.resetValue)
        put(minorRevision, Field.minorVersion)
        put(UInt64(dsdt), Field.extendedDSDT)
        put(GenericAddress.systemIO(port: UInt64(eventBlock), bytes: ACPIPowerManagement.eventBlockLength,
                                    accessBytes: 2), Field.extendedPM1aEventBlock)
        put(GenericAddress.systemIO(port: UInt64(controlBlock), bytes: ACPIPowerManagement.controlBlockLength),
            Field.extendedPM1aControlBlock)
        return ACPITables.sdt(signature: "FACP", revision: revision, body: body)
    }

    /// Firmware ACPI Control Structure: 64 bytes, 64-byte aligned, no
    /// checksum. Hardware signature 0, no waking vector (no S1-S4), the
    /// global lock word 0 (free), no S4BIOS.
    static func facs() -> [UInt8] {
        var facs = ACPITables.ascii("FACS", width: 4) + LittleEndian.bytes(UInt32(64))
        facs += [UInt8](repeating: 0, count: 56)
        facs[32] = 2  // version
        return facs
    }
}

/// Generic Address Structure (ACPI 6.5 §5.2.3.2): 12 bytes describing one register.
enum GenericAddress {
    static let systemIOSpace: UInt8 = 1

    /// A register of `bytes` bytes at an I/O port, accessed `accessBytes`
    /// (default: the whole register) at a time.
    static func systemIO(port: UInt64, bytes: Int, accessBytes: Int? = nil) -> [UInt8] {
        let accessSize: UInt8 = switch accessBytes ?? bytes {
        case 1: 1
        case 2: 2
        case 4: 3
        case 8: 4
        default: 0  // undefined (legacy reasons)
        }
        return [systemIOSpace, UInt8(bytes * 8), 0, accessSize] + LittleEndian.bytes(port)
    }
}
