import XCTest
@testable import ArchX86
import LKVMCore

/// An independent reader of MP spec 1.4 tables, the way a kernel would walk them.
struct ParsedMPTable {
    struct Entry: Equatable {
        var type: UInt8
        var bytes: [UInt8]
    }

    var configAddress: UInt32
    var floatingSum: UInt8
    var tableSum: UInt8
    var baseLength: Int
    var declaredCount: Int
    var lapicAddress: UInt32
    var oem: String
    var product: String
    var entries: [Entry]

    init(_ bytes: [UInt8], base: UInt64) throws {
        XCTAssertEqual(Array(bytes[0..<4]), Array("_MP_".utf8))
        XCTAssertEqual(bytes[8], 1, "length in paragraphs")
        XCTAssertEqual(bytes[9], 4, "spec revision")
        XCTAssertEqual(Array(bytes[11..<16]), [0, 0, 0, 0, 0], "feature bytes")
        floatingSum = bytes[0..<16].reduce(0, &+)
        configAddress = le32(bytes, 4)
        let offset = Int(UInt64(configAddress) - base)
        let table = Array(bytes[offset...])
        XCTAssertEqual(Array(table[0..<4]), Array("PCMP".utf8))
        XCTAssertEqual(table[6], 4, "spec revision")
        baseLength = Int(le16(table, 4))
        XCTAssertEqual(baseLength, table.count, "base table length covers exactly the entries")
        tableSum = table[0..<baseLength].reduce(0, &+)
        oem = String(decoding: table[8..<16], as: UTF8.self)
        product = String(decoding: table[16..<28], as: UTF8.self)
        XCTAssertEqual(le32(table, 28), 0)
        declaredCount = Int(le16(table, 34))
        lapicAddress = le32(table, 36)
        XCTAssertEqual(le16(table, 40), 0, "no extended table")
        var entries: [Entry] = []
        var cursor = 44
        while cursor < baseLength {
            let type = table[cursor]
            let length = type == 0 ? 20 : 8
            entries.append(Entry(type: type, bytes: Array(table[cursor..<(cursor + length)])))
            cursor += length
        }
        XCTAssertEqual(cursor, baseLength)
        self.entries = entries
    }

    func entries(ofType type: UInt8) -> [[UInt8]] { entries.filter { $0.type == type }.map(\.bytes) }
}

final class MPTableTests: XCTestCase {
    let ioapic = GuestAddress(0xFEC0_0000)
    let base = LongModeLayout.mpTableAddress

    func testLayoutForOneTwoAndEightCPUs() throws {
        for cpus in [1, 2, 8] {
            let bytes = try MPTable.build(cpuCount: cpus, ioapicAddress: ioapic, base: base)
            XCTAssertEqual(bytes.count, 212 + 20 * cpus)
            let parsed = try ParsedMPTable(bytes, base: base.raw)
            XCTAssertEqual(parsed.floatingSum, 0, "floating pointer checksum")
            XCTAssertEqual(parsed.tableSum, 0, "configuration table checksum")
            XCTAssertEqual(parsed.configAddress, 0x9_FC10)
            XCTAssertEqual(parsed.oem, "LKVM    ")
            XCTAssertEqual(parsed.product, "PC          ")
            XCTAssertEqual(parsed.lapicAddress, 0xFEE0_0000)
            XCTAssertEqual(parsed.declaredCount, parsed.entries.count)
            XCTAssertEqual(parsed.entries.count, cpus + 1 + 1 + 15 + 2)
            // Grouped in ascending type order.
            XCTAssertEqual(parsed.entries.map(\.type), parsed.entries.map(\.type).sorted())

            let processors = parsed.entries(ofType: 0)
            XCTAssertEqual(processors.count, cpus)
            for (index, cpu) in processors.enumerated() {
                XCTAssertEqual(cpu[1], UInt8(index), "APIC id")
                XCTAssertEqual(cpu[2], 0x14, "LAPIC version")
                XCTAssertEqual(cpu[3], index == 0 ? 0x3 : 0x1, "enabled, BSP on cpu 0")
                XCTAssertEqual(le32(cpu, 4), 0x600)
                XCTAssertEqual(le32(cpu, 8), 0x201)
            }
            XCTAssertEqual(parsed.entries(ofType: 1), [[1, 0] + Array("ISA   ".utf8)])
            XCTAssertEqual(parsed.entries(ofType: 2), [[2, UInt8(cpus), 0x11, 1, 0x00, 0x00, 0xC0, 0xFE]])

            let interrupts = parsed.entries(ofType: 3)
            let routes = interrupts.map { (irq: $0[5], pin: $0[7]) }
            XCTAssertEqual(routes.map(\.irq), [0, 1] + Array(3...15))
            XCTAssertEqual(routes.map(\.pin), [2, 1] + Array(3...15))
            for entry in interrupts {
                XCTAssertEqual(entry[1], 0, "INT")
                XCTAssertEqual(le16(entry, 2), 0, "conforming polarity/trigger")
                XCTAssertEqual(entry[4], 0, "ISA bus")
                XCTAssertEqual(entry[6], UInt8(cpus), "IOAPIC id")
            }
            XCTAssertEqual(parsed.entries(ofType: 4), [
                [4, 3, 0, 0, 0, 0, 0xFF, 0],  // ExtINT -> LINT0 of all LAPICs
                [4, 1, 0, 0, 0, 0, 0xFF, 1],  // NMI -> LINT1 of all LAPICs
            ])
        }
    }

    func testGoldenHeaderBytesForOneCPU() throws {
        let bytes = try MPTable.build(cpuCount: 1, ioapicAddress: ioapic, base: base)
        XCTAssertEqual(Array(bytes[0..<16]), [0x5F, 0x4D, 0x50, 0x5F, 0x10, 0xFC, 0x09, 0x00,
                                              0x01, 0x04, bytes[10], 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(bytes[16..<22]), [0x50, 0x43, 0x4D, 0x50, 0xD8, 0x00])  // "PCMP", 216 bytes
    }

    func testIdentityTimerRouting() throws {
        let table = try MPTable.pc(cpuCount: 1, ioapicAddress: ioapic, timerPin: 0)
        XCTAssertEqual(table.interrupts.map(\.ioapicPin), [0, 1] + Array(3...15))
        guard case .invalidMPTable? = bootError({ try MPTable.pc(cpuCount: 1, ioapicAddress: self.ioapic, timerPin: 5) }) else {
            return XCTFail()
        }
    }

    func testHugeBaseDoesNotOverflow() {
        guard case .invalidMPTable? = bootError({ try MPTable.build(cpuCount: 1, ioapicAddress: self.ioapic, base: GuestAddress(UInt64.max - 15)) }) else {
            return XCTFail()
        }
    }

    func testSizeLimit() throws {
        XCTAssertEqual(try MPTable.build(cpuCount: MPTable.maxCPUsInDefaultLimit, ioapicAddress: ioapic, base: base).count, 1012)
        assertBootError(.mpTableTooLarge(size: 1032, limit: 1024)) {
            try MPTable.build(cpuCount: MPTable.maxCPUsInDefaultLimit + 1, ioapicAddress: ioapic, base: base)
        }
        // A bigger area (e.g. in the 0xF0000 BIOS range) holds more.
        let large = try MPTable.build(cpuCount: 200, ioapicAddress: ioapic, base: GuestAddress(0xF_0000), sizeLimit: 64 << 10)
        let parsed = try ParsedMPTable(large, base: 0xF_0000)
        XCTAssertEqual(parsed.tableSum, 0)
        XCTAssertEqual(parsed.entries(ofType: 2).first?[1], 200)
    }

    func testInvalidInputs() {
        for cpus in [0, -1, 255, 1000] {
            guard case .invalidMPTable? = bootError({ try MPTable.pc(cpuCount: cpus, ioapicAddress: self.ioapic) }) else {
                return XCTFail("\(cpus) vCPUs accepted")
            }
        }
        guard case .invalidMPTable? = bootError({ try MPTable.pc(cpuCount: 1, ioapicAddress: GuestAddress(1 << 32)) }) else {
            return XCTFail()
        }
        guard case .invalidMPTable? = bootError({ try MPTable.build(cpuCount: 1, ioapicAddress: self.ioapic, base: GuestAddress(0x9_FC08)) }) else {
            return XCTFail("unaligned base accepted")
        }
        guard case .invalidMPTable? = bootError({ try MPTable.build(cpuCount: 1, ioapicAddress: self.ioapic, base: GuestAddress(0xFFFF_FF80)) }) else {
            return XCTFail("table crossing 4 GiB accepted")
        }
    }

    /// Later work adds a PCI bus and its interrupt routes; the builder takes them as data.
    func testExtensibleWithPCIBus() throws {
        var table = try MPTable.pc(cpuCount: 2, ioapicAddress: ioapic)
        table.buses.append(.pci(id: 1))
        table.interrupts.append(MPTable.IOInterrupt(flags: .activeLow | .level, sourceBus: 1,
                                                    sourceIRQ: 3 << 2 | 0, ioapicID: 2, ioapicPin: 16))
        let bytes = try table.encode(at: base)
        let parsed = try ParsedMPTable(bytes, base: base.raw)
        XCTAssertEqual(parsed.floatingSum, 0)
        XCTAssertEqual(parsed.tableSum, 0)
        XCTAssertEqual(parsed.entries(ofType: 1).last, [1, 1] + Array("PCI   ".utf8))
        XCTAssertEqual(parsed.entries(ofType: 3).last, [3, 0, 0x0F, 0x00, 1, 12, 2, 16])
        XCTAssertEqual(parsed.declaredCount, 2 + 2 + 1 + 16 + 2)

        table.buses.append(MPTable.Bus(id: 2, type: "TOOLONG"))
        guard case .invalidMPTable? = bootError({ try table.encode(at: self.base) }) else { return XCTFail() }
    }

    func testWritesIntoBaseMemory() throws {
        let ram = try makeGuestMemory([(0, 1 << 20)])
        let bytes = try MPTable.build(cpuCount: 4, ioapicAddress: ioapic, base: base)
        try ram.write(bytes, at: base)
        XCTAssertLessThanOrEqual(base.raw + UInt64(bytes.count), 0xA_0000, "stays inside base memory's last KiB")
        XCTAssertEqual(try ram.load(UInt32.self, at: base), 0x5F50_4D5F)
    }
}
