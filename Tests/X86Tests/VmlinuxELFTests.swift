import XCTest
@testable import ArchX86
import LKVMCore
import LKVMTestSupport

final class VmlinuxELFTests: XCTestCase {
    private func ram(_ mib: UInt64 = 64) throws -> GuestMemory {
        try GuestMemory(ranges: [try XCTUnwrap(GuestRange(start: GuestAddress(0), size: mib << 20))])
    }

    private func vmlinuxError(_ file: [UInt8], memory: GuestMemory? = nil) -> VmlinuxError? {
        do {
            let kernel = try VmlinuxELF(file)
            if let memory { _ = try kernel.load(into: memory) }
            return nil
        } catch {
            return error
        }
    }

    func testSegmentsLoadAtTheirPhysicalAddressesWithBSSZeroed() throws {
        let memory = try ram()
        try memory.fill(0xEE, count: 0x3000, at: GuestAddress(0x120_0000))  // stale bytes where .bss goes
        let kernel = try X86Kernel(TinyVmlinux().encoded())
        guard case .vmlinux = kernel else { return XCTFail("an ELF file is a vmlinux") }
        let loaded = try kernel.load(into: memory)
        XCTAssertEqual(loaded.entry64, GuestAddress(0x100_0000), "entered at e_entry (startup_64), not +0x200")
        XCTAssertEqual(loaded.loadAddress, GuestAddress(0x100_0000))
        XCTAssertEqual(loaded.end, GuestAddress(0x120_3000), "the initrd goes above the .bss")
        XCTAssertEqual(try memory.read(0x2000, at: GuestAddress(0x100_0000)), [UInt8](repeating: 0xCC, count: 0x2000))
        XCTAssertEqual(try memory.read(0x1000, at: GuestAddress(0x120_0000)), [UInt8](repeating: 0x5A, count: 0x1000))
        XCTAssertEqual(try memory.read(0x2000, at: GuestAddress(0x120_1000)), [UInt8](repeating: 0, count: 0x2000))
    }

    func testTheZeroPageHeaderOfAVmlinuxSaysWhatTheKernelNeeds() throws {
        let header = try X86Kernel(TinyVmlinux().encoded()).header
        XCTAssertEqual(header.protocolVersion, 0x020F)
        XCTAssertEqual(header.commandLineSize, 2047)
        XCTAssertEqual(header.initrdAddressMax, 0x7FFF_FFFF)
        XCTAssertNotEqual(header.loadFlags & SetupHeader.loadedHigh, 0)
        let page = try BootParams(header: header, commandLine: GuestAddress(0x2_0000)).encode()
        XCTAssertEqual(Array(page[0x202..<0x206]), Array("HdrS".utf8))
        XCTAssertEqual(LittleEndian.u16(page, 0x1FE), 0xAA55)
        XCTAssertEqual(LittleEndian.u32(page, 0x228), 0x2_0000, "cmd_line_ptr")
    }

    func testMalformedFilesGetOneClearError() throws {
        let good = TinyVmlinux().encoded()
        XCTAssertEqual(vmlinuxError(Array(good.prefix(40))), .truncated(size: 40, needed: 64, field: "ELF header"))
        var thirtyTwo = good
        thirtyTwo[4] = 1
        XCTAssertEqual(vmlinuxError(thirtyTwo), .notELF64LittleEndian)
        var arm = TinyVmlinux()
        arm.machine = 183
        XCTAssertEqual(vmlinuxError(arm.encoded()), .notX86_64(machine: 183))
        var object = TinyVmlinux()
        object.type = 1
        XCTAssertEqual(vmlinuxError(object.encoded()), .notExecutable(type: 1))
        // Cut inside the program headers, then inside the second segment's bytes.
        XCTAssertEqual(vmlinuxError(Array(good.prefix(100))), .truncated(size: 100, needed: 176, field: "program headers"))
        guard case .segmentBeyondFile(let index, _, _)? = vmlinuxError(Array(good.dropLast(10))) else {
            return XCTFail("a truncated segment")
        }
        XCTAssertEqual(index, 1)
        // A program header table offset near 2^64 (found by FuzzBzImage):
        // the end of the table wraps; an error, not an overflow trap.
        var wild = good
        LittleEndian.put(UInt64.max - 0x47, into: &wild, at: 32)
        XCTAssertEqual(vmlinuxError(wild), .truncated(size: good.count, needed: .max, field: "program headers"))
        var low = TinyVmlinux()
        low.segments[1].address = 0x9_0000
        XCTAssertEqual(vmlinuxError(low.encoded()), .segmentBelowOneMiB(index: 1, address: 0x9_0000))
        var overlapping = TinyVmlinux()
        overlapping.segments[1].address = 0x100_1000
        XCTAssertEqual(vmlinuxError(overlapping.encoded()), .segmentsOverlap(first: 0, second: 1))
        var wildEntry = TinyVmlinux()
        wildEntry.entry = 0x120_0000  // in the data segment
        XCTAssertEqual(vmlinuxError(wildEntry.encoded()), .entryOutsideCode(entry: 0x120_0000))
        var noLoad = TinyVmlinux()
        for index in noLoad.segments.indices { noLoad.segments[index].type = 4 }  // PT_NOTE
        XCTAssertEqual(vmlinuxError(noLoad.encoded()), .noLoadableSegment)
        var huge = TinyVmlinux()
        huge.segments[1].memorySize = 1 << 40
        XCTAssertEqual(vmlinuxError(huge.encoded(), memory: try ram()),
                       .segmentOutsideRAM(index: 1, address: 0x120_0000, size: 1 << 40))
        var wraps = TinyVmlinux()
        wraps.segments[1].memorySize = UInt64.max - 0x1000
        XCTAssertNotNil(vmlinuxError(wraps.encoded()), "an address range that wraps")
        // Through the x86 kernel entry, the error names the file's problem.
        let error = bootError { try X86Kernel(arm.encoded()) }
        XCTAssertEqual(error, .vmlinux(.notX86_64(machine: 183)))
        XCTAssertEqual(error?.isAboutTheKernelFile, true)
        XCTAssertEqual(error?.description, "vmlinux is not an x86-64 kernel (ELF machine 183, expected 62)")
    }

    func testAKernelTooBigForTheGuestSaysSo() throws {
        var big = TinyVmlinux()
        big.segments[1].address = 0x3F0_0000
        big.segments[1].memorySize = 0x40_0000
        let error = vmlinuxError(big.encoded(), memory: try ram(64))
        XCTAssertEqual(error, .segmentOutsideRAM(index: 1, address: 0x3F0_0000, size: 0x40_0000))
        XCTAssertEqual(error?.description.hasSuffix("give the guest more memory"), true)
    }
}
