import Foundation
import XCTest
@testable import ArchX86
import LKVMCore

/// The guest image of the shipped pc board: what the firmware tables in
/// guest RAM say about PCI, with and without the board's [pci] section.
final class PCGuestImagePCITests: XCTestCase {
    static let pcBoardPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Boards/pc.toml").path

    func image(_ board: Board) throws -> PCGuestImage {
        try PCGuestImage(config: PCMachineConfig(board: board, memMiB: 64, cpus: 2, kernel: syntheticKernel(),
                                                 initrd: nil, params: ""))
    }

    func pcBoard() throws -> Board { try BoardCatalog.load(path: Self.pcBoardPath) }

    /// pc.toml without its [pci] section, virtio over mmio.
    func boardWithoutPCI() throws -> Board {
        let text = try String(contentsOfFile: Self.pcBoardPath, encoding: .utf8)
        var kept: [Substring] = []
        var inPCI = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("[") { inPCI = line.hasPrefix("[pci]") }
            if !inPCI { kept.append(line.hasPrefix("default_transport") ? "default_transport = \"mmio\"" : line) }
        }
        let board = try BoardCatalog.parse(text: kept.joined(separator: "\n"), fileName: "nopci.toml")
        XCTAssertNil(board.pci)
        return board
    }

    func e820(_ image: PCGuestImage) throws -> [E820Entry] {
        let page = try image.memory.read(4096, at: LongModeLayout.zeroPageAddress)
        return (0..<Int(page[0x1E8])).map { index in
            let at = 0x2D0 + 20 * index
            return E820Entry(address: le64(page, at), size: le64(page, at + 8),
                             type: E820Type(rawValue: le32(page, at + 16)) ?? .nvs)
        }
    }

    /// (signature, address) of each table the XSDT lists, read from guest RAM.
    func xsdtTables(_ image: PCGuestImage) throws -> [(signature: String, address: UInt64)] {
        let memory = image.memory
        let xsdt = try memory.load(UInt64.self, at: GuestAddress(0xE0000 + 24))
        let length = Int(try memory.load(UInt32.self, at: GuestAddress(xsdt + 4)))
        return try (0..<((length - 36) / 8)).map { index in
            let table = try memory.load(UInt64.self, at: GuestAddress(xsdt + 36 + 8 * UInt64(index)))
            return (String(decoding: try memory.read(4, at: GuestAddress(table)), as: UTF8.self), table)
        }
    }

    func xsdtSignatures(_ image: PCGuestImage) throws -> [String] { try xsdtTables(image).map(\.signature) }

    func tableAddress(_ image: PCGuestImage, signature: String) throws -> UInt64 {
        try XCTUnwrap(try xsdtTables(image).first { $0.signature == signature }?.address, signature)
    }

    func dsdt(_ image: PCGuestImage) throws -> [UInt8] {
        let fadt = try tableAddress(image, signature: "FACP")
        let address = UInt64(try image.memory.load(UInt32.self, at: GuestAddress(fadt + 40)))
        let length = try image.memory.load(UInt32.self, at: GuestAddress(address + 4))
        return try image.memory.read(Int(length), at: GuestAddress(address))
    }

    func mpTable(_ image: PCGuestImage) throws -> ParsedMPTable {
        let base = LongModeLayout.mpTableAddress
        // Floating pointer (16 bytes), then the configuration table's length.
        let length = try image.memory.load(UInt16.self, at: GuestAddress(base.raw + 16 + 4))
        return try ParsedMPTable(try image.memory.read(16 + Int(length), at: base), base: base.raw)
    }

    func testPCBoardReservesECAMInE820() throws {
        let entries = try e820(try image(try pcBoard()))
        let ecam = try XCTUnwrap(entries.first { $0.address == 0xE000_0000 })
        XCTAssertEqual(ecam, E820Entry(address: 0xE000_0000, size: 0x10_0000, type: .reserved))
        XCTAssertFalse(entries.contains { $0.type == .ram && $0.end > 0xE000_0000 && $0.address < 0xF000_0000 })
    }

    func testPCBoardDescribesTheHostBridgeAloneInACPI() throws {
        let image = try image(try pcBoard())
        XCTAssertEqual(try xsdtSignatures(image), ["FACP", "APIC", "MCFG"])
        let mcfg = try tableAddress(image, signature: "MCFG")
        XCTAssertEqual(try image.memory.load(UInt64.self, at: GuestAddress(mcfg + 44)), 0xE000_0000)
        let dsdt = try dsdt(image)
        XCTAssertEqual(dsdt.reduce(0, &+), 0)
        let aml = Array(dsdt.dropFirst(36))
        XCTAssertNoThrow(try AMLTestReader.device("PCI0", in: aml))
        XCTAssertNoThrow(try AMLTestReader.device("MBRD", in: aml))
    }

    func testPCBoardMPTableHasThePCIBus() throws {
        let table = try mpTable(try image(try pcBoard()))
        XCTAssertEqual(table.tableSum, 0)
        XCTAssertEqual(table.entries(ofType: 1), [[1, 0] + Array("PCI   ".utf8), [1, 1] + Array("ISA   ".utf8)])
        XCTAssertTrue(table.entries(ofType: 3).allSatisfy { $0[4] == 1 }, "no virtio-pci device, no PCI route")
    }

    func testBoardWithoutPCIGetsNoPCIAnywhere() throws {
        let image = try image(try boardWithoutPCI())
        XCTAssertFalse(try e820(image).contains { $0.address == 0xE000_0000 })
        XCTAssertEqual(try xsdtSignatures(image), ["FACP", "APIC"])
        let aml = Array(try dsdt(image).dropFirst(36))
        XCTAssertThrowsError(try AMLTestReader.device("PCI0", in: aml))
        let table = try mpTable(image)
        XCTAssertEqual(table.entries(ofType: 1), [[1, 0] + Array("ISA   ".utf8)])
    }
}
