import XCTest
@testable import ArchX86
import LKVMCore

/// PCI in the MP table, as an acpi=off kernel reads it: bus ids, and INTA of
/// each device routed by `PCIWindows.intxIRQ`.
final class MPTablePCITests: XCTestCase {
    let ioapic = GuestAddress(0xFEC0_0000)
    let base = LongModeLayout.mpTableAddress
    /// Boards/pc.toml's [pci].
    let windows = PCIWindows(ecam: guestRange(0xE000_0000, 0x1000_0000), mmio32: guestRange(0xC000_0000, 0x2000_0000),
                             mmio64: nil, ioPorts: PortRange(start: 0x1000, count: 0xF000), intxIRQs: 16..<20)

    func parsed(cpus: Int = 2, pci: PCIWindows?, devices: [Int]) throws -> ParsedMPTable {
        let table = try MPTable.pc(cpuCount: cpus, ioapicAddress: ioapic, timerPin: 0, pci: pci, pciDevices: devices)
        return try ParsedMPTable(try table.encode(at: base), base: base.raw)
    }

    func testPCIBusZeroAndISABusOne() throws {
        let table = try parsed(pci: windows, devices: [1, 2, 3])
        XCTAssertEqual(table.floatingSum, 0)
        XCTAssertEqual(table.tableSum, 0)
        XCTAssertEqual(table.declaredCount, table.entries.count)
        XCTAssertEqual(table.entries.map(\.type), table.entries.map(\.type).sorted(), "grouped by type")
        // Linux compares the MP bus id with the PCI bus number.
        XCTAssertEqual(table.entries(ofType: 1), [[1, 0] + Array("PCI   ".utf8), [1, 1] + Array("ISA   ".utf8)])
        let isa = table.entries(ofType: 3).filter { $0[4] == 1 }
        XCTAssertEqual(isa.map { $0[5] }, [0, 1] + Array(3...15), "ISA IRQs moved to bus 1 unchanged")
        XCTAssertEqual(table.entries(ofType: 4).map { $0[4] }, [1, 1], "ExtINT and NMI sourced from the ISA bus")
    }

    func testINTAOfEveryDeviceFollowsIntxIRQ() throws {
        let devices = [1, 2, 3, 4, 5]
        let table = try parsed(cpus: 2, pci: windows, devices: devices)
        let pci = table.entries(ofType: 3).filter { $0[4] == 0 }
        XCTAssertEqual(pci.count, devices.count, "INTA only; the host bridge (device 0) has no pin")
        for (entry, device) in zip(pci, devices) {
            let pin = try XCTUnwrap(windows.intxIRQ(device: device, pin: 1))
            // INT, level-triggered (11) and active-low (11), PCI bus 0,
            // IRQ (device << 2) | INTA, IOAPIC id 2 (= vCPUs), pin from the board.
            XCTAssertEqual(entry, [3, 0, 0x0F, 0x00, 0, UInt8(device << 2), 2, UInt8(pin)], "device \(device)")
        }
        XCTAssertEqual(pci.map { $0[7] }, [17, 18, 19, 16, 17])
    }

    func testNoINTxMeansBusButNoRoutes() throws {
        let msiOnly = PCIWindows(ecam: windows.ecam, mmio32: windows.mmio32, mmio64: nil, ioPorts: nil, intxIRQs: nil)
        let table = try parsed(pci: msiOnly, devices: [1, 2])
        XCTAssertEqual(table.entries(ofType: 1).count, 2)
        XCTAssertTrue(table.entries(ofType: 3).allSatisfy { $0[4] == 1 })
    }

    func testBoardWithoutPCIIsUnchanged() throws {
        let withoutPCI = try MPTable.pc(cpuCount: 2, ioapicAddress: ioapic, timerPin: 0, pciDevices: [1, 2])
        XCTAssertEqual(withoutPCI, try MPTable.pc(cpuCount: 2, ioapicAddress: ioapic, timerPin: 0))
        XCTAssertEqual(withoutPCI.buses, [.isa(id: 0)])
    }

    func testTooBigForTheEBDAIsATypedError() throws {
        // 1 KiB at 0x9FC00: 212 bytes of fixed entries, 20 per vCPU, 8 for the
        // PCI bus and 8 per device.
        let allDevices = Array(1..<32)
        let fits = (1024 - 212 - 8 - 8 * allDevices.count) / 20
        XCTAssertNoThrow(try MPTable.pc(cpuCount: fits, ioapicAddress: ioapic, pci: windows, pciDevices: allDevices)
            .encode(at: base))
        let size = 212 + 20 * (fits + 1) + 8 + 8 * allDevices.count
        assertBootError(.mpTableTooLarge(size: size, limit: 1024)) {
            try MPTable.pc(cpuCount: fits + 1, ioapicAddress: ioapic, pci: windows, pciDevices: allDevices).encode(at: base)
        }
        XCTAssertTrue(BootError.mpTableTooLarge(size: size, limit: 1024).description.contains("PCI devices"))
    }

    func testDeviceNumbersOutsideBusZeroAreRefused() {
        for device in [-1, 32] {
            guard case .invalidMPTable? = bootError({
                try MPTable.pc(cpuCount: 1, ioapicAddress: self.ioapic, pci: self.windows, pciDevices: [device])
            }) else {
                return XCTFail("device \(device) accepted")
            }
        }
    }
}
