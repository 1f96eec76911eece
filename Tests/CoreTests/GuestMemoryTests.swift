@testable import LKVMCore
import LKVMTestSupport
import XCTest

final class GuestMemoryTests: XCTestCase {
    func testHostAddressesAgreeWithGuestAddressesModuloTwoMiB() throws {
        let ranges = [GuestRange(start: GuestAddress(0), size: 0x30_0000)!,
                      GuestRange(start: GuestAddress(0x50_1000), size: 0x40_0000)!,
                      GuestRange(start: GuestAddress(0x1_0000_0000), size: 0x1000)!]
        let memory = try GuestMemory(ranges: ranges)
        for mapping in memory.hostMappings {
            XCTAssertEqual(mapping.hostAddress % (2 << 20), mapping.guest.start.raw % (2 << 20),
                           "KVM can use 2 MiB stage-2 pages for \(mapping.guest)")
        }
        // The whole of each region is usable, first and last byte included.
        try memory.write([1], at: GuestAddress(0x50_1000))
        try memory.write([2], at: GuestAddress(0x50_1000 + 0x40_0000 - 1))
        XCTAssertEqual(try memory.read(1, at: GuestAddress(0x90_0FFF)), [2])
    }

    func makeMemory() throws -> GuestMemory {
        try GuestMemory(ranges: [
            GuestRange(start: GuestAddress(0), size: 0x10000)!,
            GuestRange(start: GuestAddress(0x10_0000), size: 0x2000)!,
        ])
    }

    func testTypedLittleEndianLoadsAndStores() throws {
        let memory = try makeMemory()
        try memory.store(UInt32(0x1122_3344), at: GuestAddress(0x100))
        XCTAssertEqual(try memory.read(4, at: GuestAddress(0x100)), [0x44, 0x33, 0x22, 0x11])
        XCTAssertEqual(try memory.load(UInt16.self, at: GuestAddress(0x101)), 0x2233)
        try memory.store(UInt64.max - 1, at: GuestAddress(0x10_1FF8))
        XCTAssertEqual(try memory.load(UInt64.self, at: GuestAddress(0x10_1FF8)), UInt64.max - 1)
    }

    func testAccessesOutsideOrAcrossRegionsAreRejected() throws {
        let memory = try makeMemory()
        // Straddles the end of the first region.
        XCTAssertThrowsError(try memory.load(UInt32.self, at: GuestAddress(0xFFFE))) { error in
            XCTAssertEqual(error as? GuestMemoryError, .outOfRange(GuestAddress(0xFFFE), length: 4))
        }
        // In the gap between regions.
        XCTAssertThrowsError(try memory.read(1, at: GuestAddress(0x20000)))
        // Past the last region.
        XCTAssertThrowsError(try memory.write([1, 2], at: GuestAddress(0x10_1FFF)))
        // A length that wraps the address space.
        XCTAssertFalse(memory.contains(GuestAddress(0x100), length: UInt64.max))
        XCTAssertThrowsError(try memory.store(UInt8(1), at: GuestAddress(UInt64.max)))
        XCTAssertThrowsError(try memory.read(-1, at: GuestAddress(0)))
    }

    func testEmptyAccessAtTheEndIsAllowedButNotBeyond() throws {
        let memory = try makeMemory()
        XCTAssertEqual(try memory.read(0, at: GuestAddress(0x10000)).count, 0)
        XCTAssertThrowsError(try memory.read(0, at: GuestAddress(0x10001)))
    }

    func testBadLayoutsAreRefused() {
        XCTAssertThrowsError(try GuestMemory(ranges: [
            GuestRange(start: GuestAddress(0), size: 0x2000)!,
            GuestRange(start: GuestAddress(0x1000), size: 0x2000)!,
        ])) { error in
            guard case .overlappingRegions = error as? GuestMemoryError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try GuestMemory(ranges: [GuestRange(start: GuestAddress(0x800), size: 0x1000)!]))
        XCTAssertThrowsError(try GuestMemory(ranges: [GuestRange(start: GuestAddress(0), size: 0)!]))
        XCTAssertNil(GuestRange(start: GuestAddress(UInt64.max - 10), size: 0x100))
    }

    func testHostMappingsDescribeEveryRegionForKVM() throws {
        let mappings = try makeMemory().hostMappings
        XCTAssertEqual(mappings.map(\.guest.start.raw), [0, 0x10_0000])
        XCTAssertTrue(mappings.allSatisfy { $0.hostAddress != 0 && $0.hostAddress % 4096 == 0 })
    }

    func testDiscardZeroesThePagesAndLeavesTheirNeighbours() throws {
        let memory = try makeMemory()
        let page = GuestMemory.hostPageSize
        try XCTSkipIf(page > 0x4000, "host pages of \(page) bytes do not fit this layout")
        try memory.fill(0xAB, count: 0x10000, at: GuestAddress(0))
        try memory.discard(GuestRange(start: GuestAddress(page), size: 2 * page)!)
        XCTAssertEqual(try memory.read(Int(2 * page), at: GuestAddress(page)), Array(repeating: 0, count: Int(2 * page)))
        XCTAssertEqual(try memory.read(Int(page), at: GuestAddress(0)), Array(repeating: 0xAB, count: Int(page)))
        XCTAssertEqual(try memory.read(Int(page), at: GuestAddress(3 * page)), Array(repeating: 0xAB, count: Int(page)))
        try memory.store(UInt32(7), at: GuestAddress(page))
        XCTAssertEqual(try memory.load(UInt32.self, at: GuestAddress(page)), 7, "a discarded page is usable again")
    }

    func testDiscardRefusesMisalignedRangesAndRangesOutsideRAM() throws {
        let memory = try makeMemory()
        let page = GuestMemory.hostPageSize
        try memory.fill(0xAB, count: 0x100, at: GuestAddress(0))
        XCTAssertThrowsError(try memory.discard(GuestRange(start: GuestAddress(0x10), size: page)!)) {
            XCTAssertEqual($0 as? GuestMemoryError,
                           .discardMisaligned(GuestRange(start: GuestAddress(0x10), size: page)!, pageSize: page))
        }
        XCTAssertThrowsError(try memory.discard(GuestRange(start: GuestAddress(0), size: page + 1)!))
        // In the gap between the regions, and across the end of the first.
        XCTAssertThrowsError(try memory.discard(GuestRange(start: GuestAddress(0x20000), size: page)!))
        XCTAssertThrowsError(try memory.discard(GuestRange(start: GuestAddress(0x10000 - page), size: 2 * page)!))
        XCTAssertEqual(try memory.read(0x100, at: GuestAddress(0)), Array(repeating: 0xAB, count: 0x100),
                       "refused discards leave RAM alone")
        XCTAssertNoThrow(try memory.discard(GuestRange(start: GuestAddress(0), size: 0)!), "nothing to give back")
    }

    func testDiscardedMemoryLeavesTheProcess() throws {
        let memory = try GuestMemory(ranges: [GuestRange(start: GuestAddress(0), size: 16 << 20)!])
        let mapping = try XCTUnwrap(memory.hostMappings.first)
        try memory.fill(0x5A, count: 16 << 20, at: GuestAddress(0))
        let touched = try XCTUnwrap(residentBytes(of: mapping), "no /proc/self/smaps entry for guest RAM")
        XCTAssertGreaterThanOrEqual(touched, 16 << 20)
        try memory.discard(GuestRange(start: GuestAddress(4 << 20), size: 8 << 20)!)
        let after = try XCTUnwrap(residentBytes(of: mapping))
        XCTAssertEqual(touched - after, 8 << 20, "the 8 MiB given back are no longer resident")
    }
}
