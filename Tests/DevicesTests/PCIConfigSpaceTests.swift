import LKVMCore
@testable import LKVMDevices
import XCTest

/// The type-0 header as Linux's PCI core reads and writes it.
final class PCIConfigSpaceTests: XCTestCase {
    private func makeSpace() -> PCIConfigSpace {
        PCIConfigSpace(vendorID: 0x1AF4, deviceID: 0x1042, revision: 0x01, classCode: 0x01_80_00,
                       subsystemVendorID: 0x1AF4, subsystemID: 0x0002, interruptPin: 1)
    }

    func testHeaderFieldsReadByByteWordAndDword() {
        let space = makeSpace()
        XCTAssertEqual(space.read(offset: 0x00, size: 4), 0x1042_1AF4)
        XCTAssertEqual(space.read(offset: 0x00, size: 2), 0x1AF4)
        XCTAssertEqual(space.read(offset: 0x02, size: 2), 0x1042)
        XCTAssertEqual(space.read(offset: 0x01, size: 1), 0x1A)
        XCTAssertEqual(space.read(offset: 0x03, size: 1), 0x10)
        XCTAssertEqual(space.read(offset: 0x08, size: 4), 0x0180_0001)
        XCTAssertEqual(space.read(offset: 0x08, size: 1), 0x01, "revision")
        XCTAssertEqual(space.read(offset: 0x09, size: 1), 0x00, "prog IF")
        XCTAssertEqual(space.read(offset: 0x0A, size: 2), 0x0180, "class and subclass, as Linux reads them")
        XCTAssertEqual(space.read(offset: 0x0B, size: 1), 0x01)
        XCTAssertEqual(space.read(offset: 0x0E, size: 1), 0x00, "header type 0, single function")
        XCTAssertEqual(space.read(offset: 0x2C, size: 4), 0x0002_1AF4)
        XCTAssertEqual(space.read(offset: 0x2E, size: 2), 0x0002)
        XCTAssertEqual(space.read(offset: 0x3D, size: 1), 1, "INTA")
        XCTAssertEqual(space.read(offset: 0x30, size: 4), 0, "no expansion ROM")
    }

    func testIdentityRegistersAreReadOnly() {
        let space = makeSpace()
        for offset in stride(from: 0, to: 0x40, by: 4) where ![0x04, 0x3C].contains(offset) && !(0x10..<0x28).contains(offset) {
            let before = space.read(offset: offset, size: 4)
            space.write(offset: offset, size: 4, value: 0x5A5A_5A5A)
            XCTAssertEqual(space.read(offset: offset, size: 4), before, "register \(hex(offset))")
        }
        space.write(offset: 0x3D, size: 1, value: 4)
        XCTAssertEqual(space.read(offset: 0x3D, size: 1), 1, "interrupt pin is read-only")
    }

    func testCommandKeepsOnlyWritableBitsAndStatusIsRW1C() {
        let space = makeSpace()
        space.write(offset: 0x04, size: 2, value: 0xFFFF)
        XCTAssertEqual(space.read(offset: 0x04, size: 2), 0x0547, "IO, memory, master, parity, SERR, INTx disable")
        XCTAssertTrue(space.memoryDecodeEnabled)
        XCTAssertTrue(space.ioDecodeEnabled)
        XCTAssertTrue(space.busMasterEnabled)
        XCTAssertTrue(space.intxDisabled)
        space.write(offset: 0x06, size: 2, value: 0xFFFF)
        XCTAssertEqual(space.read(offset: 0x06, size: 2), 0, "writing ones to status clears, never sets")
        XCTAssertEqual(space.read(offset: 0x04, size: 2), 0x0547, "a status write leaves command alone")
        space.write(offset: 0x05, size: 1, value: 0)
        XCTAssertEqual(space.read(offset: 0x04, size: 2), 0x0047, "byte write to the high command byte")
        XCTAssertFalse(space.intxDisabled)
        space.write(offset: 0x04, size: 4, value: 0xFFFF_0002)
        XCTAssertTrue(space.memoryDecodeEnabled)
        XCTAssertFalse(space.ioDecodeEnabled)
        XCTAssertFalse(space.busMasterEnabled)
    }

    func test32BitBARSizing() {
        let space = makeSpace()
        space.declareBAR(0, kind: .memory32, size: 0x4000)
        space.write(offset: 0x10, size: 4, value: 0xFFFF_FFFF)
        XCTAssertEqual(space.read(offset: 0x10, size: 4), 0xFFFF_C000)
        space.write(offset: 0x10, size: 4, value: 0xC000_1234)
        XCTAssertEqual(space.read(offset: 0x10, size: 4), 0xC000_0000, "bits below the size are not writable")
        XCTAssertEqual(space.barAddress(0), 0xC000_0000)
        XCTAssertEqual(space.read(offset: 0x12, size: 2), 0xC000, "sub-dword read of a BAR")
    }

    func test64BitBARSizingCoversBothHalves() {
        let space = makeSpace()
        space.declareBAR(2, kind: .memory64(prefetchable: true), size: 0x10_0000)
        space.write(offset: 0x18, size: 4, value: 0xFFFF_FFFF)
        space.write(offset: 0x1C, size: 4, value: 0xFFFF_FFFF)
        XCTAssertEqual(space.read(offset: 0x18, size: 4), 0xFFF0_000C, "64-bit, prefetchable type bits")
        XCTAssertEqual(space.read(offset: 0x1C, size: 4), 0xFFFF_FFFF)
        space.write(offset: 0x18, size: 4, value: 0x0010_0000)
        space.write(offset: 0x1C, size: 4, value: 0x0000_0080)
        XCTAssertEqual(space.barAddress(2), 0x80_0010_0000)
        XCTAssertNil(space.barAddress(3), "the high half is not a BAR of its own")

        let huge = makeSpace()
        huge.declareBAR(0, kind: .memory64(prefetchable: false), size: 1 << 33)
        huge.write(offset: 0x10, size: 4, value: 0xFFFF_FFFF)
        huge.write(offset: 0x14, size: 4, value: 0xFFFF_FFFF)
        XCTAssertEqual(huge.read(offset: 0x10, size: 4), 0x0000_0004)
        XCTAssertEqual(huge.read(offset: 0x14, size: 4), 0xFFFF_FFFE, "an 8 GiB BAR's size shows in the high half")
    }

    func testIOBARSizing() {
        let space = makeSpace()
        space.declareBAR(1, kind: .io, size: 0x40)
        space.write(offset: 0x14, size: 4, value: 0xFFFF_FFFF)
        XCTAssertEqual(space.read(offset: 0x14, size: 4), 0x0000_FFC1, "16-bit port decode, IO type bit")
        space.write(offset: 0x14, size: 4, value: 0x1040)
        XCTAssertEqual(space.barAddress(1), 0x1040)
        XCTAssertEqual(space.read(offset: 0x14, size: 4), 0x1041)
    }

    func testUnimplementedBARReadsZero() {
        let space = makeSpace()
        space.declareBAR(0, kind: .memory32, size: 0x1000)
        for offset in stride(from: 0x14, to: 0x28, by: 4) {
            space.write(offset: offset, size: 4, value: 0xFFFF_FFFF)
            XCTAssertEqual(space.read(offset: offset, size: 4), 0, "BAR at \(hex(offset))")
        }
        XCTAssertNil(space.barAddress(5))
    }

    func testInterruptLineIsWritable() {
        let space = makeSpace()
        space.write(offset: 0x3C, size: 1, value: 11)
        XCTAssertEqual(space.interruptLine, 11)
        space.interruptLine = 10
        XCTAssertEqual(space.read(offset: 0x3C, size: 2), 0x010A)
        space.write(offset: 0x3C, size: 4, value: 0xFFFF_FF09)
        XCTAssertEqual(space.read(offset: 0x3C, size: 4), 0x0000_0109, "pin, min_gnt and max_lat stay")
    }

    func testUnalignedOrBadSizesReadAllOnesAndAreIgnored() {
        let space = makeSpace()
        XCTAssertEqual(space.read(offset: 0x01, size: 2), 0xFFFF)
        XCTAssertEqual(space.read(offset: 0x02, size: 4), 0xFFFF_FFFF)
        XCTAssertEqual(space.read(offset: 0x00, size: 3), 0xFFFF_FFFF)
        XCTAssertEqual(space.read(offset: 0x00, size: 8), 0xFFFF_FFFF)
        XCTAssertEqual(space.read(offset: -4, size: 4), 0xFFFF_FFFF)
        space.write(offset: 0x03, size: 2, value: 0xFFFF)
        space.write(offset: 0x05, size: 2, value: 0xFFFF)
        XCTAssertEqual(space.read(offset: 0x04, size: 2), 0)
    }

    func testExtendedSpaceReadsZeroAndPastItAllOnes() {
        let space = makeSpace()
        XCTAssertEqual(space.read(offset: 0x100, size: 4), 0, "no extended capabilities")
        XCTAssertEqual(space.read(offset: 0xFFC, size: 4), 0)
        space.write(offset: 0x100, size: 4, value: 0xFFFF_FFFF)
        XCTAssertEqual(space.read(offset: 0x100, size: 4), 0)
        XCTAssertEqual(space.read(offset: 0x1000, size: 4), 0xFFFF_FFFF)
    }

    func testNoCapabilitiesMeansStatusBitClearAndPointerZero() {
        let space = makeSpace()
        XCTAssertEqual(space.read(offset: 0x06, size: 2) & 0x10, 0)
        XCTAssertEqual(space.read(offset: 0x34, size: 1), 0)
        XCTAssertEqual(space.read(offset: 0x40, size: 4), 0)
    }

    /// Linux: status bit 4, then byte 0x34, then (ID, next) words until next is 0.
    func testCapabilityChainWalksLikeLinux() {
        let space = makeSpace()
        let lengths = [16, 13, 20, 2]
        let offsets = lengths.enumerated().map { space.addCapability(PCITestCapability(id: UInt8(9 + $0.offset), length: $0.element)) }
        XCTAssertEqual(offsets, [0x40, 0x50, 0x60, 0x74])
        XCTAssertNotEqual(space.read(offset: 0x06, size: 2) & 0x10, 0, "capabilities list bit")

        var walked: [(offset: Int, id: UInt8)] = []
        var pointer = Int(space.read(offset: 0x34, size: 1)) & ~3
        while pointer != 0, walked.count < 48 {
            let header = space.read(offset: pointer, size: 2)
            walked.append((pointer, UInt8(header & 0xFF)))
            XCTAssertEqual(space.read(offset: pointer + 1, size: 1), header >> 8, "next pointer by byte")
            pointer = Int(header >> 8) & ~3
        }
        XCTAssertEqual(walked.map(\.offset), offsets)
        XCTAssertEqual(walked.map(\.id), [9, 10, 11, 12])
    }

    func testCapabilityBodyAccessesAreSplitIntoLegalSizes() throws {
        let space = makeSpace()
        let first = PCITestCapability(id: 0x09, length: 15)
        space.addCapability(first)
        space.addCapability(PCITestCapability(id: 0x05, length: 4))

        XCTAssertEqual(space.read(offset: 0x40, size: 4), 0xA3A2_5009, "header from the list, body bytes 2..3 from the capability")
        XCTAssertEqual(first.accesses.withLock { $0.last?.offset }, 2)
        XCTAssertEqual(first.accesses.withLock { $0.last?.size }, 2)

        first.accesses.withLock { $0.removeAll() }
        XCTAssertEqual(space.read(offset: 0x4C, size: 4), 0x00AE_ADAC, "byte 15 is padding and reads 0")
        let sizes = first.accesses.withLock { $0.map { "\($0.offset)/\($0.size)" } }
        XCTAssertEqual(sizes, ["12/2", "14/1"], "a 3-byte tail is split into aligned pieces")

        space.write(offset: 0x40, size: 4, value: 0x1234_FFFF)
        XCTAssertEqual(space.read(offset: 0x40, size: 4), 0x1234_5009, "the header is read-only, the body takes the write")
        XCTAssertEqual(space.read(offset: 0x43, size: 1), 0x12)
        XCTAssertEqual(space.read(offset: 0x50, size: 4), 0xA3A2_0005)
    }
}
