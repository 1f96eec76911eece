@testable import ArchX86
import LKVMCore
import Foundation
import XCTest

final class ACPIVirtioMMIOTests: XCTestCase {
    let devices = [
        ACPIVirtioMMIODevice(window: GuestRange(start: GuestAddress(0xF000_0000), size: 0x1000)!, gsi: 10),
        ACPIVirtioMMIODevice(window: GuestRange(start: GuestAddress(0xF000_1000), size: 0x1000)!, gsi: 11),
    ]

    func testDeviceNodeBytes() {
        let node = devices[1].aml(index: 1)
        // Device (VR01) { _HID "LNRO0005", _UID 1, _CRS { Memory32Fixed, Interrupt, End } }
        let expected: [UInt8] = [0x5B, 0x82, 0x3A] + Array("VR01".utf8)
            + [0x08] + Array("_HID".utf8) + [0x0D] + Array("LNRO0005".utf8) + [0x00]
            + [0x08] + Array("_UID".utf8) + [0x01]
            + [0x08] + Array("_CRS".utf8) + [0x11, 0x1A, 0x0A, 0x17]
            + [0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xF0, 0x00, 0x10, 0x00, 0x00]
            + [0x89, 0x06, 0x00, 0x03, 0x01, 0x0B, 0x00, 0x00, 0x00]
            + [0x79, 0x00]
        XCTAssertEqual(node, expected)
        XCTAssertEqual(Int(node[2]) + 2, node.count, "PkgLength covers itself and what follows")
    }

    func testDSDTPutsDevicesUnderSBAfterS5() {
        let aml = ACPIDSDT.aml(virtioMMIO: devices)
        let withoutDevices = ACPIDSDT.aml()
        XCTAssertEqual(Array(aml.prefix(withoutDevices.count)), withoutDevices, "_S5 first, unchanged")
        let scope = withoutDevices.count
        XCTAssertEqual(aml[scope], 0x10, "ScopeOp")
        let lengthBytes = 1 + Int(aml[scope + 1] >> 6)
        XCTAssertEqual(Array(aml[(scope + 1 + lengthBytes)...].prefix(5)), Array("\\_SB_".utf8))
        XCTAssertEqual(aml.count - scope - 1, Int(aml[scope + 1] & 0x0F) | Int(aml[scope + 2]) << 4,
                       "two-byte PkgLength covers the whole scope")
    }

    func testTablesStayConsistentWithDevices() throws {
        let tables = try ACPITables.build(cpuCount: 8, ioapicAddress: GuestAddress(0xFEC0_0000), virtioMMIO: devices)
        let dsdt = try XCTUnwrap(tables.first { $0.signature == "DSDT" })
        let madt = try XCTUnwrap(tables.first { $0.signature == "APIC" })
        XCTAssertGreaterThanOrEqual(dsdt.address.raw, madt.address.raw + UInt64(madt.bytes.count), "no overlap")
        XCTAssertEqual(dsdt.bytes.reduce(0, &+), 0, "checksum")
        let fadt = try XCTUnwrap(tables.first { $0.signature == "FACP" })
        let dsdtPointer = UInt32(fadt.bytes[40]) | UInt32(fadt.bytes[41]) << 8 | UInt32(fadt.bytes[42]) << 16 | UInt32(fadt.bytes[43]) << 24
        XCTAssertEqual(UInt64(dsdtPointer), dsdt.address.raw)
        if let path = ProcessInfo.processInfo.environment["LKVM_DUMP_DSDT"] {
            try Data(dsdt.bytes).write(to: URL(fileURLWithPath: path))
        }
    }
}
