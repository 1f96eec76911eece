import XCTest
@testable import ArchX86

final class BzImageKernelReleaseTests: XCTestCase {
    func testDebiansKernelNamesItsRelease() throws {
        XCTAssertEqual(SetupHeader.kernelRelease(of: try debianKernelHead()), "6.1.0-57-amd64")
    }

    func testNoVersionPointerOrNoBzImageIsNil() throws {
        var head = try debianKernelHead()
        head[0x20E] = 0
        head[0x20F] = 0
        XCTAssertNil(SetupHeader.kernelRelease(of: head))
        XCTAssertNil(SetupHeader.kernelRelease(of: Array(repeating: 0, count: 4096)))
        var pointingOutside = try debianKernelHead()
        pointingOutside[0x20E] = 0xFF
        pointingOutside[0x20F] = 0xFF
        XCTAssertNil(SetupHeader.kernelRelease(of: pointingOutside))
    }
}
