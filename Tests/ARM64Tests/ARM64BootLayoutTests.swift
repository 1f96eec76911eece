import XCTest
@testable import ArchARM64
import LKVMCore

final class ARM64BootLayoutTests: XCTestCase {
    let mib: UInt64 = 1 << 20

    func ram(_ base: UInt64, mib count: UInt64) -> [GuestRange] {
        [GuestRange(start: GuestAddress(base), size: count * mib)!]
    }

    func testKernelAtBaseDeviceTreeAtTopInitrdBelow() throws {
        let image = try ARM64Image(ARM64Fixtures.syntheticImage(textOffset: 0x80000, imageSize: 0x100_0000))
        let layout = try ARM64BootLayout(ram: ram(0x4000_0000, mib: 256), image: image, initrdSize: 0x12345)
        XCTAssertEqual(layout.kernelLoad, GuestAddress(0x4008_0000))
        XCTAssertEqual(layout.kernel.end, 0x4108_0000)
        XCTAssertEqual(layout.deviceTree, GuestAddress(0x4FE0_0000))
        XCTAssertEqual(layout.deviceTree.raw % (2 * mib), 0)
        let initrd = try XCTUnwrap(layout.initrd)
        XCTAssertEqual(initrd.size, 0x12345)
        XCTAssertEqual(initrd.start.raw % 4096, 0)
        XCTAssertLessThanOrEqual(initrd.end, layout.deviceTree.raw)
        XCTAssertGreaterThan(initrd.start.raw, layout.deviceTree.raw - 0x13000 - 1)
    }

    func testUnalignedRAMBaseMovesKernelToNext2MiB() throws {
        let image = try ARM64Image(ARM64Fixtures.syntheticImage())
        let layout = try ARM64BootLayout(ram: ram(0x4010_0000, mib: 64), image: image, initrdSize: nil)
        XCTAssertEqual(layout.kernelLoad, GuestAddress(0x4020_0000))
        XCTAssertNil(layout.initrd)
    }

    func testWholeImageSizeMustFit() throws {
        let image = try ARM64Image(ARM64Fixtures.syntheticImage(imageSize: 0x400_0000))
        XCTAssertEqual(thrownError(ARM64BootLayoutError.self) {
            try ARM64BootLayout(ram: self.ram(0x4000_0000, mib: 32), image: image, initrdSize: nil)
        }, .kernelDoesNotFit(imageSize: 0x400_0000, load: GuestAddress(0x4000_0000), bank: ram(0x4000_0000, mib: 32)[0]))
        XCTAssertEqual(thrownError(ARM64BootLayoutError.self) {
            try ARM64BootLayout(ram: self.ram(0x4000_0000, mib: 65), image: image, initrdSize: nil)
        }, .noRoomForDeviceTree(kernelEnd: 0x4400_0000, bank: ram(0x4000_0000, mib: 65)[0]))
        XCTAssertNoThrow(try ARM64BootLayout(ram: ram(0x4000_0000, mib: 66), image: image, initrdSize: nil))
    }

    func testInitrdThatDoesNotFit() throws {
        let image = try ARM64Image(ARM64Fixtures.syntheticImage(imageSize: 0x100_0000))
        let error = thrownError(ARM64BootLayoutError.self) {
            try ARM64BootLayout(ram: self.ram(0x4000_0000, mib: 32), image: image, initrdSize: 15 * self.mib)
        }
        XCTAssertEqual(error, .initrdDoesNotFit(size: 15 * mib, available: 14 * mib))
        XCTAssertTrue(error?.description.contains("-m") == true)
    }

    func testInitrdStaysInThe32GiBWindowOfTheKernel() throws {
        let image = try ARM64Image(ARM64Fixtures.syntheticImage())
        let layout = try ARM64BootLayout(ram: ram(0x4000_0000, mib: 64 << 10), image: image, initrdSize: mib)
        XCTAssertEqual(layout.deviceTree.raw, 0x4000_0000 + (32 << 30) - 2 * mib)
        XCTAssertLessThanOrEqual(try XCTUnwrap(layout.initrd).end, 0x4000_0000 + (32 << 30))
    }
}
