@testable import ArchX86
import XCTest

final class CPUIDTopologyTests: XCTestCase {
    let supported = [
        CPUIDEntry(function: 0x1, eax: 0x000A_0F10, ebx: 0xFF00_0800, ecx: 0x0000_0001, edx: 0x0000_0001),
        CPUIDEntry(function: 0x4, index: 0, flags: 1, eax: 0xFC00_0121),
        CPUIDEntry(function: 0xB, index: 0, flags: 1, eax: 9, ebx: 9, ecx: 9, edx: 9),
        CPUIDEntry(function: 0xB, index: 1, flags: 1, eax: 9, ebx: 9, ecx: 9, edx: 9),
        CPUIDEntry(function: 0xD, index: 1, flags: 1, eax: 0xF),
        CPUIDEntry(function: 0x8000_0008, ecx: 0x0000_F0FF),
    ]

    func entry(_ entries: [CPUIDEntry], _ function: UInt32, _ index: UInt32 = 0) -> CPUIDEntry? {
        entries.first { $0.function == function && $0.index == index }
    }

    func testLeafOneCarriesTheAPICIDAndPackageSize() throws {
        for cpu in 0..<4 {
            let entries = CPUIDTopology.entries(from: supported, cpu: cpu, count: 4)
            let leaf1 = try XCTUnwrap(entry(entries, 1))
            XCTAssertEqual(leaf1.ebx >> 24, UInt32(cpu), "initial APIC ID")
            XCTAssertEqual((leaf1.ebx >> 16) & 0xFF, 4, "logical processors per package")
            XCTAssertEqual(leaf1.ebx & 0xFFFF, 0x0800, "CLFLUSH size and brand index kept")
            XCTAssertNotEqual(leaf1.ecx & (1 << 31), 0, "hypervisor bit")
            XCTAssertNotEqual(leaf1.edx & (1 << 28), 0, "HTT with more than one logical CPU")
        }
        let single = try XCTUnwrap(entry(CPUIDTopology.entries(from: supported, cpu: 0, count: 1), 1))
        XCTAssertEqual(single.edx & (1 << 28), 0)
    }

    func testTSCDeadlineTimerIsOfferedOnlyWhenKVMEmulatesIt() throws {
        let with = try XCTUnwrap(entry(CPUIDTopology.entries(from: supported, cpu: 0, count: 1,
                                                              tscDeadlineTimer: true), 1))
        XCTAssertNotEqual(with.ecx & (1 << 24), 0, "TSC deadline with KVM_CAP_TSC_DEADLINE_TIMER")
        XCTAssertEqual(with.ecx & 1, 1, "other ECX bits kept")
        let without = try XCTUnwrap(entry(CPUIDTopology.entries(from: supported, cpu: 0, count: 1), 1))
        XCTAssertEqual(without.ecx & (1 << 24), 0)
    }

    func testExtendedTopologyDescribesCoresOfOneThread() throws {
        let entries = CPUIDTopology.entries(from: supported, cpu: 5, count: 6)
        let smt = try XCTUnwrap(entry(entries, 0xB, 0)), core = try XCTUnwrap(entry(entries, 0xB, 1))
        let end = try XCTUnwrap(entry(entries, 0xB, 2))
        XCTAssertEqual([smt.eax, smt.ebx, smt.ecx, smt.edx], [0, 1, 0x100, 5])
        XCTAssertEqual([core.eax, core.ebx, core.ecx, core.edx], [3, 6, 0x201, 5], "3 bits number 6 cores")
        XCTAssertEqual([end.eax, end.ebx, end.ecx & 0xFF00, end.edx], [0, 0, 0, 5])
        XCTAssertEqual(entries.filter { $0.function == 0xB }.count, 3, "KVM's own 0xB subleaves replaced")
        XCTAssertNil(entry(entries, 0x1F), "no 0x1F when KVM offers none")
    }

    func testIntelAndAMDCoreCounts() throws {
        let entries = CPUIDTopology.entries(from: supported, cpu: 0, count: 8)
        XCTAssertEqual(try XCTUnwrap(entry(entries, 0x4)).eax >> 26, 7)
        XCTAssertEqual(try XCTUnwrap(entry(entries, 0x4)).eax & 0x03FF_FFFF, 0x0000_0121)
        let amd = try XCTUnwrap(entry(entries, 0x8000_0008))
        XCTAssertEqual(amd.ecx & 0xFF, 7)
        XCTAssertEqual((amd.ecx >> 12) & 0xF, 3)
    }

    func testOtherLeavesPassThroughUnchanged() throws {
        let entries = CPUIDTopology.entries(from: supported, cpu: 1, count: 2)
        XCTAssertEqual(entry(entries, 0xD, 1), supported[4])
    }
}
