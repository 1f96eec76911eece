import XCTest
@testable import ArchX86
import LKVMCore

final class LongModeLayoutTests: XCTestCase {
    func testPageTablesGolden() throws {
        let ram = try makeGuestMemory([(0, 1 << 20)])
        _ = try LongModeLayout.write(into: ram)
        func entry(_ address: UInt64) throws -> UInt64 { try ram.load(UInt64.self, at: GuestAddress(address)) }
        XCTAssertEqual(try entry(0x9000), 0xA003, "PML4[0] -> PDPT")
        XCTAssertEqual(try entry(0x9008), 0, "PML4[1] empty")
        XCTAssertEqual(try entry(0xA000), 0xB003)
        XCTAssertEqual(try entry(0xA008), 0xC003)
        XCTAssertEqual(try entry(0xA010), 0xD003)
        XCTAssertEqual(try entry(0xA018), 0xE003)
        XCTAssertEqual(try entry(0xA020), 0, "PDPT[4] empty: only 4 GiB mapped")
        XCTAssertEqual(try entry(0xB000), 0x83, "2 MiB page at 0, present|writable|PS")
        XCTAssertEqual(try entry(0xB008), 0x20_0083)
        XCTAssertEqual(try entry(0xBFF8), 0x3FE0_0083)
        XCTAssertEqual(try entry(0xC000), 0x4000_0083)
        XCTAssertEqual(try entry(0xEFF8), 0xFFE0_0083, "last 2 MiB below 4 GiB")
        XCTAssertEqual(try ram.load(UInt64.self, at: GuestAddress(0xF000)), 0, "nothing written past 0xEFFF")

        // Every PDE maps its own index: identity.
        let tables = LongModeLayout.pageTables()
        XCTAssertEqual(tables.count, 0x6000)
        for index in 0..<2048 {
            XCTAssertEqual(le64(tables, 0x2000 + index * 8), UInt64(index) << 21 | 0x83)
        }
    }

    func testGDTGolden() throws {
        let ram = try makeGuestMemory([(0, 1 << 20)])
        let state = try LongModeLayout.write(into: ram)
        let gdt = try ram.read(48, at: GuestAddress(0x500))
        XCTAssertEqual(Array(gdt[0..<16]), [UInt8](repeating: 0, count: 16))
        XCTAssertEqual(Array(gdt[0x10..<0x18]), [0xFF, 0xFF, 0, 0, 0, 0x9B, 0xAF, 0x00])
        XCTAssertEqual(Array(gdt[0x18..<0x20]), [0xFF, 0xFF, 0, 0, 0, 0x93, 0xCF, 0x00])
        XCTAssertEqual(Array(gdt[0x20..<0x28]), [0xFF, 0xFF, 0, 0, 0, 0x8B, 0x8F, 0x00])
        XCTAssertEqual(Array(gdt[0x28..<0x30]), [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(state.gdtBase, 0x500)
        XCTAssertEqual(state.gdtLimit, 47)
        XCTAssertEqual(state.cr3, 0x9000)
        XCTAssertEqual(state.cr0, 0x8000_0011)
        XCTAssertEqual(state.cr4, 0x20)
        XCTAssertEqual(state.efer, 0x500)
    }

    func testDecodedSegments() {
        let state = LongModeLayout.cpuState
        XCTAssertEqual(state.code, SegmentDescriptor(base: 0, limit: 0xFFFF_FFFF, selector: 0x10, type: 0xB, present: true,
                                                     dpl: 0, db: false, s: true, l: true, granularity: true, avl: false))
        XCTAssertEqual(state.data, SegmentDescriptor(base: 0, limit: 0xFFFF_FFFF, selector: 0x18, type: 0x3, present: true,
                                                     dpl: 0, db: true, s: true, l: false, granularity: true, avl: false))
        XCTAssertEqual(state.tss, SegmentDescriptor(base: 0, limit: 0xFFFF_FFFF, selector: 0x20, type: 0xB, present: true,
                                                    dpl: 0, db: false, s: false, l: false, granularity: true, avl: false))
    }

    func testDescriptorDecoderFields() {
        // Base 0x12345678, limit 0x54321 byte-granular, DPL 3 data, AVL set.
        let descriptor: UInt64 = 0x12_1_5_F2_345678_4321
        let segment = SegmentDescriptor(descriptor: descriptor, selector: 0x2B)
        XCTAssertEqual(segment.base, 0x1234_5678)
        XCTAssertEqual(segment.limit, 0x5_4321)
        XCTAssertEqual(segment.type, 0x2)
        XCTAssertTrue(segment.s)
        XCTAssertEqual(segment.dpl, 3)
        XCTAssertTrue(segment.present)
        XCTAssertTrue(segment.avl)
        XCTAssertFalse(segment.granularity)
        XCTAssertFalse(segment.db)
        XCTAssertFalse(segment.l)
        XCTAssertEqual(segment.selector, 0x2B)
    }

    func testFixedAddressesDoNotCollide() {
        let areas: [(String, UInt64, UInt64)] = [
            ("gdt", 0x500, 48),
            ("zero page", LongModeLayout.zeroPageAddress.raw, 4096),
            ("page tables", LongModeLayout.pml4Address.raw, 0x6000),
            ("command line", LongModeLayout.commandLineAddress.raw, 2048),
            ("mp table", LongModeLayout.mpTableAddress.raw, 1024),
        ]
        for (index, a) in areas.enumerated() {
            for b in areas[(index + 1)...] {
                XCTAssertTrue(a.1 + a.2 <= b.1 || b.1 + b.2 <= a.1, "\(a.0) overlaps \(b.0)")
            }
        }
        XCTAssertEqual(LongModeLayout.mpTableAddress.raw + 1024, 0xA_0000)
    }
}
