import LKVMCore
import LKVMDevices
import XCTest

/// PL011 register offsets (TRM table 3-1).
private enum Reg {
    static let dr: UInt64 = 0x00, rsr: UInt64 = 0x04, fr: UInt64 = 0x18, ibrd: UInt64 = 0x24
    static let fbrd: UInt64 = 0x28, lcrh: UInt64 = 0x2C, cr: UInt64 = 0x30, ifls: UInt64 = 0x34
    static let imsc: UInt64 = 0x38, ris: UInt64 = 0x3C, mis: UInt64 = 0x40, icr: UInt64 = 0x44
    static let dmacr: UInt64 = 0x48
}

private enum Bit {
    static let rxfe: UInt64 = 0x10, txff: UInt64 = 0x20, rxff: UInt64 = 0x40, txfe: UInt64 = 0x80, busy: UInt64 = 0x08
    static let rx: UInt64 = 0x10, tx: UInt64 = 0x20, rt: UInt64 = 0x40, oe: UInt64 = 0x400
    static let fen: UInt64 = 0x10
}

final class PL011Tests: XCTestCase {
    private static let base: UInt64 = 0x0900_0000
    private var line: RecordingInterruptLine!
    private var output: RecordingConsoleOutput!
    private var uart: PL011!
    private var bus: Bus!

    override func setUpWithError() throws {
        line = RecordingInterruptLine()
        output = RecordingConsoleOutput()
        uart = PL011(interrupt: line, output: output, receiveCapacity: 64)
        bus = Bus(kind: "MMIO")
        try bus.register(uart, name: "pl011", base: Self.base, length: PL011.length)
    }

    private func read(_ offset: UInt64, size: Int = 4) -> UInt64 { bus.read(Self.base + offset, size: size) }
    private func write(_ offset: UInt64, _ value: UInt64, size: Int = 4) {
        bus.write(Self.base + offset, size: size, value: value)
    }

    /// What Linux's AMBA bus reads before binding amba-pl011: one byte per word.
    func testAMBAProbeReadsPL011AndPrimeCellIDs() {
        let bytes = stride(from: UInt64(0xFE0), to: 0x1000, by: 4).map { read($0) }
        XCTAssertEqual(bytes, [0x11, 0x10, 0x34, 0x00, 0x0D, 0xF0, 0x05, 0xB1])
        let periph = (0..<4).reduce(UInt64(0)) { $0 | bytes[$1] << UInt64($1 * 8) }
        let cell = (4..<8).reduce(UInt64(0)) { $0 | bytes[$1] << UInt64(($1 - 4) * 8) }
        XCTAssertEqual(periph, 0x0034_1011)
        XCTAssertEqual(cell, 0xB105_F00D)
        XCTAssertEqual(read(0xFE0, size: 1), 0x11, "byte reads see the same IDs")
    }

    func testResetFlagsAndRegisters() {
        XCTAssertEqual(read(Reg.fr) & (Bit.rxfe | Bit.txfe | Bit.txff | Bit.rxff | Bit.busy), Bit.rxfe | Bit.txfe)
        XCTAssertEqual(read(Reg.cr), 0x300, "TXE | RXE at reset")
        XCTAssertEqual(read(Reg.ifls), 0x12)
        XCTAssertEqual(read(Reg.imsc), 0)
        XCTAssertEqual(read(Reg.mis), 0)
        XCTAssertTrue(line.history.isEmpty)
    }

    func testBaudLineControlAndDMAControlReadBackWithinTheirWidths() {
        write(Reg.ibrd, 0x1_0027)
        write(Reg.fbrd, 0xFF)
        write(Reg.lcrh, 0x170)
        write(Reg.cr, 0xFFFF_FFFF)
        write(Reg.dmacr, 0xFF)
        XCTAssertEqual(read(Reg.ibrd), 0x27)
        XCTAssertEqual(read(Reg.fbrd), 0x3F)
        XCTAssertEqual(read(Reg.lcrh), 0x70)
        XCTAssertEqual(read(Reg.cr), 0xFF87)
        XCTAssertEqual(read(Reg.dmacr), 0x7)
    }

    /// earlycon writes DR with byte accesses and polls FR; the driver uses 16-bit accesses.
    func testTransmitReachesOutputWithAnyAccessWidth() {
        write(Reg.dr, UInt64(UInt8(ascii: "h")), size: 1)
        write(Reg.dr, UInt64(UInt8(ascii: "i")), size: 2)
        write(Reg.dr, 0x0A, size: 4)
        XCTAssertEqual(output.written, Array("hi\n".utf8))
        XCTAssertEqual(read(Reg.fr, size: 1) & Bit.txfe, Bit.txfe, "transmission is instant")
    }

    func testTransmitInterruptFollowsMaskAndClear() {
        write(Reg.imsc, Bit.tx)
        XCTAssertTrue(line.isAsserted, "an empty transmit FIFO raises TX at reset")
        write(Reg.icr, Bit.tx)
        XCTAssertFalse(line.isAsserted)
        XCTAssertEqual(read(Reg.ris) & Bit.tx, 0)
        write(Reg.dr, 0x41)
        XCTAssertTrue(line.isAsserted, "every byte empties the FIFO again")
        XCTAssertEqual(read(Reg.mis), Bit.tx)
        write(Reg.imsc, 0)
        XCTAssertFalse(line.isAsserted, "masking lowers the line; the raw status stays")
        XCTAssertEqual(read(Reg.ris) & Bit.tx, Bit.tx)
    }

    func testReceiveWithFIFOsOffRaisesRXForOneByte() {
        write(Reg.imsc, Bit.rx | Bit.rt)
        XCTAssertEqual(uart.receive(Array("ab".utf8)), 2)
        XCTAssertTrue(line.isAsserted)
        XCTAssertEqual(read(Reg.mis), Bit.rx)
        XCTAssertEqual(read(Reg.fr) & (Bit.rxfe | Bit.rxff), Bit.rxff, "a one-byte holding register is full")
        XCTAssertEqual(read(Reg.dr), UInt64(UInt8(ascii: "a")))
        XCTAssertTrue(line.isAsserted)
        XCTAssertEqual(read(Reg.dr, size: 2), UInt64(UInt8(ascii: "b")))
        XCTAssertFalse(line.isAsserted)
        XCTAssertEqual(read(Reg.fr) & Bit.rxfe, Bit.rxfe)
    }

    /// With FIFOs on, RX fires at the trigger level and RT stands for fewer waiting bytes.
    func testReceiveFIFOTriggerAndTimeoutInterrupts() {
        write(Reg.lcrh, Bit.fen | 0x60)
        write(Reg.ifls, 0x00)  // RX trigger at 1/8 = 4 bytes
        write(Reg.imsc, Bit.rx | Bit.rt)
        uart.receive([1, 2])
        XCTAssertEqual(read(Reg.mis), Bit.rt, "below the trigger: the receive timeout")
        uart.receive([3, 4])
        XCTAssertEqual(read(Reg.mis), Bit.rx)
        XCTAssertEqual(read(Reg.fr) & (Bit.rxfe | Bit.rxff), 0)
        var received: [UInt64] = []
        while read(Reg.fr) & Bit.rxfe == 0 { received.append(read(Reg.dr)) }
        XCTAssertEqual(received, [1, 2, 3, 4])
        XCTAssertFalse(line.isAsserted)
        XCTAssertEqual(line.history, [true, false])
    }

    func testFIFOFullFlagAt32Bytes() {
        write(Reg.lcrh, Bit.fen)
        uart.receive([UInt8](repeating: 0x55, count: 40))
        XCTAssertEqual(read(Reg.fr) & Bit.rxff, Bit.rxff)
        for _ in 0..<9 { _ = read(Reg.dr) }
        XCTAssertEqual(read(Reg.fr) & Bit.rxff, 0, "31 of 40 left in view of a 32-byte FIFO")
    }

    func testMaskedReceiveKeepsTheLineLow() {
        uart.receive([0x61])
        XCTAssertEqual(read(Reg.ris) & Bit.rx, Bit.rx)
        XCTAssertEqual(read(Reg.mis), 0)
        XCTAssertTrue(line.history.isEmpty)
        write(Reg.imsc, Bit.rx)
        XCTAssertTrue(line.isAsserted, "unmasking a raised interrupt asserts the line")
    }

    func testOverrunIsReportedInDataStatusAndInterrupt() {
        XCTAssertEqual(uart.receive([UInt8](repeating: 0x30, count: 70)), 64)
        XCTAssertEqual(uart.droppedInputBytes, 6)
        XCTAssertEqual(read(Reg.rsr) & 0x8, 0x8)
        XCTAssertEqual(read(Reg.ris) & Bit.oe, Bit.oe)
        XCTAssertEqual(read(Reg.dr), 0x800 | 0x30, "the next character carries OE")
        XCTAssertEqual(read(Reg.dr), 0x30)
        write(Reg.rsr, 0)  // UARTECR
        XCTAssertEqual(read(Reg.rsr), 0)
        write(Reg.icr, 0x7FF)
        XCTAssertEqual(read(Reg.ris) & Bit.oe, 0)
    }

    func testLoopbackSendsTransmittedBytesToTheReceiver() {
        write(Reg.cr, 0x381)  // UARTEN | LBE | TXE | RXE
        write(Reg.dr, 0x5A)
        XCTAssertTrue(output.written.isEmpty)
        XCTAssertEqual(read(Reg.dr), 0x5A)
    }

    func testReadsOfAnEmptyFIFOAndUnknownOffsetsAreHarmless() {
        XCTAssertEqual(read(Reg.dr), 0)
        XCTAssertEqual(read(0x800), 0)
        write(0x800, 0xFFFF)
        write(Reg.dr + 1, 0x41, size: 1)  // not a register start: ignored
        XCTAssertTrue(output.written.isEmpty)
    }

    /// A break reads as a NUL with DR.BE (bit 10), then the SysRq key; RIS.BEIS
    /// is raised and cleared through ICR.
    func testBreakReadsAsNulWithBreakErrorThenTheKey() {
        write(Reg.imsc, Bit.rx | Bit.rt | 0x200)
        XCTAssertTrue(uart.receiveBreak(followedBy: [UInt8(ascii: "t")]))
        XCTAssertTrue(line.isAsserted)
        XCTAssertEqual(read(Reg.ris) & 0x200, 0x200)
        XCTAssertEqual(read(Reg.dr), 0x400)
        XCTAssertEqual(read(Reg.dr), UInt64(UInt8(ascii: "t")))
        XCTAssertEqual(read(Reg.fr) & Bit.rxfe, Bit.rxfe)
        write(Reg.icr, 0x200)
        XCTAssertEqual(read(Reg.ris) & 0x200, 0)
        XCTAssertFalse(line.isAsserted)
        XCTAssertFalse(uart.receiveBreak(followedBy: Array(repeating: 0x61, count: 64)), "no room for break + 64 bytes")
    }
}
