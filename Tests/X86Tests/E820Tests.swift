import XCTest
@testable import ArchX86
import LKVMCore

final class E820Tests: XCTestCase {
    let biosArea = guestRange(0x9_FC00, 0x10_0000 - 0x9_FC00)

    func testTypical512MiB() throws {
        let map = try E820Map.build(ram: [guestRange(0, 512 << 20)], reserved: [biosArea])
        XCTAssertEqual(map, [
            E820Entry(address: 0, size: 0x9_FC00, type: .ram),
            E820Entry(address: 0x9_FC00, size: 0x400 + 0x6_0000, type: .reserved),
            E820Entry(address: 0x10_0000, size: (512 << 20) - 0x10_0000, type: .ram),
        ])
    }

    func testAboveFourGiBWithHole() throws {
        let low = guestRange(0, 3 << 30)
        let high = guestRange(4 << 30, 2 << 30)
        let ioapic = guestRange(0xFEC0_0000, 0x1000)
        let map = try E820Map.build(ram: [low, high], reserved: [biosArea, ioapic])
        XCTAssertEqual(map, [
            E820Entry(address: 0, size: 0x9_FC00, type: .ram),
            E820Entry(address: 0x9_FC00, size: 0x6_0400, type: .reserved),
            E820Entry(address: 0x10_0000, size: (3 << 30) - 0x10_0000, type: .ram),
            // Reserved ranges outside RAM are still listed.
            E820Entry(address: 0xFEC0_0000, size: 0x1000, type: .reserved),
            E820Entry(address: 4 << 30, size: 2 << 30, type: .ram),
        ])
    }

    func testReservedAtEdgesAndSpanningRAMEnd() throws {
        let map = try E820Map.build(ram: [guestRange(0, 0x10_0000)],
                                    reserved: [guestRange(0, 0x1000), guestRange(0xF_0000, 0x2_0000)])
        XCTAssertEqual(map, [
            E820Entry(address: 0, size: 0x1000, type: .reserved),
            E820Entry(address: 0x1000, size: 0xE_F000, type: .ram),
            E820Entry(address: 0xF_0000, size: 0x2_0000, type: .reserved),
        ])
    }

    func testAdjacentRangesMerge() throws {
        let map = try E820Map.build(ram: [guestRange(0, 0x10_0000), guestRange(0x10_0000, 0x10_0000)],
                                    reserved: [guestRange(0x8_0000, 0x1_0000), guestRange(0x9_0000, 0x1_0000)])
        XCTAssertEqual(map, [
            E820Entry(address: 0, size: 0x8_0000, type: .ram),
            E820Entry(address: 0x8_0000, size: 0x2_0000, type: .reserved),
            E820Entry(address: 0xA_0000, size: 0x16_0000, type: .ram),
        ])
    }

    func testUnsortedAndOverlappingInput() throws {
        let map = try E820Map.build(ram: [guestRange(4 << 30, 1 << 30), guestRange(0, 1 << 30)],
                                    reserved: [guestRange(0xA_0000, 0x6_0000), biosArea, guestRange(0x9_FC00, 0x100)])
        XCTAssertEqual(map.map(\.address), [0, 0x9_FC00, 0x10_0000, 4 << 30])
        XCTAssertEqual(map.map(\.type), [.ram, .reserved, .ram, .ram])
        for (a, b) in zip(map, map.dropFirst()) { XCTAssertLessThanOrEqual(a.end, b.address) }
    }

    func testEmptyRangesIgnored() throws {
        XCTAssertEqual(try E820Map.build(ram: [guestRange(0, 0x1000)], reserved: [guestRange(0x500, 0)]),
                       [E820Entry(address: 0, size: 0x1000, type: .ram)])
        XCTAssertEqual(try E820Map.build(ram: [], reserved: []), [])
    }

    func testTooManyEntries() {
        let ram = (0..<129).map { guestRange(UInt64($0) * 0x2000, 0x1000) }
        assertBootError(.tooManyE820Entries(count: 129, maximum: 128)) { try E820Map.build(ram: ram, reserved: []) }
        XCTAssertEqual(try E820Map.build(ram: Array(ram.prefix(128)), reserved: []).count, 128)
    }

    func testEncoding() {
        let entry = E820Entry(address: 0x1_2345_6789, size: 0x10_0000, type: .reserved)
        XCTAssertEqual(entry.encoded, [0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0,
                                       0, 0, 0x10, 0, 0, 0, 0, 0,
                                       2, 0, 0, 0])
    }
}
