import Foundation
import XCTest
@testable import ArchX86
import LKVMCore

/// The PCI root in ACPI: MCFG, and \_SB.PCI0 / \_SB.MBRD in the DSDT, read
/// back with offsets and encodings from the ACPI 6.5 and PCI firmware specs.
final class ACPIPCITests: XCTestCase {
    let ioapic = GuestAddress(0xFEC0_0000)
    /// Boards/pc.toml's [pci], plus a 64-bit window.
    let windows = PCIWindows(ecam: guestRange(0xE000_0000, 0x1000_0000), mmio32: guestRange(0xC000_0000, 0x2000_0000),
                             mmio64: guestRange(0x80_0000_0000, 0x80_0000_0000),
                             ioPorts: PortRange(start: 0x1000, count: 0xF000), intxIRQs: 16..<20)

    func tables(_ pci: PCIWindows?) throws -> [ACPITables.Placed] {
        try ACPITables.build(cpuCount: 2, ioapicAddress: ioapic, pci: pci)
    }

    func table(_ signature: String, _ pci: PCIWindows?) throws -> [UInt8] {
        try XCTUnwrap(tables(pci).first { $0.signature == signature }?.bytes, signature)
    }

    /// The DSDT's AML after its header.
    func dsdtAML(_ pci: PCIWindows?) throws -> [UInt8] {
        Array(try table("DSDT", pci).dropFirst(36))
    }

    func testMCFGBytesAndChecksum() throws {
        let mcfg = try table("MCFG", windows)
        XCTAssertEqual(Array(mcfg[0..<4]), Array("MCFG".utf8))
        XCTAssertEqual(le32(mcfg, 4), 60, "header, 8 reserved bytes, one 16-byte allocation")
        XCTAssertEqual(mcfg.count, 60)
        XCTAssertEqual(mcfg[8], 1, "revision")
        XCTAssertEqual(mcfg.reduce(0, &+), 0, "checksum")
        XCTAssertEqual(Array(mcfg[36..<44]), [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(le64(mcfg, 44), 0xE000_0000, "ECAM base")
        XCTAssertEqual(le16(mcfg, 52), 0, "segment")
        XCTAssertEqual(mcfg[54], 0, "start bus")
        XCTAssertEqual(mcfg[55], 0xFF, "end bus")
        XCTAssertEqual(Array(mcfg[56..<60]), [0, 0, 0, 0])

        let small = PCIWindows(ecam: guestRange(0xB000_0000, 0x400_0000), mmio32: windows.mmio32, mmio64: nil,
                               ioPorts: nil, intxIRQs: nil)
        let smallMCFG = try table("MCFG", small)
        XCTAssertEqual(le64(smallMCFG, 44), 0xB000_0000)
        XCTAssertEqual(smallMCFG[55], 63, "64 buses")
        XCTAssertEqual(smallMCFG.reduce(0, &+), 0)
    }

    func testRSDTAndXSDTListTheMCFG() throws {
        let placed = try tables(windows)
        let address = { (signature: String) in try XCTUnwrap(placed.first { $0.signature == signature }) }
        let rsdt = try address("RSDT").bytes
        let xsdt = try address("XSDT").bytes
        XCTAssertEqual(rsdt.reduce(0, &+), 0)
        XCTAssertEqual(xsdt.reduce(0, &+), 0)
        let fromRSDT = stride(from: 36, to: rsdt.count, by: 4).map { UInt64(le32(rsdt, $0)) }
        let fromXSDT = stride(from: 36, to: xsdt.count, by: 8).map { le64(xsdt, $0) }
        XCTAssertEqual(fromRSDT, fromXSDT)
        let expected = try ["FACP", "APIC", "MCFG"].map { try address($0).address.raw }
        XCTAssertEqual(fromXSDT, expected)
        XCTAssertLessThanOrEqual(xsdt.count, 0x40, "the XSDT fits before the FADT")
        _ = ACPITablesTests.Image(placed)  // fails on overlapping tables (MCFG in the gap after the FADT)
        for table in placed where !["RSD PTR ", "FACS"].contains(table.signature) {
            XCTAssertEqual(table.bytes.reduce(0, &+), 0, "\(table.signature) checksum")
        }
    }

    func testBoardWithoutPCIGetsNoneOfIt() throws {
        let placed = try tables(nil)
        XCTAssertNil(placed.first { $0.signature == "MCFG" })
        let xsdt = try XCTUnwrap(placed.first { $0.signature == "XSDT" }).bytes
        XCTAssertEqual(xsdt.count, 36 + 16, "FADT and MADT only")
        let aml = try dsdtAML(nil)
        XCTAssertThrowsError(try AMLTestReader.device("PCI0", in: aml))
        XCTAssertThrowsError(try AMLTestReader.device("MBRD", in: aml))
    }

    func testPCI0IdentityObjects() throws {
        let pci0 = try AMLTestReader.device("PCI0", in: try dsdtAML(windows))
        // EISAID("PNP0A08") = 0x080AD041, ("PNP0A03") = 0x030AD041, as DWord constants.
        let hid = try XCTUnwrap(AMLTestReader.namedObject("_HID", in: pci0))
        XCTAssertEqual(Array(pci0[hid..<(hid + 5)]), [0x0C, 0x41, 0xD0, 0x0A, 0x08])
        let cid = try XCTUnwrap(AMLTestReader.namedObject("_CID", in: pci0))
        XCTAssertEqual(Array(pci0[cid..<(cid + 5)]), [0x0C, 0x41, 0xD0, 0x0A, 0x03])
        for name in ["_SEG", "_BBN", "_UID"] {
            let object = try XCTUnwrap(AMLTestReader.namedObject(name, in: pci0), name)
            XCTAssertEqual(pci0[object], 0x00, "\(name) is Zero")
        }
        XCTAssertEqual(AML.eisaID("PNP0C02"), [0x0C, 0x41, 0xD0, 0x0C, 0x02])
    }

    func testPCI0ResourcesMatchTheBoardWindows() throws {
        let pci0 = try AMLTestReader.device("PCI0", in: try dsdtAML(windows))
        let crs = try XCTUnwrap(AMLTestReader.namedObject("_CRS", in: pci0))
        let resources = try AMLTestReader.resources(try AMLTestReader.buffer(pci0, at: crs))
        XCTAssertEqual(resources.map(\.tag), [0x88, 0x08, 0x88, 0x88, 0x87, 0x8A, 0x0F])

        /// (type, min, max) of an address space descriptor, checking the rest.
        func window(_ resource: AMLTestReader.Resource, width: Int, typeFlags: UInt8) -> (UInt8, UInt64, UInt64) {
            XCTAssertEqual(resource.data.count, 3 + 5 * width)
            XCTAssertEqual(resource.data[1], 0x0C, "producer, positive decode, min and max fixed")
            XCTAssertEqual(resource.data[2], typeFlags)
            XCTAssertEqual(resource.u(3, width), 0, "granularity")
            let minimum = resource.u(3 + width, width)
            let maximum = resource.u(3 + 2 * width, width)
            XCTAssertEqual(resource.u(3 + 3 * width, width), 0, "no translation")
            XCTAssertEqual(resource.u(3 + 4 * width, width), maximum - minimum + 1, "length")
            return (resource.data[0], minimum, maximum)
        }
        XCTAssertTrue(window(resources[0], width: 2, typeFlags: 0) == (2, 0, 0xFF), "buses 0-255")
        XCTAssertEqual(resources[1].data, [0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08], "IO (Decode16, 0xCF8, 0xCF8, 1, 8)")
        let legacy = window(resources[2], width: 2, typeFlags: 3)
        XCTAssertTrue(legacy == (1, 0, 0xCF7), "legacy ports")
        XCTAssertTrue(window(resources[3], width: 2, typeFlags: 3) == (1, 0x1000, 0xFFFF), "io_ports")
        XCTAssertTrue(window(resources[4], width: 4, typeFlags: 1) == (0, 0xC000_0000, 0xDFFF_FFFF), "mmio32")
        XCTAssertTrue(window(resources[5], width: 8, typeFlags: 1) == (0, 0x80_0000_0000, 0xFF_FFFF_FFFF), "mmio64")
        XCTAssertEqual(resources[6].data, [0x00], "end tag, checksum 0")
        for port: UInt64 in [0x3F8, 0x60, 0x64, 0x70, 0x600, 0x607] {
            XCTAssertTrue((legacy.1...legacy.2).contains(port), "legacy port \(port) passes down the root bus")
        }
    }

    func testIOWindowsLeaveOutTheConfigPorts() throws {
        func ioWindows(_ ports: PortRange?) throws -> [ClosedRange<UInt16>] {
            try ACPIPCIRootBridge(windows: PCIWindows(ecam: windows.ecam, mmio32: windows.mmio32, mmio64: nil,
                                                      ioPorts: ports, intxIRQs: nil)).ioWindows
        }
        XCTAssertEqual(try ioWindows(nil), [0...0xCF7])
        XCTAssertEqual(try ioWindows(PortRange(start: 0x1000, count: 0xF000)), [0...0xCF7, 0x1000...0xFFFF])
        XCTAssertEqual(try ioWindows(PortRange(start: 0x800, count: 0xF800)), [0...0xCF7, 0xD00...0xFFFF])
        XCTAssertEqual(try ioWindows(PortRange(start: 0xCF8, count: 8)), [0...0xCF7])
        XCTAssertEqual(try ioWindows(PortRange(start: 0xD00, count: 0x100)), [0...0xCF7, 0xD00...0xDFF])
    }

    func testRoutingTableFollowsIntxIRQ() throws {
        let pci0 = try AMLTestReader.device("PCI0", in: try dsdtAML(windows))
        let prt = try XCTUnwrap(AMLTestReader.namedObject("_PRT", in: pci0))
        let outer = try AMLTestReader.package(pci0, at: prt)
        XCTAssertEqual(outer.declared, 128)
        XCTAssertEqual(outer.elements.count, 128, "devices 0-31 x INTA-INTD")
        var routes: [[UInt64]: UInt64] = [:]
        for element in outer.elements {
            let entry = try AMLTestReader.package(pci0, at: element)
            XCTAssertEqual(entry.declared, 4)
            let values = try entry.elements.map { try AMLTestReader.integer(pci0, at: $0).value }
            XCTAssertEqual(values.count, 4)
            XCTAssertEqual(values[0] & 0xFFFF, 0xFFFF, "any function")
            XCTAssertEqual(values[2], 0, "source Zero: a GSI, no link device")
            routes[[values[0] >> 16, values[1]]] = values[3]
        }
        XCTAssertEqual(routes.count, 128)
        for (device, pin) in [(0, 1), (1, 1), (1, 2), (2, 1), (3, 4), (5, 3), (31, 1), (31, 4)] {
            XCTAssertEqual(routes[[UInt64(device), UInt64(pin - 1)]], UInt64(try XCTUnwrap(windows.intxIRQ(device: device, pin: pin))),
                           "device \(device) pin \(pin)")
        }
        XCTAssertEqual(routes[[1, 0]], 17, "INTA of device 1 on pin 17 (board swizzle)")

        let noINTx = PCIWindows(ecam: windows.ecam, mmio32: windows.mmio32, mmio64: nil, ioPorts: nil, intxIRQs: nil)
        let bare = try AMLTestReader.device("PCI0", in: try dsdtAML(noINTx))
        XCTAssertNil(AMLTestReader.namedObject("_PRT", in: bare), "MSI-X only: no _PRT")
        XCTAssertNotNil(AMLTestReader.namedObject("_CRS", in: bare))
    }

    func testMotherboardResourcesReserveECAM() throws {
        let mbrd = try AMLTestReader.device("MBRD", in: try dsdtAML(windows))
        let hid = try XCTUnwrap(AMLTestReader.namedObject("_HID", in: mbrd))
        XCTAssertEqual(Array(mbrd[hid..<(hid + 5)]), AML.eisaID("PNP0C02"))
        let crs = try XCTUnwrap(AMLTestReader.namedObject("_CRS", in: mbrd))
        let resources = try AMLTestReader.resources(try AMLTestReader.buffer(mbrd, at: crs))
        XCTAssertEqual(resources.map(\.tag), [0x86, 0x0F])
        XCTAssertEqual(resources[0].data[0], 1, "read-write")
        XCTAssertEqual(resources[0].u(1, 4), 0xE000_0000)
        XCTAssertEqual(resources[0].u(5, 4), 0x1000_0000)
    }

    func testDSDTKeepsS5FirstAndChecksums() throws {
        let dsdt = try table("DSDT", windows)
        XCTAssertEqual(dsdt.reduce(0, &+), 0)
        XCTAssertEqual(Array(dsdt[36...].prefix(ACPIDSDT.aml().count)), ACPIDSDT.aml())
        if let path = ProcessInfo.processInfo.environment["LKVM_DUMP_PCI_DSDT"] {
            try Data(dsdt).write(to: URL(fileURLWithPath: path))
            try Data(try table("MCFG", windows)).write(to: URL(fileURLWithPath: path + ".mcfg"))
        }
    }

    func testWindowsACPICannotDescribeAreTypedErrors() {
        let high32 = PCIWindows(ecam: windows.ecam, mmio32: guestRange(0xF000_0000, 0x2000_0000), mmio64: nil,
                                ioPorts: nil, intxIRQs: nil)
        XCTAssertThrowsError(try tables(high32)) {
            guard case .badPCIWindows = $0 as? ACPIError else { return XCTFail("\($0)") }
        }
        let noBus = PCIWindows(ecam: guestRange(0xE000_0000, 0x8_0000), mmio32: windows.mmio32, mmio64: nil,
                               ioPorts: nil, intxIRQs: nil)
        XCTAssertThrowsError(try tables(noBus))
    }
}
