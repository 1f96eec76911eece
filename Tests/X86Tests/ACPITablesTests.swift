import XCTest
@testable import ArchX86
import LKVMCore

/// Reads the tables back the way an OS does: RSDP -> XSDT -> tables, with
/// field offsets taken from the ACPI 6.5 specification, not from the builder.
final class ACPITablesTests: XCTestCase {
    struct Image {
        var memory: [UInt64: UInt8] = [:]

        init(_ tables: [ACPITables.Placed]) {
            for table in tables {
                for (index, byte) in table.bytes.enumerated() {
                    XCTAssertNil(memory[table.address.raw + UInt64(index)], "tables overlap at \(table.signature)")
                    memory[table.address.raw + UInt64(index)] = byte
                }
            }
        }

        func bytes(_ address: UInt64, _ count: Int) -> [UInt8] {
            (0..<UInt64(count)).map { memory[address + $0] ?? 0xEE }
        }
        func u8(_ address: UInt64) -> UInt8 { bytes(address, 1)[0] }
        func u16(_ address: UInt64) -> UInt16 { LittleEndian.u16(bytes(address, 2), 0) }
        func u32(_ address: UInt64) -> UInt32 { LittleEndian.u32(bytes(address, 4), 0) }
        func u64(_ address: UInt64) -> UInt64 { LittleEndian.u64(bytes(address, 8), 0) }
        func text(_ address: UInt64, _ count: Int) -> String { String(decoding: bytes(address, count), as: UTF8.self) }

        /// Checks the common header; returns the table's length.
        @discardableResult
        func checkHeader(_ address: UInt64, signature: String, revision: UInt8,
                         file: StaticString = #filePath, line: UInt = #line) -> Int {
            XCTAssertEqual(text(address, 4), signature, file: file, line: line)
            let length = Int(u32(address + 4))
            XCTAssertGreaterThanOrEqual(length, 36, file: file, line: line)
            XCTAssertEqual(u8(address + 8), revision, "\(signature) revision", file: file, line: line)
            XCTAssertEqual(bytes(address, length).reduce(0, &+), 0, "\(signature) checksum", file: file, line: line)
            XCTAssertEqual(text(address + 10, 6), "LKVM  ", file: file, line: line)
            return length
        }

        /// XSDT entries by signature.
        func tables() -> [String: UInt64] {
            let xsdt = u64(0xE0000 + 24)
            let count = (Int(u32(xsdt + 4)) - 36) / 8
            var found: [String: UInt64] = [:]
            for index in 0..<count {
                let address = u64(xsdt + 36 + 8 * UInt64(index))
                found[text(address, 4)] = address
            }
            return found
        }
    }

    func image(cpus: Int = 1) throws -> Image {
        Image(try ACPITables.build(cpuCount: cpus, ioapicAddress: GuestAddress(0xFEC0_0000)))
    }

    func testRSDPIsRevision2WithBothChecksumsInTheScanArea() throws {
        let tables = try ACPITables.build(cpuCount: 1, ioapicAddress: GuestAddress(0xFEC0_0000))
        let rsdp = try XCTUnwrap(tables.first { $0.signature == "RSD PTR " })
        XCTAssertEqual(rsdp.address.raw, 0xE0000)
        XCTAssertEqual(rsdp.address.raw % 16, 0)
        for table in tables {
            XCTAssertTrue(ACPITables.rsdpScanArea.contains(table.address), table.signature)
            XCTAssertLessThanOrEqual(table.address.raw + UInt64(table.bytes.count), 0x10_0000)
        }
        let image = Image(tables)
        XCTAssertEqual(image.text(0xE0000, 8), "RSD PTR ")
        XCTAssertEqual(image.bytes(0xE0000, 20).reduce(0, &+), 0, "ACPI 1.0 checksum")
        XCTAssertEqual(image.u8(0xE0000 + 15), 2, "revision")
        XCTAssertEqual(image.u32(0xE0000 + 20), 36, "length")
        XCTAssertEqual(image.bytes(0xE0000, 36).reduce(0, &+), 0, "extended checksum")
        XCTAssertEqual(image.text(image.u64(0xE0000 + 24), 4), "XSDT")
        XCTAssertEqual(image.text(UInt64(image.u32(0xE0000 + 16)), 4), "RSDT")
    }

    func testXSDTAndRSDTListTheFADTAndMADT() throws {
        let image = try image()
        let xsdt = image.u64(0xE0000 + 24)
        XCTAssertEqual(image.checkHeader(xsdt, signature: "XSDT", revision: 1), 36 + 16)
        XCTAssertEqual(Set(image.tables().keys), ["FACP", "APIC"])
        let rsdt = UInt64(image.u32(0xE0000 + 16))
        XCTAssertEqual(image.checkHeader(rsdt, signature: "RSDT", revision: 1), 36 + 8)
        XCTAssertEqual([UInt64(image.u32(rsdt + 36)), UInt64(image.u32(rsdt + 40))],
                       [image.tables()["FACP"], image.tables()["APIC"]])
    }

    func testFADTFieldsLinuxReads() throws {
        let image = try image()
        let fadt = try XCTUnwrap(image.tables()["FACP"])
        XCTAssertEqual(image.checkHeader(fadt, signature: "FACP", revision: 6), 276)
        XCTAssertEqual(image.u8(fadt + 131), 5, "minor version")
        XCTAssertEqual(image.u16(fadt + 46), 9, "SCI_INT")
        XCTAssertEqual(image.u32(fadt + 48), 0, "SMI_CMD: no ACPI mode switch")
        XCTAssertEqual(image.u32(fadt + 56), 0x600, "PM1a_EVT_BLK")
        XCTAssertEqual(image.u32(fadt + 60), 0, "PM1b_EVT_BLK")
        XCTAssertEqual(image.u32(fadt + 64), 0x604, "PM1a_CNT_BLK")
        XCTAssertEqual(image.u32(fadt + 76), 0, "PM_TMR_BLK")
        XCTAssertEqual(image.u32(fadt + 80), 0, "GPE0_BLK")
        XCTAssertEqual(image.u8(fadt + 88), 4, "PM1_EVT_LEN")
        XCTAssertEqual(image.u8(fadt + 89), 2, "PM1_CNT_LEN")
        XCTAssertEqual(image.u8(fadt + 91), 0, "PM_TMR_LEN")
        XCTAssertEqual(image.u8(fadt + 92), 0, "GPE0_BLK_LEN")
        XCTAssertEqual(image.u16(fadt + 109) & 0b111, 0b111, "IAPC_BOOT_ARCH: legacy devices, 8042, no VGA")
        XCTAssertEqual(image.u16(fadt + 109) & (1 << 5), 0, "CMOS RTC present")
        let flags = image.u32(fadt + 112)
        XCTAssertNotEqual(flags & (1 << 10), 0, "RESET_REG_SUP")
        XCTAssertEqual(flags & (1 << 20), 0, "not HW_REDUCED_ACPI")
        XCTAssertNotEqual(flags & (1 << 0), 0, "WBINVD")
        // RESET_REG: system I/O, 8 bits, byte access, in lkvm's PM block.
        XCTAssertEqual(image.bytes(fadt + 116, 4), [1, 8, 0, 1])
        XCTAssertEqual(image.u64(fadt + 120), 0x606)
        XCTAssertEqual(image.u8(fadt + 128), ACPIPowerManagement.resetValue)

        // FACS through FIRMWARE_CTRL; X_FIRMWARE_CTRL unused (FACS below 4 GiB).
        let facs = UInt64(image.u32(fadt + 36))
        XCTAssertEqual(image.u64(fadt + 132), 0)
        XCTAssertEqual(facs % 64, 0)
        XCTAssertEqual(image.text(facs, 4), "FACS")
        XCTAssertEqual(image.u32(facs + 4), 64)
        XCTAssertEqual(image.u8(facs + 32), 2, "FACS version")

        // DSDT and X_DSDT agree.
        let dsdt = UInt64(image.u32(fadt + 40))
        XCTAssertEqual(image.u64(fadt + 140), dsdt)
        image.checkHeader(dsdt, signature: "DSDT", revision: 2)
    }

    /// ACPICA warns when a legacy block and its X_ form disagree in address or length.
    func testExtendedBlocksMatchLegacyBlocks() throws {
        let image = try image()
        let fadt = try XCTUnwrap(image.tables()["FACP"])
        let blocks: [(legacy: UInt64, length: UInt64?, extended: UInt64)] = [
            (56, 88, 148), (60, 88, 160), (64, 89, 172), (68, 89, 184),
            (72, 90, 196), (76, 91, 208), (80, 92, 220), (84, 93, 232),
        ]
        for block in blocks {
            let address = UInt64(image.u32(fadt + block.legacy))
            let gas = fadt + block.extended
            XCTAssertEqual(image.u64(gas + 4), address, "X_ at \(block.extended)")
            guard address != 0 else {
                XCTAssertEqual(image.bytes(gas, 12), [UInt8](repeating: 0, count: 12))
                continue
            }
            XCTAssertEqual(image.u8(gas), 1, "system I/O")
            XCTAssertEqual(UInt64(image.u8(gas + 1)), 8 * UInt64(image.u8(fadt + block.length!)), "bit width")
            XCTAssertEqual(image.u8(gas + 2), 0, "bit offset")
        }
        XCTAssertEqual(image.bytes(fadt + 244, 24), [UInt8](repeating: 0, count: 24), "no sleep control/status regs")
    }

    func testDSDTHoldsOnlyTheS5Package() throws {
        let image = try image()
        let fadt = try XCTUnwrap(image.tables()["FACP"])
        let dsdt = UInt64(image.u32(fadt + 40))
        let length = image.checkHeader(dsdt, signature: "DSDT", revision: 2)
        // Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })
        XCTAssertEqual(image.bytes(dsdt + 36, length - 36),
                       [0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00])
    }

    func testAMLPackageLengthForms() {
        XCTAssertEqual(AML.packageLength(enclosing: 7), [0x08])
        XCTAssertEqual(AML.packageLength(enclosing: 62), [0x3F])
        // 63 bytes + 2 length bytes = 65 = 0x41: lead 0b01 << 6 | 0x1, then 0x04.
        XCTAssertEqual(AML.packageLength(enclosing: 63), [0x41, 0x04])
        XCTAssertEqual(AML.packageLength(enclosing: 0xFFD), [0x4F, 0xFF], "0xFFF: largest 2-byte form")
        XCTAssertEqual(AML.packageLength(enclosing: 0xFFE), [0x81, 0x00, 0x01], "0x1001 needs 3 bytes")
        XCTAssertEqual(AML.integer(0), [0x00])
        XCTAssertEqual(AML.integer(1), [0x01])
        XCTAssertEqual(AML.integer(0x1234), [0x0B, 0x34, 0x12])
    }

    func testMADTFor1And2And8CPUs() throws {
        for cpus in [1, 2, 8] {
            let image = try image(cpus: cpus)
            let madt = try XCTUnwrap(image.tables()["APIC"])
            let length = image.checkHeader(madt, signature: "APIC", revision: 5)
            XCTAssertEqual(length, 44 + 8 * cpus + 12 + 10 + 6)
            XCTAssertEqual(image.u32(madt + 36), 0xFEE0_0000, "local APIC address")
            XCTAssertEqual(image.u32(madt + 40), 1, "PCAT_COMPAT")
            var entries: [[UInt8]] = []
            var at = madt + 44
            while at < madt + UInt64(length) {
                let entryLength = Int(image.u8(at + 1))
                XCTAssertGreaterThan(entryLength, 1)
                entries.append(image.bytes(at, entryLength))
                at += UInt64(entryLength)
            }
            XCTAssertEqual(at, madt + UInt64(length), "entries fill the table exactly")
            let lapics = entries.filter { $0[0] == 0 }
            XCTAssertEqual(lapics, (0..<cpus).map { [0, 8, UInt8($0), UInt8($0), 1, 0, 0, 0] })
            XCTAssertEqual(entries.filter { $0[0] == 1 },
                           [[1, 12, UInt8(cpus), 0, 0x00, 0x00, 0xC0, 0xFE, 0, 0, 0, 0]], "IOAPIC id = vCPU count")
            // SCI: ISA IRQ 9 -> GSI 9, active high (01), level (11); no IRQ 0 override.
            XCTAssertEqual(entries.filter { $0[0] == 2 }, [[2, 10, 0, 9, 9, 0, 0, 0, 0x0D, 0x00]])
            XCTAssertEqual(entries.filter { $0[0] == 4 }, [[4, 6, 0xFF, 0, 0, 1]], "NMI on LINT1 of all")
        }
    }

    func testMaximumCPUsStillFitsBelowOneMiB() throws {
        let tables = try ACPITables.build(cpuCount: 254, ioapicAddress: GuestAddress(0xFEC0_0000))
        let madt = try XCTUnwrap(tables.first { $0.signature == "APIC" })
        XCTAssertLessThanOrEqual(madt.address.raw + UInt64(madt.bytes.count), 0x10_0000)
        XCTAssertEqual(Image(tables).tables()["APIC"], madt.address.raw)
    }

    func testBadInputsAreTypedErrors() {
        let ioapic = GuestAddress(0xFEC0_0000)
        XCTAssertThrowsError(try ACPITables.build(cpuCount: 0, ioapicAddress: ioapic)) {
            XCTAssertEqual($0 as? ACPIError, .invalidCPUCount(0))
        }
        XCTAssertThrowsError(try ACPITables.build(cpuCount: 255, ioapicAddress: ioapic))
        XCTAssertThrowsError(try ACPITables.build(cpuCount: 1, ioapicAddress: ioapic, sci: 2))
        XCTAssertThrowsError(try ACPITables.build(cpuCount: 1, ioapicAddress: ioapic, sci: 16))
        XCTAssertThrowsError(try ACPITables.build(cpuCount: 1, ioapicAddress: GuestAddress(1 << 32)))
        XCTAssertThrowsError(try ACPITables.build(cpuCount: 1, ioapicAddress: ioapic, base: GuestAddress(0xE0010)))
        XCTAssertThrowsError(try ACPITables.build(cpuCount: 1, ioapicAddress: ioapic, base: GuestAddress(0xFFFF_FF00)))
    }

    func testOtherPowerPortsAndSCIFlowIntoTheTables() throws {
        let image = Image(try ACPITables.build(cpuCount: 1, ioapicAddress: GuestAddress(0xFEC0_0000),
                                               powerPorts: 0xB000, sci: 5))
        let fadt = try XCTUnwrap(image.tables()["FACP"])
        XCTAssertEqual(image.u32(fadt + 56), 0xB000)
        XCTAssertEqual(image.u32(fadt + 64), 0xB004)
        XCTAssertEqual(image.u64(fadt + 120), 0xB006)
        XCTAssertEqual(image.u16(fadt + 46), 5)
        let madt = try XCTUnwrap(image.tables()["APIC"])
        XCTAssertEqual(image.bytes(madt + 44 + 8 + 12, 10), [2, 10, 0, 5, 5, 0, 0, 0, 0x0D, 0x00])
    }
}
