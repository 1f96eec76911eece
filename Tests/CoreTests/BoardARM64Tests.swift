import XCTest
@testable import LKVMCore

/// The shipped arm64 boards and the rules arm64 boards must follow, one error
/// line per rule naming the file and the key.
final class BoardARM64Tests: XCTestCase {
    static let boardsDirectory = BoardPCFileTests.repositoryRoot + "/Boards"

    func load(_ name: String) throws -> Board {
        try BoardCatalog.resolve(nameOrPath: name, architecture: .arm64, searchDirectories: [Self.boardsDirectory])
    }

    func testVirtBoard() throws {
        let board = try load("virt")
        XCTAssertEqual(board.defaultTransport, .mmio)
        XCTAssertEqual(board.ram.base, GuestAddress(0x4000_0000))
        guard case .gicv3(let gic) = board.interruptController else { return XCTFail("not gicv3") }
        XCTAssertEqual(gic.distributor, GuestRange(start: GuestAddress(0x0800_0000), size: 0x10000))
        XCTAssertEqual(gic.redistributors.start, GuestAddress(0x080A_0000))
        XCTAssertEqual(gic.its?.start, GuestAddress(0x0808_0000))
        XCTAssertEqual(board.cpus.maxCount, 123)
        XCTAssertEqual(board.devices, [.pl011(MMIODeviceSpec(range: GuestRange(start: GuestAddress(0x0900_0000), size: 0x1000)!, irq: 1)),
                                       .pl031(MMIODeviceSpec(range: GuestRange(start: GuestAddress(0x0901_0000), size: 0x1000)!, irq: 2))])
        XCTAssertEqual(board.virtioMMIO?.slot(0)?.range.start, GuestAddress(0x0A00_0000))
        XCTAssertEqual(board.virtioMMIO?.slot(1)?.irq, 17)
        XCTAssertEqual(board.pci?.busCount, 16)
        XCTAssertEqual(board.pci?.intxIRQ(device: 1, pin: 1), 4)
        try board.validate(ramMiB: 4096, cpus: 123)
    }

    func testKvmtoolBoard() throws {
        let board = try load("kvmtool-arm64")
        XCTAssertEqual(board.ram.base, GuestAddress(0x8000_0000))
        guard case .gicv3(let gic) = board.interruptController else { return XCTFail("not gicv3") }
        XCTAssertEqual(gic.distributor.end, 0x4000_0000, "distributor ends at 1 GiB")
        XCTAssertEqual(gic.redistributors.end, gic.distributor.start.raw)
        XCTAssertEqual(board.pci?.ecam.start, GuestAddress(0x4000_0000))
        XCTAssertEqual(board.virtioMMIO?.base, GuestAddress(0x0300_0000))
        guard case .uart8250(let uart) = board.devices.first, case .mmio(let range) = uart.location else {
            return XCTFail("first device is not an MMIO 8250")
        }
        XCTAssertEqual(range.start, GuestAddress(0x0100_0000))
        try board.validate(ramMiB: 1024, cpus: 64)
    }

    func testRedistributorsTooSmallForCPUs() throws {
        assertBoardError(validARM64Board.replacing("max = 8", with: "max = 16"),
                         keyPath: "cpus.max", "16 exceeds the 8 vCPUs", "0x100000 of redistributors at 128 KiB per vCPU")
        let virt = try load("virt")
        XCTAssertThrowsError(try virt.validate(ramMiB: 256, cpus: 124)) { error in
            XCTAssertTrue("\(error)".contains("cpus.max: 124 vCPUs requested, but board 'virt' supports at most 123"), "\(error)")
        }
    }

    func testSPIBeyondGICCount() {
        assertBoardError(validARM64Board.replacing("first_irq = 16", with: "first_irq = 80"),
                         keyPath: "virtio_mmio.first_irq", "96", "(virtio-mmio slot 16)", "out of range 0..<96 for the gicv3")
        assertBoardError(validARM64Board.replacing("irq = 2", with: "irq = 96"),
                         keyPath: "devices[1].irq", "96 is out of range 0..<96")
    }

    func testGICOverlaps() {
        assertBoardError(validARM64Board.replacing("its = { base = 0x3FED0000", with: "its = { base = 0x3FEE0000"),
                         keyPath: "interrupt_controller.its", "overlaps interrupt_controller.redistributors")
        assertBoardError(validARM64Board.replacing("address = 0x9000000", with: "address = 0x3FFF0000"),
                         keyPath: "devices[0].address", "overlaps interrupt_controller.distributor")
    }

    func testGICFramesAre64KiBAligned() {
        assertBoardError(validARM64Board.replacing("redistributors = { base = 0x3FEF0000", with: "redistributors = { base = 0x3FEF1000"),
                         keyPath: "interrupt_controller.redistributors.base", "not a multiple of 64 KiB (GIC frame)")
        assertBoardError(validARM64Board.replacing("its = { base = 0x3FED0000", with: "its = { base = 0x3FEC8000"),
                         keyPath: "interrupt_controller.its.base", "64 KiB")
    }

    func testRAMBeyondDefaultIPALimit() throws {
        let board = try BoardCatalog.parse(text: validARM64Board, fileName: "test.toml")
        // RAM from 2 GiB: 1 TiB - 2 GiB fits 40 bits, one MiB more does not.
        let fits = (1 << 20) - 2048
        try board.validateIPA(ramMiB: fits)
        XCTAssertThrowsError(try board.validateIPA(ramMiB: fits + 1)) { error in
            assertOneLine(error as! BoardError, file: "test.toml", keyPath: "ram",
                          ["would reach 0x10000100000", "40-bit IPA limit 0x10000000000"])
        }
        XCTAssertThrowsError(try board.validate(ramMiB: fits + 1, cpus: 1), "validate applies the 40-bit default")
        try board.validateIPA(ramMiB: fits + 1, ipaBits: 48)
        XCTAssertThrowsError(try board.validateIPA(ramMiB: 2049, ipaBits: 32)) { error in
            XCTAssertTrue("\(error)".contains("32-bit IPA limit"), "\(error)")
        }
    }

    func testMMIORegionBeyondIPALimitAtParse() {
        let board = validARM64Board + "\n[pci]\necam = { base = 0x40000000, size = 0x1000000 }\n"
            + "mmio32 = { base = 0x50000000, size = 0x10000000 }\n"
            + "mmio64 = { base = 0x10000000000, size = 0x100000000 }\n"
        assertBoardError(board, keyPath: "pci.mmio64", "ends above the 40-bit IPA limit 0x10000000000")
    }

    func testIPALimitDoesNotApplyToX86() throws {
        let board = try BoardCatalog.parse(text: validX86Board, fileName: "test.toml")
        try board.validate(ramMiB: 2 << 20, cpus: 1)
    }
}
