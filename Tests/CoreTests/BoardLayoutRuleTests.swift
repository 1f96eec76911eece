import XCTest
@testable import LKVMCore

/// Rules relating one part of a board to another.
final class BoardLayoutRuleTests: XCTestCase {
    func testMMIOOverlap() {
        assertBoardError(validX86Board.replacing("base = 0xF0000000", with: "base = 0xDFFF0000"),
                         keyPath: "virtio_mmio", "overlaps pci.mmio32")
        assertBoardError(validX86Board.replacing("ioapic = 0xFEC00000", with: "ioapic = 0xE0001000"),
                         keyPath: "pci.ecam", "overlaps interrupt_controller.ioapic")
    }

    func testDeviceRegionInsideRAM() {
        assertBoardError(validARM64Board.replacing("address = 0x9010000", with: "address = 0x80100000"),
                         keyPath: "devices[1].address", "lies inside RAM", "256 MiB")
    }

    func testPortOverlap() {
        assertBoardError(validX86Board.replacing("port = 0x70", with: "port = 0x3FE"),
                         keyPath: "devices[1].port", "overlaps devices[0].port")
        assertBoardError(validX86Board.replacing("port = 0x70", with: "port = 0x1000"),
                         keyPath: "pci.io_ports", "overlaps devices[1].port")
    }

    func testIRQOverlap() {
        assertBoardError(validX86Board.replacing("irq = 8", with: "irq = 4"),
                         keyPath: "devices[1].irq", "IRQ 4 is already used by devices[0].irq")
        assertBoardError(validX86Board.replacing("first_irq = 9", with: "first_irq = 6"),
                         keyPath: "virtio_mmio.first_irq", "IRQ 8 (virtio-mmio slot 2) is already used by devices[1].irq")
    }

    func testIRQOutOfRange() {
        assertBoardError(validX86Board.replacing("irq = 8", with: "irq = 30"),
                         keyPath: "devices[1].irq", "30 is out of range 0..<24 for the x86-ioapic interrupt controller")
        assertBoardError(validX86Board.replacing("first_irq = 9", with: "first_irq = 21"),
                         keyPath: "virtio_mmio.first_irq", "24 (virtio-mmio slot 3) is out of range 0..<24")
        assertBoardError(validARM64Board.replacing("irq = 2", with: "irq = 96"),
                         keyPath: "devices[1].irq", "out of range 0..<96 for the gicv3")
    }

    func testIRQReservedByController() {
        assertBoardError(validX86Board.replacing("irq = 8", with: "irq = 0"), keyPath: "devices[1].irq", "in-kernel PIT")
    }

    func testMisalignedRegions() {
        assertBoardError(validX86Board.replacing("ecam = { base = 0xE0000000", with: "ecam = { base = 0xE0080000"),
                         keyPath: "pci.ecam.base", "0xe0080000 is not a multiple of 1 MiB")
        assertBoardError(validX86Board.replacing("size = 0x10000000 }", with: "size = 0x10080000 }"),
                         keyPath: "pci.ecam.size", "not a multiple of 1 MiB")
        assertBoardError(validX86Board.replacing("base = 0\n", with: "base = 0x800\n"), keyPath: "ram.base", "4 KiB")
        assertBoardError(validX86Board.replacing("{ base = 0xC0000000, size = 0x40000000 }",
                                                 with: "{ base = 0xC0000800, size = 0x40000000 }"),
                         keyPath: "ram.holes[0].base", "not a multiple of 4 KiB")
        assertBoardError(validARM64Board.replacing("distributor = { base = 0x3FFF0000", with: "distributor = { base = 0x3FFF8000"),
                         keyPath: "interrupt_controller.distributor.base", "64 KiB")
    }

    func testBadStride() {
        assertBoardError(validX86Board.replacing("stride = 0x1000", with: "stride = 0x300"),
                         keyPath: "virtio_mmio.stride", "power of two")
        assertBoardError(validX86Board.replacing("stride = 0x1000", with: "stride = 0x100"),
                         keyPath: "virtio_mmio.stride", "at least 0x200")
    }

    func testTransportWithoutWindow() {
        assertBoardError(validX86Board.replacing("default_transport = \"pci\"", with: "default_transport = \"mmio\"")
                            .replacing("[virtio_mmio]\nbase = 0xF0000000\nstride = 0x1000\ncount = 4\nfirst_irq = 9", with: ""),
                         keyPath: "default_transport", "no [virtio_mmio] section")
        let noPCI = validX86Board.replacing("""
            [pci]
            ecam = { base = 0xE0000000, size = 0x10000000 }
            mmio32 = { base = 0xC0000000, size = 0x20000000 }
            io_ports = { base = 0x1000, size = 0xF000 }
            """, with: "")
        assertBoardError(noPCI, keyPath: "default_transport", "no [pci] section")
    }

    func testTooManyCPUs() {
        assertBoardError(validX86Board.replacing("max = 4", with: "max = 300"),
                         keyPath: "cpus.max", "300 exceeds the 254 vCPUs the x86-ioapic")
        assertBoardError(validARM64Board.replacing("max = 8", with: "max = 9"),
                         keyPath: "cpus.max", "9 exceeds the 8 vCPUs the gicv3", "128 KiB per vCPU")
        assertBoardError(validX86Board.replacing("default = 1", with: "default = 5"), keyPath: "cpus.default", "above cpus.max")
    }

    func testRAMSizesAgainstMinimum() {
        assertBoardError(validX86Board.replacing("minimum_mib = 16", with: "minimum_mib = 256"),
                         keyPath: "ram.default_mib", "128 MiB is below ram.minimum_mib (256 MiB)")
    }

    func testArchitectureMismatchInsideBoard() {
        assertBoardError(validX86Board.replacing("\"x86-ioapic\"", with: "\"gicv3\""),
                         keyPath: "interrupt_controller.distributor", "missing required table")
        assertBoardError(validARM64Board.replacing("kind = \"pl031\"", with: "kind = \"cmos-rtc\"\nport = 0x70")
                            .replacing("address = 0x9010000\n", with: ""),
                         keyPath: "devices[1].kind", "cmos-rtc", "I/O ports", "arm64")
        assertBoardError(validARM64Board.replacing("\"arm64\"", with: "\"x86_64\""),
                         keyPath: "interrupt_controller.kind", "gicv3 is an arm64 interrupt controller, but the board is x86_64")
    }

    func testDuplicateSingletonDevice() {
        assertBoardError(validX86Board + "\n[[devices]]\nkind = \"cmos-rtc\"\nport = 0x170\nirq = 7\n",
                         keyPath: "devices[2].kind", "at most one cmos-rtc", "devices[1]")
    }

    func testUARTNeedsExactlyOneLocation() {
        assertBoardError(validX86Board.replacing("port = 0x3F8", with: "port = 0x3F8\naddress = 0xFD000000"),
                         keyPath: "devices[0].address", "not both")
        assertBoardError(validX86Board.replacing("port = 0x3F8\n", with: ""), keyPath: "devices[0]", "either port")
    }

    func testMaxAddressBoundsRAM() throws {
        let board = try BoardCatalog.parse(text: validARM64Board.replacing("default_mib = 256", with: "default_mib = 256\nmax_address = 0x100000000"),
                                           fileName: "test.toml")
        try board.validate(ramMiB: 2048, cpus: 1)
        XCTAssertThrowsError(try board.validate(ramMiB: 2049, cpus: 1)) { error in
            assertOneLine(error as! BoardError, file: "test.toml", keyPath: "ram.max_address", ["0x100100000", "0x100000000"])
        }
    }
}
