import ArchX86
import LKVMCore
import Synchronization
import XCTest

/// Records every level the keyboard interrupt line is driven to.
private final class RecordingLine: InterruptLine {
    private let levels = Mutex<[Bool]>([])
    func setLevel(_ asserted: Bool) { levels.withLock { $0.append(asserted) } }
    var history: [Bool] { levels.withLock { $0 } }
}

private final class Counter: Sendable {
    private let value = Mutex(0)
    func increment() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}

final class I8042Tests: XCTestCase {
    private let data: UInt64 = 0, command: UInt64 = 4
    private let outputFull: UInt8 = 0x01

    private var resets: Counter!
    private var line: RecordingLine!
    private var controller: I8042!

    override func setUp() {
        let resets = Counter()
        self.resets = resets
        line = RecordingLine()
        controller = I8042(keyboardInterrupt: line, onReset: { resets.increment() })
    }

    private func status() -> UInt8 { UInt8(controller.read(offset: command, size: 1)) }
    private func readData() -> UInt8 { UInt8(controller.read(offset: data, size: 1)) }
    private func sendCommand(_ byte: UInt8) { controller.write(offset: command, size: 1, value: UInt64(byte)) }
    private func sendData(_ byte: UInt8) { controller.write(offset: data, size: 1, value: UInt64(byte)) }

    /// Like Linux's i8042_command: send, then wait for OBF and read.
    private func ask(_ byte: UInt8, parameter: UInt8? = nil) -> UInt8? {
        sendCommand(byte)
        if let parameter { sendData(parameter) }
        guard status() & outputFull != 0 else { return nil }
        return readData()
    }

    func testSelfTestAndInterfaceTests() {
        XCTAssertEqual(status() & 0x02, 0, "input buffer never full")
        XCTAssertEqual(ask(0xAA), 0x55)
        XCTAssertEqual(status() & 0x04, 0x04, "system flag set")
        XCTAssertEqual(ask(0xAB), 0x00, "keyboard interface OK")
        XCTAssertEqual(status() & outputFull, 0)
    }

    func testConfigurationByteRoundTrip() {
        XCTAssertEqual(ask(0x20), 0x65, "keyboard interrupt, system, translation, AUX disabled")
        XCTAssertNil(ask(0x60, parameter: 0x44))
        XCTAssertEqual(ask(0x20), 0x44)
        sendCommand(0xAD)
        XCTAssertEqual(ask(0x20), 0x54, "0xAD disables the keyboard port")
        sendCommand(0xAE)
        sendCommand(0xA8)
        XCTAssertEqual(ask(0x20), 0x44, "0xAE and 0xA8 enable the ports")
        sendCommand(0xA7)
        XCTAssertEqual(ask(0x20), 0x64)
        XCTAssertNil(ask(0x7F, parameter: 0x99), "internal RAM byte 31")
        XCTAssertEqual(ask(0x3F), 0x99)
    }

    /// Linux's i8042_check_aux must fail at once: no mouse, no IRQ 12 wait.
    func testAuxPortReadsAsAbsentWithoutTimeouts() {
        sendCommand(0xD3)
        sendData(0x5A)
        XCTAssertEqual(status() & (outputFull | 0x20), outputFull, "looped byte lacks the AUX-data flag")
        let auxTest = ask(0xA9)
        XCTAssertNotNil(auxTest)
        XCTAssertNotEqual(auxTest, 0x00, "interface test fails, so Linux skips the AUX IRQ test")
        XCTAssertNotEqual(auxTest, 0xFA)
        XCTAssertNotEqual(auxTest, 0xFF)
        XCTAssertEqual(status() & outputFull, 0, "the stale loop byte was superseded")
        sendCommand(0xD4)
        sendData(0xF2)
        XCTAssertEqual(status() & outputFull, 0, "no mouse answers")
    }

    func testResetFiresOnlyOnPulseCommands() {
        for byte: UInt8 in [0x20, 0xAA, 0xAD, 0xAE, 0xFF, 0xD0] { _ = ask(byte) }
        sendData(0xFE)  // a keyboard resend request, not a controller command
        _ = readData()
        XCTAssertEqual(resets.count, 0)
        sendCommand(0xFE)
        XCTAssertEqual(resets.count, 1)
        sendCommand(0xD1)
        sendData(0xDF)  // A20 on, reset line high
        XCTAssertEqual(resets.count, 1)
        sendCommand(0xD1)
        sendData(0xDE)  // reset line low
        XCTAssertEqual(resets.count, 2)
    }

    func testEmptyDataPortRepeatsLastByte() {
        XCTAssertEqual(status() & outputFull, 0)
        XCTAssertEqual(readData(), 0x00)
        XCTAssertEqual(ask(0xAA), 0x55)
        XCTAssertEqual(readData(), 0x55)
        XCTAssertEqual(status() & outputFull, 0)
    }

    func testKeyboardIdentifiesAndInterruptsPerByte() {
        sendData(0xF2)
        XCTAssertEqual(line.history, [true])
        var bytes: [UInt8] = []
        while status() & outputFull != 0 { bytes.append(readData()) }
        XCTAssertEqual(bytes, [0xFA, 0xAB, 0x41], "translated MF2 id")
        XCTAssertEqual(line.history, [true, false, true, false, true, false], "an edge per byte")

        XCTAssertNil(ask(0x60, parameter: 0x04))  // interrupts off, no translation
        sendData(0xF2)
        bytes = []
        while status() & outputFull != 0 { bytes.append(readData()) }
        XCTAssertEqual(bytes, [0xFA, 0xAB, 0x83])
        XCTAssertEqual(line.history.count, 6, "no interrupt while the CTR disables it")
    }

    func testKeyboardCommandsWithParameters() {
        func exchange(_ bytes: [UInt8]) -> [UInt8] {
            var answer: [UInt8] = []
            for byte in bytes {
                sendData(byte)
                while status() & outputFull != 0 { answer.append(readData()) }
            }
            return answer
        }
        XCTAssertEqual(exchange([0xED, 0x07]), [0xFA, 0xFA])
        XCTAssertEqual(exchange([0xF0, 0x00]), [0xFA, 0xFA, 0x02])
        XCTAssertEqual(exchange([0xFF]), [0xFA, 0xAA])
        XCTAssertEqual(exchange([0xEE]), [0xEE])
        XCTAssertEqual(exchange([0x01]), [0xFE], "unknown command: resend")
    }

    func testOtherPortsFloatAndIgnoreWrites() {
        for offset: UInt64 in 1...3 {
            XCTAssertEqual(controller.read(offset: offset, size: 1), 0xFF)
            controller.write(offset: offset, size: 1, value: 0xFE)
        }
        XCTAssertEqual(resets.count, 0)
    }

    func testWithoutAnInterruptLine() {
        let bare = I8042(onReset: {})
        bare.write(offset: 0, size: 1, value: 0xF2)
        XCTAssertEqual(bare.read(offset: 0, size: 1), 0xFA)
        XCTAssertEqual(I8042.portSpan, 5)
    }
}
