import LKVMCore
import LKVMDevices
import Dispatch
import XCTest

/// Register offsets for port I/O (register shift 0).
private enum Reg {
    static let data: UInt64 = 0, ier: UInt64 = 1, iir: UInt64 = 2, fcr: UInt64 = 2
    static let lcr: UInt64 = 3, mcr: UInt64 = 4, lsr: UInt64 = 5, msr: UInt64 = 6, scr: UInt64 = 7
}

final class Serial8250Tests: XCTestCase {
    private var line: RecordingInterruptLine!
    private var output: RecordingConsoleOutput!
    private var uart: Serial8250!

    override func setUp() {
        line = RecordingInterruptLine()
        output = RecordingConsoleOutput()
        uart = Serial8250(interrupt: line, output: output, receiveCapacity: 8)
    }

    private func read(_ offset: UInt64) -> UInt8 { UInt8(uart.read(offset: offset, size: 1)) }
    private func write(_ offset: UInt64, _ value: UInt8) { uart.write(offset: offset, size: 1, value: UInt64(value)) }

    /// The checks Linux's 8250 autoconfig makes before it calls a port a 16550A.
    func testLinuxAutoconfigProbeFindsA16550A() {
        // IER scratch test: the low nibble reads back, the upper one does not.
        write(Reg.ier, 0)
        XCTAssertEqual(read(Reg.ier) & 0x0F, 0)
        write(Reg.ier, 0x0F)
        XCTAssertEqual(read(Reg.ier) & 0x0F, 0x0F)
        write(Reg.ier, 0x40)  // XScale UUE probe: must not stick
        XCTAssertEqual(read(Reg.ier), 0)
        write(Reg.ier, 0)

        // Loopback: RTS|OUT2 come back as CTS|DCD.
        write(Reg.mcr, 0x10 | 0x0A)
        XCTAssertEqual(read(Reg.msr) & 0xF0, 0x90)
        write(Reg.mcr, 0)

        // FIFO detection: EFR probe in config mode, then FCR enable; IIR bits 7:6 set.
        write(Reg.lcr, 0xBF)
        write(Reg.fcr, 0)
        write(Reg.lcr, 0)
        write(Reg.fcr, 0x01)
        XCTAssertEqual(read(Reg.iir), 0xC1, "FIFOs on, no interrupt pending")

        // 16750 probe (FCR bit 5) must not show a 64-byte FIFO.
        write(Reg.fcr, 0x21)
        XCTAssertEqual(read(Reg.iir) & 0xE0, 0xC0)
        write(Reg.lcr, 0x80)
        write(Reg.fcr, 0x21)
        XCTAssertEqual(read(Reg.iir) & 0xE0, 0xC0)
        XCTAssertNotEqual(read(Reg.iir), 0, "EFR probe with DLAB set reads IIR, never 0")
        write(Reg.lcr, 0)

        write(Reg.scr, 0x5A)
        XCTAssertEqual(read(Reg.scr), 0x5A)
        XCTAssertNotEqual(read(Reg.lsr), 0xFF, "Linux's LSR safety check")
        // IER 0x0F raised THRE for a moment, as on real hardware; IER 0 lowered it.
        XCTAssertEqual(line.history, [true, false])
        XCTAssertTrue(output.written.isEmpty)
    }

    func testFIFOsOffLeaveIIRBitsClear() {
        XCTAssertEqual(read(Reg.iir), 0x01)
        write(Reg.fcr, 0x01)
        XCTAssertEqual(read(Reg.iir), 0xC1)
        write(Reg.fcr, 0x00)
        XCTAssertEqual(read(Reg.iir), 0x01)
    }

    func testDivisorLatchSharesOffsetsZeroAndOne() {
        write(Reg.ier, 0x05)
        write(Reg.lcr, 0x83)
        write(Reg.data, 0x01)
        write(Reg.ier, 0x02)
        XCTAssertEqual(read(Reg.data), 0x01)
        XCTAssertEqual(read(Reg.ier), 0x02)
        write(Reg.lcr, 0x03)
        XCTAssertEqual(read(Reg.ier), 0x05, "IER kept while DLAB was set")
        XCTAssertEqual(read(Reg.lcr), 0x03)
        XCTAssertTrue(output.written.isEmpty, "a divisor write transmits nothing")
    }

    func testTransmitSendsEachByteAtOnce() {
        for byte in Array("hi\n".utf8) { write(Reg.data, byte) }
        XCTAssertEqual(output.written, Array("hi\n".utf8))
        XCTAssertEqual(output.writeCount, 3)
        XCTAssertEqual(read(Reg.lsr) & 0x60, 0x60, "THRE and TEMT always set")
    }

    func testEnablingTransmitInterruptWithEmptyTHRRaisesIt() {
        write(Reg.ier, 0x02)
        XCTAssertTrue(line.isAsserted)
        XCTAssertEqual(read(Reg.iir), 0x02)
        XCTAssertFalse(line.isAsserted, "reading IIR that reports THRE acknowledges it")
        XCTAssertEqual(read(Reg.iir), 0x01)

        // Linux's THRE test: clearing and setting ETBEI raises it again.
        write(Reg.ier, 0)
        write(Reg.ier, 0x02)
        XCTAssertEqual(read(Reg.iir), 0x02)
        // Rewriting an already set ETBEI is no new edge.
        write(Reg.ier, 0x02)
        XCTAssertEqual(read(Reg.iir), 0x01)
        XCTAssertEqual(line.history, [true, false, true, false])
    }

    func testWritingTHRReraisesTransmitInterrupt() {
        write(Reg.ier, 0x02)
        _ = read(Reg.iir)
        write(Reg.data, UInt8(ascii: "a"))
        XCTAssertTrue(line.isAsserted)
        XCTAssertEqual(read(Reg.iir), 0x02)
        XCTAssertFalse(line.isAsserted)
        write(Reg.ier, 0)
        write(Reg.data, UInt8(ascii: "b"))
        XCTAssertFalse(line.isAsserted, "masked while ETBEI is clear")
    }

    func testReceiveRaisesDataInterruptUntilDrained() {
        write(Reg.ier, 0x01)
        XCTAssertEqual(read(Reg.lsr) & 0x01, 0)
        XCTAssertEqual(uart.receive([0x41, 0x42]), 2)
        XCTAssertTrue(line.isAsserted)
        XCTAssertEqual(read(Reg.iir), 0x04)
        XCTAssertEqual(read(Reg.lsr) & 0x01, 0x01)
        XCTAssertEqual(read(Reg.data), 0x41)
        XCTAssertTrue(line.isAsserted)
        XCTAssertEqual(read(Reg.data), 0x42)
        XCTAssertFalse(line.isAsserted)
        XCTAssertEqual(read(Reg.lsr) & 0x01, 0)
        XCTAssertEqual(read(Reg.data), 0x42, "an empty receiver repeats its last byte")
        XCTAssertEqual(line.history, [true, false])
    }

    func testReceiveWithoutInterruptEnableOnlySetsDataReady() {
        uart.receive([7])
        XCTAssertEqual(line.history, [])
        XCTAssertEqual(read(Reg.lsr) & 0x01, 0x01)
        write(Reg.ier, 0x01)
        XCTAssertTrue(line.isAsserted, "enabling ERBFI with data waiting raises the line")
    }

    func testInterruptPriorityOrder() {
        write(Reg.ier, 0x0F)  // all four sources
        uart.receive(Array(repeating: 1, count: 9))  // one byte too many: overrun
        write(Reg.mcr, 0x10 | 0x02)  // loopback changes CTS: modem status delta
        XCTAssertEqual(read(Reg.iir), 0x06, "line status first")
        _ = read(Reg.lsr)
        XCTAssertEqual(read(Reg.iir), 0x04, "then received data")
        for _ in 0..<8 { _ = read(Reg.data) }
        XCTAssertEqual(read(Reg.iir), 0x02, "then THRE")
        XCTAssertEqual(read(Reg.iir), 0x00, "then modem status")
        _ = read(Reg.msr)
        XCTAssertEqual(read(Reg.iir), 0x01)
        XCTAssertFalse(line.isAsserted)
    }

    func testReceiveBacklogIsBoundedAndCountsDrops() {
        XCTAssertEqual(uart.receiveRoom, 8)
        XCTAssertEqual(uart.receive(Array(0..<6)), 6)
        XCTAssertEqual(uart.receive(Array(6..<12)), 2)
        XCTAssertEqual(uart.receiveRoom, 0)
        XCTAssertEqual(uart.droppedInputBytes, 4)
        XCTAssertEqual(read(Reg.lsr) & 0x03, 0x03, "DR and OE")
        XCTAssertEqual(read(Reg.lsr) & 0x02, 0, "OE clears when LSR is read")
        var received: [UInt8] = []
        while read(Reg.lsr) & 0x01 != 0 { received.append(read(Reg.data)) }
        XCTAssertEqual(received, Array(0..<8))
        XCTAssertEqual(uart.receiveRoom, 8)
    }

    func testFIFOResetDropsReceivedBytes() {
        write(Reg.fcr, 0x01)
        uart.receive([1, 2, 3])
        write(Reg.fcr, 0x01 | 0x02)
        XCTAssertEqual(read(Reg.lsr) & 0x01, 0)
        uart.receive([4])
        write(Reg.fcr, 0x00)  // disabling the FIFOs empties them too
        XCTAssertEqual(read(Reg.lsr) & 0x01, 0)
    }

    func testLoopbackReturnsTransmittedBytesInstead() {
        write(Reg.mcr, 0x10)
        write(Reg.data, 0x55)
        XCTAssertTrue(output.written.isEmpty)
        XCTAssertEqual(read(Reg.lsr) & 0x01, 0x01)
        XCTAssertEqual(read(Reg.data), 0x55)
        write(Reg.mcr, 0x00)
        write(Reg.data, 0x56)
        XCTAssertEqual(output.written, [0x56])
    }

    func testModemStatusOutsideLoopbackShowsAConnectedModem() {
        XCTAssertEqual(read(Reg.msr), 0xB0)
        write(Reg.mcr, 0x10 | 0x0F)
        XCTAssertEqual(read(Reg.msr), 0xF0, "RI rising is no delta; the others did not change")
    }

    func testModemStatusDeltasAndTrailingEdgeOfRing() {
        write(Reg.mcr, 0x10 | 0x04)  // loopback, OUT1 -> RI; CTS, DSR, DCD drop
        XCTAssertEqual(read(Reg.msr), 0x40 | 0x01 | 0x02 | 0x08)
        write(Reg.mcr, 0x10)  // RI goes inactive
        XCTAssertEqual(read(Reg.msr), 0x04)
        XCTAssertEqual(read(Reg.msr), 0x00)
    }

    func testRegisterShiftForMMIO() {
        let mmio = Serial8250(interrupt: line, output: output, registerShift: 2)
        XCTAssertEqual(mmio.length, 32)
        mmio.write(offset: 7 << 2, size: 4, value: 0xA5)
        XCTAssertEqual(mmio.read(offset: 7 << 2, size: 4), 0xA5)
        XCTAssertEqual(mmio.read(offset: 7, size: 1), 0xFF, "between registers floats high")
        mmio.write(offset: 1, size: 1, value: 0x02)  // not IER: ignored
        XCTAssertEqual(mmio.read(offset: 1 << 2, size: 4), 0)
        mmio.write(offset: 0, size: 4, value: 0x1234_5678)
        XCTAssertEqual(output.written, [0x78], "only the low byte is a register")
    }

    func testUnclaimedOffsetsAndOddSizesAreHarmless() {
        for size in [0, -1, 3, 5, 16, Int.max] {
            _ = uart.read(offset: 0, size: size)
            uart.write(offset: 0, size: size, value: 0x41)
        }
        XCTAssertTrue(output.written.isEmpty)
        XCTAssertEqual(uart.read(offset: 8, size: 1), 0xFF)
        XCTAssertEqual(uart.read(offset: 8, size: 2), 0xFFFF)
        XCTAssertEqual(uart.read(offset: UInt64.max, size: 8), UInt64.max)
        uart.write(offset: UInt64.max, size: 1, value: 0)
        XCTAssertEqual(uart.read(offset: Reg.scr, size: 2), 0, "wider reads return the register byte")
        XCTAssertEqual(uart.receive([]), 0)
    }
    /// Magic SysRq over a serial console: Linux's 8250 driver sees LSR.BI with
    /// a NUL character, then reads the command key as the next character.
    func testBreakArrivesAsFlaggedNulBeforeTheKey() {
        write(Reg.ier, 0x05)  // RDI | RLSI, as Linux enables them
        XCTAssertTrue(uart.receive([0x41]) == 1)
        XCTAssertTrue(uart.receiveBreak(followedBy: [UInt8(ascii: "l")]))
        XCTAssertTrue(line.isAsserted)
        XCTAssertEqual(read(Reg.lsr) & 0x11, 0x01, "the byte ahead of the break is plain data")
        XCTAssertEqual(read(Reg.data), 0x41)
        XCTAssertEqual(read(Reg.iir) & 0x0F, 0x06, "a break at the head raises the line-status interrupt")
        XCTAssertEqual(read(Reg.lsr) & 0x11, 0x11)
        XCTAssertEqual(read(Reg.data), 0)
        XCTAssertEqual(read(Reg.lsr) & 0x11, 0x01, "BI goes with its character")
        XCTAssertEqual(read(Reg.data), UInt8(ascii: "l"))
        XCTAssertEqual(read(Reg.lsr) & 0x11, 0)
        XCTAssertTrue(uart.receiveBreak(followedBy: []), "a new break once the last one was read")
    }

    func testBreakRefusedWithoutRoomAndWhileOneIsUnread() {
        XCTAssertTrue(uart.receiveBreak(followedBy: [1, 2]))
        XCTAssertFalse(uart.receiveBreak(followedBy: [3]), "one break at a time")
        XCTAssertEqual(uart.receive([4, 5, 6, 7, 8, 9]), 5, "capacity 8: 3 queued")
        write(Reg.fcr, 0x01)
        write(Reg.fcr, 0x03)  // clearing the FIFO drops the break too
        XCTAssertEqual(read(Reg.lsr) & 0x11, 0)
        XCTAssertFalse(uart.receiveBreak(followedBy: Array(repeating: 0x61, count: 8)), "break + 8 bytes > capacity 8")
    }
}

final class Serial8250ConcurrencyTests: XCTestCase {
    /// vCPU threads transmit while the input thread feeds bytes: nothing is lost
    /// or duplicated, and the line ends low once everything is drained.
    func testConcurrentTransmitAndReceive() {
        let line = RecordingInterruptLine()
        let output = RecordingConsoleOutput()
        let uart = Serial8250(interrupt: line, output: output, receiveCapacity: 4_096)
        uart.write(offset: 1, size: 1, value: 0x01)  // ERBFI
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for _ in 0..<500 {
                if worker == 0 {
                    uart.receive([0x61])
                } else {
                    uart.write(offset: 0, size: 1, value: UInt64(0x30 + worker))
                }
            }
        }
        XCTAssertEqual(output.written.count, 1_500)
        var received = 0
        while uart.read(offset: 5, size: 1) & 0x01 != 0 {
            XCTAssertEqual(uart.read(offset: 0, size: 1), 0x61)
            received += 1
        }
        XCTAssertEqual(received, 500)
        XCTAssertFalse(line.isAsserted)
    }

}
