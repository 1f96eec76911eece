import LKVMCore
import LKVMDevices
import Synchronization
import XCTest

/// A settable host clock.
private final class TestClock: Sendable {
    private let seconds = Mutex<Int64>(1_700_000_000)
    var now: Int64 { seconds.withLock { $0 } }
    func advance(_ delta: Int64) { seconds.withLock { $0 += delta } }
}

final class PL031Tests: XCTestCase {
    private static let base: UInt64 = 0x0901_0000
    private enum Reg {
        static let dr: UInt64 = 0x00, mr: UInt64 = 0x04, lr: UInt64 = 0x08, cr: UInt64 = 0x0C
        static let imsc: UInt64 = 0x10, ris: UInt64 = 0x14, mis: UInt64 = 0x18, icr: UInt64 = 0x1C
    }

    private var clock: TestClock!
    private var line: RecordingInterruptLine!
    private var bus: Bus!

    override func setUpWithError() throws {
        let clock = TestClock()
        self.clock = clock
        line = RecordingInterruptLine()
        bus = Bus(kind: "MMIO")
        try bus.register(PL031(interrupt: line, clock: { clock.now }), name: "pl031", base: Self.base,
                         length: PL031.length)
    }

    private func read(_ offset: UInt64) -> UInt64 { bus.read(Self.base + offset, size: 4) }
    private func write(_ offset: UInt64, _ value: UInt64) { bus.write(Self.base + offset, size: 4, value: value) }

    func testAMBAProbeReadsPL031AndPrimeCellIDs() {
        let bytes = stride(from: UInt64(0xFE0), to: 0x1000, by: 4).map { read($0) }
        XCTAssertEqual(bytes, [0x31, 0x10, 0x04, 0x00, 0x0D, 0xF0, 0x05, 0xB1])
    }

    func testCounterIsTheHostClockAndRunsFromReset() {
        XCTAssertEqual(read(Reg.dr), 1_700_000_000)
        clock.advance(5)
        XCTAssertEqual(read(Reg.dr), 1_700_000_005)
        XCTAssertEqual(read(Reg.cr) & 1, 1, "rtc-pl031 finds the RTC started")
    }

    func testTheRealHostClockIsUsedByDefault() throws {
        var bus = Bus(kind: "MMIO")
        try bus.register(PL031(interrupt: line), name: "pl031", base: 0, length: PL031.length)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let counter = Int64(bus.read(0, size: 4))
        XCTAssertLessThanOrEqual(abs(counter - Int64(now.tv_sec)), 2)
    }

    func testLoadMovesTheCounterAndReadsBack() {
        write(Reg.lr, 1_000)
        XCTAssertEqual(read(Reg.dr), 1_000)
        XCTAssertEqual(read(Reg.lr), 1_000)
        clock.advance(3)
        XCTAssertEqual(read(Reg.dr), 1_003, "the loaded time keeps running with the host clock")
    }

    func testMatchRaisesTheInterruptWhenUnmaskedAndClears() {
        write(Reg.mr, 1_700_000_010)
        XCTAssertEqual(read(Reg.mr), 1_700_000_010)
        write(Reg.imsc, 1)
        XCTAssertEqual(read(Reg.ris), 0)
        clock.advance(10)
        XCTAssertEqual(read(Reg.ris), 1)
        XCTAssertEqual(read(Reg.mis), 1)
        XCTAssertTrue(line.isAsserted)
        write(Reg.icr, 1)
        XCTAssertEqual(read(Reg.ris), 0)
        XCTAssertFalse(line.isAsserted)
        clock.advance(10)
        XCTAssertEqual(read(Reg.ris), 0, "one interrupt per match written")
    }

    func testMaskedMatchKeepsTheLineLow() {
        write(Reg.mr, 1_700_000_000)
        XCTAssertEqual(read(Reg.ris), 1)
        XCTAssertEqual(read(Reg.mis), 0)
        XCTAssertTrue(line.history.isEmpty)
    }
}
