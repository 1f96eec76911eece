import XCTest
@testable import ArchX86
import LKVMCore

final class BootParamsTests: XCTestCase {
    func testZeroPageGoldenOffsets() throws {
        let header = try SetupHeader(parsing: debianKernelHead())
        let e820 = try E820Map.build(ram: [guestRange(0, 512 << 20)], reserved: [guestRange(0x9_FC00, 0x6_0400)])
        let params = BootParams(header: header, commandLine: LongModeLayout.commandLineAddress,
                                initrd: guestRange(0x1F00_0000, 0x12_3456), e820: e820)
        let page = try params.encode()
        XCTAssertEqual(page.count, 4096)

        // Setup header copied verbatim, except the fields lkvm owns.
        var expectedHeader = header.rawBytes
        expectedHeader[0x210 - 0x1F1] = 0xFF
        for offset in [0x218, 0x21C, 0x228] { expectedHeader.replaceSubrange((offset - 0x1F1)..<(offset - 0x1F1 + 4), with: [0, 0, 0, 0]) }
        var copied = Array(page[0x1F1..<Debian61.headerEnd])
        for offset in [0x218, 0x21C, 0x228] { copied.replaceSubrange((offset - 0x1F1)..<(offset - 0x1F1 + 4), with: [0, 0, 0, 0]) }
        XCTAssertEqual(copied, expectedHeader)

        XCTAssertEqual(Array(page[0x202..<0x206]), Array("HdrS".utf8))
        XCTAssertEqual(page[0x210], 0xFF, "type_of_loader")
        XCTAssertEqual(page[0x211] & 1, 1, "LOADED_HIGH")
        XCTAssertEqual(le32(page, 0x228), 0x2_0000, "cmd_line_ptr")
        XCTAssertEqual(le32(page, 0x0C8), 0, "ext_cmd_line_ptr")
        XCTAssertEqual(le32(page, 0x218), 0x1F00_0000, "ramdisk_image")
        XCTAssertEqual(le32(page, 0x21C), 0x12_3456, "ramdisk_size")
        XCTAssertEqual(le32(page, 0x0C0), 0, "ext_ramdisk_image")
        XCTAssertEqual(le32(page, 0x0C4), 0, "ext_ramdisk_size")
        XCTAssertEqual(le32(page, 0x238), 2047, "cmdline_size kept")
        XCTAssertEqual(page[0x1EF], 0, "sentinel")
        XCTAssertEqual(page[0x1E8], 3, "e820_entries")
        XCTAssertEqual(Array(page[0x2D0..<0x2E4]), [0, 0, 0, 0, 0, 0, 0, 0,
                                                    0x00, 0xFC, 0x09, 0, 0, 0, 0, 0,
                                                    1, 0, 0, 0])
        XCTAssertEqual(le64(page, 0x2D0 + 20), 0x9_FC00)
        XCTAssertEqual(le64(page, 0x2D0 + 28), 0x6_0400)
        XCTAssertEqual(le32(page, 0x2D0 + 36), 2)
        XCTAssertEqual(le64(page, 0x2D0 + 40), 0x10_0000)
        XCTAssertEqual(le64(page, 0x2D0 + 48), (512 << 20) - 0x10_0000)
        XCTAssertTrue(page[(0x2D0 + 60)...].allSatisfy { $0 == 0 })
        // Nothing written below the header apart from the fields above.
        var low = Array(page[0..<0x1F1])
        low[0x1E8] = 0
        XCTAssertTrue(low.allSatisfy { $0 == 0 })
    }

    func testAddressesAbove4GiBUseExtFields() throws {
        let header = try SetupHeader(parsing: syntheticKernel())
        let params = BootParams(header: header, commandLine: GuestAddress(0x1_2345_6000),
                                initrd: guestRange(0x2_0000_1000, 0x1_0000_2000))
        let page = try params.encode()
        XCTAssertEqual(le32(page, 0x228), 0x2345_6000)
        XCTAssertEqual(le32(page, 0x0C8), 1)
        XCTAssertEqual(le32(page, 0x218), 0x1000)
        XCTAssertEqual(le32(page, 0x0C0), 2)
        XCTAssertEqual(le32(page, 0x21C), 0x2000)
        XCTAssertEqual(le32(page, 0x0C4), 1)
        XCTAssertEqual(page[0x1E8], 0)
    }

    func testFileSetupDataIsNotPassedOn() throws {
        var file = syntheticKernel()
        LittleEndian.put(UInt64(0xDEAD_BEEF_0000), into: &file, at: 0x250)
        file[0x211] |= 0x80
        let page = try BootParams(header: SetupHeader(parsing: file)).encode()
        XCTAssertEqual(le64(page, 0x250), 0)
        XCTAssertEqual(page[0x211], 0x81, "other loadflags kept")
    }

    func testTooManyE820EntriesRejected() throws {
        let header = try SetupHeader(parsing: syntheticKernel())
        let entries = [E820Entry](repeating: E820Entry(address: 0, size: 0x1000, type: .ram), count: 129)
        assertBootError(.tooManyE820Entries(count: 129, maximum: 128)) { try BootParams(header: header, e820: entries).encode() }
        let full = try BootParams(header: header, e820: Array(entries.prefix(128))).encode()
        XCTAssertEqual(full[0x1E8], 128)
        XCTAssertEqual(le32(full, 0x2D0 + 127 * 20 + 16), 1, "last slot ends at 0xCD0")
    }

    func testWriteIntoMemory() throws {
        let ram = try makeGuestMemory([(0, 1 << 20)])
        let header = try SetupHeader(parsing: syntheticKernel())
        try BootParams(header: header, commandLine: LongModeLayout.commandLineAddress)
            .write(into: ram, at: LongModeLayout.zeroPageAddress)
        XCTAssertEqual(try ram.load(UInt32.self, at: GuestAddress(0x7000 + 0x202)), 0x5372_6448)
        XCTAssertEqual(try ram.load(UInt32.self, at: GuestAddress(0x7000 + 0x228)), 0x2_0000)
        let tiny = try makeGuestMemory([(0, 0x1000)])
        guard case .guestMemory? = bootError({ try BootParams(header: header).write(into: tiny, at: GuestAddress(0x7000)) }) else {
            return XCTFail()
        }
    }

    func testCommandLine() throws {
        let header = try SetupHeader(parsing: debianKernelHead())
        XCTAssertEqual(try BootParams.commandLineBytes("console=ttyS0", header: header), Array("console=ttyS0".utf8) + [0])
        XCTAssertEqual(try BootParams.commandLineBytes("", header: header), [0])
        let longest = String(repeating: "a", count: 2047)
        XCTAssertEqual(try BootParams.commandLineBytes(longest, header: header).count, 2048)
        assertBootError(.commandLineTooLong(length: 2048, maximum: 2047)) {
            try BootParams.commandLineBytes(longest + "b", header: header)
        }
        XCTAssertEqual(bootError { try BootParams.commandLineBytes(longest + "b", header: header) }?.description,
                       "kernel command line is 2048 bytes, but this kernel accepts at most 2047 (cmdline_size)")
        assertBootError(.commandLineContainsNUL(offset: 4)) { try BootParams.commandLineBytes("root\0x", header: header) }
    }

    func testInitrdPlacementLowRAM() throws {
        let kernelEnd = GuestAddress(0x100_0000 + UInt64(Debian61.initSize))
        let ram = [guestRange(0, 512 << 20)]
        XCTAssertEqual(try BootParams.placeInitrd(size: 10 << 20, ram: ram, initrdAddressMax: 0x7FFF_FFFF, kernelEnd: kernelEnd),
                       GuestAddress((512 - 10) << 20))
        // Page-aligned down, so it still ends at or below the top.
        XCTAssertEqual(try BootParams.placeInitrd(size: 0x12_3456, ram: ram, initrdAddressMax: 0x7FFF_FFFF, kernelEnd: kernelEnd),
                       GuestAddress(0x1FED_C000))
        // initrd_addr_max is inclusive.
        XCTAssertEqual(try BootParams.placeInitrd(size: 0x1000, ram: ram, initrdAddressMax: 0x0FFF_FFFF, kernelEnd: kernelEnd),
                       GuestAddress(0x0FFF_F000))
    }

    func testInitrdPlacementWithHole() throws {
        let kernelEnd = GuestAddress(0x500_0000)
        let ram = [guestRange(4 << 30, 4 << 30), guestRange(0, 3 << 30)]
        // Debian's initrd_addr_max (2 GiB - 1) wins over the 3 GiB top of low RAM.
        XCTAssertEqual(try BootParams.placeInitrd(size: 64 << 20, ram: ram, initrdAddressMax: 0x7FFF_FFFF, kernelEnd: kernelEnd),
                       GuestAddress((2 << 30) - (64 << 20)))
        // A 4 GiB limit: the top of the low region, never above 4 GiB.
        XCTAssertEqual(try BootParams.placeInitrd(size: 64 << 20, ram: ram, initrdAddressMax: 0xFFFF_FFFF, kernelEnd: kernelEnd),
                       GuestAddress((3 << 30) - (64 << 20)))
    }

    func testInitrdDoesNotFit() {
        let kernelEnd = GuestAddress(0x100_0000 + UInt64(Debian61.initSize))
        let ram = [guestRange(0, 128 << 20)]
        // 128 MiB RAM minus ~80 MiB kernel leaves ~48 MiB.
        XCTAssertEqual(try BootParams.placeInitrd(size: 48 << 20, ram: ram, initrdAddressMax: 0x7FFF_FFFF, kernelEnd: kernelEnd),
                       GuestAddress(0x500_0000))
        let error = bootError {
            try BootParams.placeInitrd(size: 49 << 20, ram: ram, initrdAddressMax: 0x7FFF_FFFF, kernelEnd: kernelEnd)
        }
        XCTAssertEqual(error, .initrdDoesNotFit(size: 49 << 20, below: 128 << 20, above: kernelEnd.raw))
        XCTAssertEqual(error?.description,
                       "initrd of 49 MiB does not fit below 0x8000000 and above the kernel's end at 0x4f98000: give the guest more memory")
        assertBootError(.initrdDoesNotFit(size: UInt64.max, below: 128 << 20, above: kernelEnd.raw)) {
            try BootParams.placeInitrd(size: .max, ram: ram, initrdAddressMax: 0x7FFF_FFFF, kernelEnd: kernelEnd)
        }
    }
}
