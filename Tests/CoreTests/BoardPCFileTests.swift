import XCTest
@testable import LKVMCore

/// The shipped Boards/pc.toml, read from the checkout.
final class BoardPCFileTests: XCTestCase {
    static let repositoryRoot: String = {
        var path = "\(#filePath)"
        for _ in 0..<3 { path = BoardCatalog.parentDirectory(of: path) }  // Tests/CoreTests/x.swift → repo
        return path
    }()
    static let pcPath = repositoryRoot + "/Boards/pc.toml"

    func testPCBoardValues() throws {
        let board = try BoardCatalog.load(path: Self.pcPath)
        XCTAssertEqual(board.name, "pc")
        XCTAssertEqual(board.architecture, .x86_64)
        XCTAssertEqual(board.fileName, Self.pcPath)
        XCTAssertEqual(board.defaultTransport, .pci)
        XCTAssertEqual(board.cpus, CPUCount(defaultCount: 1, maxCount: 254))

        XCTAssertEqual(board.ram.base, GuestAddress(0))
        XCTAssertEqual(board.ram.defaultMiB, 256)
        XCTAssertEqual(board.ram.minimumMiB, 64)
        XCTAssertNil(board.ram.maxAddress)
        XCTAssertEqual(board.ram.holes, [GuestRange(start: GuestAddress(0xC000_0000), size: 0x4000_0000)!])
        XCTAssertEqual(board.ram.reserved, [NamedRange(name: "ebda+bios",
                                                       range: GuestRange(start: GuestAddress(0x9FC00), size: 0x60400)!)])
        XCTAssertEqual(board.ram.reserved.first?.range.end, 0x10_0000)

        guard case .x86IOAPIC(let apic) = board.interruptController else { return XCTFail("not x86-ioapic") }
        XCTAssertEqual(apic.ioapic.start, GuestAddress(0xFEC0_0000))
        XCTAssertEqual(apic.lapic.start, GuestAddress(0xFEE0_0000))
        XCTAssertEqual(apic.lines, 24)
        XCTAssertEqual(board.interruptController.kind, "x86-ioapic")
        XCTAssertEqual(board.interruptController.lineCount, 24)

        XCTAssertEqual(board.devices, [
            .uart8250(UART8250Spec(location: .ports(PortRange(start: 0x3F8, count: 8)!), irq: 4)),
            .i8042(I8042Spec(dataPort: 0x60, irq: 1, auxIRQ: nil)),
            .cmosRTC(CMOSRTCSpec(ports: PortRange(start: 0x70, count: 2)!, irq: 8)),
        ])
        XCTAssertEqual(board.devices[1].portRanges, [PortRange(start: 0x60, count: 1)!, PortRange(start: 0x64, count: 1)!])

        let pci = try XCTUnwrap(board.pci)
        XCTAssertEqual(pci.ecam, GuestRange(start: GuestAddress(0xE000_0000), size: 0x10_0000))
        XCTAssertEqual(pci.busCount, 1)
        XCTAssertEqual(pci.mmio32, GuestRange(start: GuestAddress(0xC000_0000), size: 0x2000_0000))
        XCTAssertNil(pci.mmio64)
        XCTAssertEqual(pci.ioPorts, PortRange(start: 0x1000, count: 0xF000))
        XCTAssertEqual(pci.intxIRQs, 16..<20)

        let virtio = try XCTUnwrap(board.virtioMMIO)
        XCTAssertEqual(virtio.base, GuestAddress(0xF000_0000))
        XCTAssertEqual(virtio.stride, 0x1000)
        XCTAssertEqual(virtio.irqs, 10..<16)
        XCTAssertEqual(virtio.slot(5)?.range, GuestRange(start: GuestAddress(0xF000_5000), size: 0x1000))
        XCTAssertEqual(virtio.slot(5)?.irq, 15)
        XCTAssertNil(virtio.slot(6))
    }

    func testPCBoardAcceptsItsLimitsAndRefusesBeyond() throws {
        let board = try BoardCatalog.load(path: Self.pcPath)
        try board.validate(ramMiB: 64, cpus: 1)
        try board.validate(ramMiB: 16 * 1024, cpus: 254)
        XCTAssertThrowsError(try board.validate(ramMiB: 32, cpus: 1)) { error in
            assertOneLine(error as! BoardError, file: Self.pcPath, keyPath: "ram.minimum_mib", ["32 MiB", "64 MiB"])
        }
        XCTAssertThrowsError(try board.validate(ramMiB: 256, cpus: 255)) { error in
            assertOneLine(error as! BoardError, file: Self.pcPath, keyPath: "cpus.max", ["255 vCPUs", "at most 254"])
        }
        XCTAssertThrowsError(try board.validate(ramMiB: 256, cpus: 0)) { error in
            assertOneLine(error as! BoardError, file: Self.pcPath, keyPath: "cpus", ["at least 1"])
        }
        XCTAssertThrowsError(try board.validate(ramMiB: 0, cpus: 1)) { error in
            assertOneLine(error as! BoardError, file: Self.pcPath, keyPath: "ram", ["positive"])
        }
    }

    func testPCRAMLayouts() throws {
        let ram = try BoardCatalog.load(path: Self.pcPath).ram
        let gib: UInt64 = 1 << 30
        XCTAssertEqual(try ram.ranges(forMiB: 64), [GuestRange(start: GuestAddress(0), size: 64 << 20)!])
        XCTAssertEqual(try ram.ranges(forMiB: 3072), [GuestRange(start: GuestAddress(0), size: 3 * gib)!])
        XCTAssertEqual(try ram.ranges(forMiB: 4096), [GuestRange(start: GuestAddress(0), size: 3 * gib)!,
                                                      GuestRange(start: GuestAddress(4 * gib), size: gib)!])
        XCTAssertEqual(try ram.ranges(forMiB: 3073), [GuestRange(start: GuestAddress(0), size: 3 * gib)!,
                                                      GuestRange(start: GuestAddress(4 * gib), size: 1 << 20)!])
    }
}
