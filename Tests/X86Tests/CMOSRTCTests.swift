@testable import ArchX86
import Synchronization
import XCTest

/// A clock the test moves by hand.
private final class ManualClock: Sendable {
    private let seconds: Mutex<Int64>
    init(_ start: Int64) { seconds = Mutex(start) }
    func advance(by delta: Int64) { seconds.withLock { $0 += delta } }
    var now: Int64 { seconds.withLock { $0 } }
}

final class CMOSRTCTests: XCTestCase {
    /// 2026-11-30 16:45:07 UTC, a Monday.
    private static let reference: Int64 = 1_796_057_107

    private func makeRTC(_ clock: ManualClock) -> CMOSRTC { CMOSRTC(clock: { clock.now }) }

    private func read(_ rtc: CMOSRTC, _ register: UInt8) -> UInt8 {
        rtc.write(offset: 0, size: 1, value: UInt64(register))
        return UInt8(rtc.read(offset: 1, size: 1))
    }

    private func write(_ rtc: CMOSRTC, _ register: UInt8, _ value: UInt8) {
        rtc.write(offset: 0, size: 1, value: UInt64(register))
        rtc.write(offset: 1, size: 1, value: UInt64(value))
    }

    private func timeRegisters(_ rtc: CMOSRTC) -> [UInt8] {
        [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map { read(rtc, $0) }
    }

    func testDefaultsAreBCDAnd24HourWithExactFields() {
        let rtc = makeRTC(ManualClock(Self.reference))
        XCTAssertEqual(read(rtc, 0x0B), 0x02)
        // sec, min, hour, weekday (Monday = 2), day, month, year, century
        XCTAssertEqual(timeRegisters(rtc), [0x07, 0x45, 0x16, 0x02, 0x30, 0x11, 0x26, 0x20])
    }

    func testBinaryModeFromRegisterB() {
        let rtc = makeRTC(ManualClock(Self.reference))
        write(rtc, 0x0B, 0x02 | 0x04)
        XCTAssertEqual(timeRegisters(rtc), [7, 45, 16, 2, 30, 11, 26, 20])
    }

    func testTwelveHourModeMarksAfternoon() {
        let clock = ManualClock(Self.reference)
        let rtc = makeRTC(clock)
        write(rtc, 0x0B, 0x00)
        XCTAssertEqual(read(rtc, 0x04), 0x80 | 0x04, "16:45 is 4 PM")
        clock.advance(by: -16 * 3_600)  // 00:45
        XCTAssertEqual(read(rtc, 0x04), 0x12, "midnight hour is 12 AM")
        clock.advance(by: 12 * 3_600)  // 12:45
        XCTAssertEqual(read(rtc, 0x04), 0x80 | 0x12, "noon hour is 12 PM")
        write(rtc, 0x0B, 0x04)
        XCTAssertEqual(read(rtc, 0x04), 0x80 | 12, "binary 12-hour")
    }

    func testDatesAcrossCenturiesAndLeapDays() {
        let cases: [(Int64, [UInt8])] = [
            (951_782_400, [0x00, 0x00, 0x00, 0x03, 0x29, 0x02, 0x00, 0x20]),  // 2000-02-29 Tuesday
            (946_684_799, [0x59, 0x59, 0x23, 0x06, 0x31, 0x12, 0x99, 0x19]),  // 1999-12-31 Friday
            (4_107_585_600, [0x00, 0x00, 0x12, 0x02, 0x01, 0x03, 0x00, 0x21]),  // 2100-03-01 Monday
            (-86_400, [0x00, 0x00, 0x00, 0x04, 0x31, 0x12, 0x69, 0x19]),  // 1969-12-31 Wednesday
        ]
        for (seconds, expected) in cases {
            XCTAssertEqual(timeRegisters(makeRTC(ManualClock(seconds))), expected, "at \(seconds)")
        }
    }

    func testTimeFollowsTheClockAtReadTime() {
        let clock = ManualClock(Self.reference)
        let rtc = makeRTC(clock)
        clock.advance(by: 53)
        XCTAssertEqual(read(rtc, 0x00), 0x00)
        XCTAssertEqual(read(rtc, 0x02), 0x46)
    }

    func testStatusRegisters() {
        let rtc = makeRTC(ManualClock(Self.reference))
        XCTAssertEqual(read(rtc, 0x0A), 0x26, "divider set, update not in progress")
        write(rtc, 0x0A, 0xA6)
        XCTAssertEqual(read(rtc, 0x0A) & 0x80, 0, "UIP is read-only and never set")
        XCTAssertEqual(read(rtc, 0x0D), 0x80, "valid RAM and time")
        write(rtc, 0x0B, 0x02 | 0x40 | 0x20 | 0x10)  // periodic, alarm, update interrupts on
        XCTAssertEqual(read(rtc, 0x0C), 0, "no flags: no interrupts are delivered")
        XCTAssertEqual(read(rtc, 0x00), 0x07, "the clock still reads")
    }

    func testCMOSStorageAndIndexMasking() {
        let rtc = makeRTC(ManualClock(Self.reference))
        write(rtc, 0x0E, 0xAB)
        write(rtc, 0x7F, 0xCD)
        write(rtc, 0x01, 0x30)  // seconds alarm: plain storage
        XCTAssertEqual(read(rtc, 0x0E), 0xAB)
        XCTAssertEqual(read(rtc, 0x7F), 0xCD)
        XCTAssertEqual(read(rtc, 0x01), 0x30)
        XCTAssertEqual(read(rtc, 0x8E), 0xAB, "bit 7 is the NMI mask, not part of the index")
        XCTAssertEqual(read(rtc, 0x80), 0x07, "0x80 selects seconds")
        XCTAssertEqual(rtc.read(offset: 0, size: 1), 0xFF, "the index port is write-only")
        XCTAssertEqual(rtc.read(offset: 5, size: 1), 0xFF)
        rtc.write(offset: 5, size: 1, value: 0)
    }

    func testSetBitFreezesTimeAndWritesMoveTheClock() {
        let clock = ManualClock(Self.reference)
        let rtc = makeRTC(clock)
        // As Linux's mc146818_set_time: SET, write the fields, release SET.
        write(rtc, 0x0B, 0x82)
        clock.advance(by: 10)
        XCTAssertEqual(read(rtc, 0x00), 0x07, "frozen while SET is on")
        for (register, value) in [(0x00, 0x00), (0x02, 0x30), (0x04, 0x08), (0x07, 0x01),
                                  (0x08, 0x01), (0x09, 0x30), (0x32, 0x20)] as [(UInt8, UInt8)] {
            write(rtc, register, value)
        }
        write(rtc, 0x0B, 0x02)
        XCTAssertEqual(timeRegisters(rtc), [0x00, 0x30, 0x08, 0x03, 0x01, 0x01, 0x30, 0x20])  // 2030-01-01 Tuesday
        clock.advance(by: 61)
        XCTAssertEqual(read(rtc, 0x02), 0x31, "the set clock keeps running")
    }

    func testSingleFieldWriteWithoutSetAndInvalidValuesIgnored() {
        let rtc = makeRTC(ManualClock(Self.reference))
        write(rtc, 0x04, 0x09)
        XCTAssertEqual(read(rtc, 0x04), 0x09)
        XCTAssertEqual(read(rtc, 0x02), 0x45, "other fields unchanged")
        write(rtc, 0x02, 0x5A)  // not BCD
        write(rtc, 0x08, 0x13)  // no month 13
        XCTAssertEqual(read(rtc, 0x02), 0x45)
        XCTAssertEqual(read(rtc, 0x08), 0x11)
        write(rtc, 0x06, 0x05)  // weekday is derived from the date
        XCTAssertEqual(read(rtc, 0x06), 0x02)
    }

    func testCalendarRoundTrip() {
        for seconds: Int64 in [0, -1, 951_782_399, Self.reference, 253_402_300_799, -62_135_596_800] {
            XCTAssertEqual(CalendarTime(secondsSinceEpoch: seconds).secondsSinceEpoch, seconds)
        }
    }
}
