import XCTest
@testable import LKVMCore

final class BoardRAMLayoutTests: XCTestCase {
    private func range(_ start: UInt64, _ size: UInt64) -> GuestRange { GuestRange(start: GuestAddress(start), size: size)! }

    func testNoHolesIsOneRangeFromBase() throws {
        let ram = RAMLayout(base: GuestAddress(0x8000_0000), defaultMiB: 256)
        XCTAssertEqual(try ram.ranges(forMiB: 256), [range(0x8000_0000, 256 << 20)])
    }

    func testSkipsSeveralHolesInOrder() throws {
        // Holes given out of order: the layout sorts them.
        let ram = RAMLayout(base: GuestAddress(0), defaultMiB: 4,
                            holes: [range(0x40_0000, 0x10_0000), range(0x10_0000, 0x10_0000)])
        XCTAssertEqual(try ram.ranges(forMiB: 4), [range(0, 0x10_0000), range(0x20_0000, 0x20_0000), range(0x50_0000, 0x10_0000)])
        XCTAssertEqual(try ram.ranges(forMiB: 1), [range(0, 0x10_0000)])
    }

    func testHoleAtEndOfRAMIsNotCrossed() throws {
        // RAM that ends exactly at a hole must not produce an empty range after it.
        let ram = RAMLayout(base: GuestAddress(0), defaultMiB: 1, holes: [range(0x10_0000, 0x10_0000)])
        XCTAssertEqual(try ram.ranges(forMiB: 1), [range(0, 0x10_0000)])
    }

    func testNonPositiveAndHugeSizesFail() {
        let ram = RAMLayout(base: GuestAddress(0), defaultMiB: 1, fileName: "x.toml")
        XCTAssertThrowsError(try ram.ranges(forMiB: 0)) { error in
            assertOneLine(error as! BoardError, file: "x.toml", keyPath: "ram", ["not a positive size"])
        }
        XCTAssertThrowsError(try ram.ranges(forMiB: Int.max)) { error in
            assertOneLine(error as! BoardError, file: "x.toml", keyPath: "ram", ["64-bit"])
        }
    }

    func testMaxAddress() throws {
        let ram = RAMLayout(base: GuestAddress(0x8000_0000), defaultMiB: 1, maxAddress: 0x1_0000_0000, fileName: "v.toml")
        XCTAssertEqual(try ram.ranges(forMiB: 2048).last?.end, 0x1_0000_0000)
        XCTAssertThrowsError(try ram.ranges(forMiB: 2049)) { error in
            assertOneLine(error as! BoardError, file: "v.toml", keyPath: "ram.max_address", ["2049 MiB"])
        }
    }

    func testOverlappingHolesInFileAreRefused() {
        assertBoardError(validX86Board.replacing("holes = [{ base = 0xC0000000, size = 0x40000000 }]",
                                                 with: "holes = [{ base = 0xC0000000, size = 0x40000000 }, { base = 0xD0000000, size = 0x1000 }]"),
                         keyPath: "ram.holes[1]", "overlaps ram.holes[0]")
    }
}
