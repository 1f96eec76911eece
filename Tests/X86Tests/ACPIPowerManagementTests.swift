import Synchronization
import XCTest
@testable import ArchX86

final class ACPIPowerManagementTests: XCTestCase {
    final class Counts: Sendable {
        let powerOffs = Mutex(0)
        let resets = Mutex(0)
    }

    func device() -> (ACPIPowerManagement, Counts) {
        let counts = Counts()
        let device = ACPIPowerManagement(onPowerOff: { counts.powerOffs.withLock { $0 += 1 } },
                                         onReset: { counts.resets.withLock { $0 += 1 } })
        return (device, counts)
    }

    // Offsets in the block: PM1_STS 0, PM1_EN 2, PM1_CNT 4, reset 6.
    let slpEn: UInt64 = 1 << 13
    func slpTyp(_ type: UInt64) -> UInt64 { type << 10 }

    func testLinuxPowerOffSequenceCallsOnPowerOffOnce() {
        let (pm, counts) = device()
        // ACPICA: read PM1_CNT, write SLP_TYP, then SLP_TYP | SLP_EN, then SLP_EN again after 10 s.
        let control = pm.read(offset: 4, size: 2)
        XCTAssertEqual(control & 1, 1, "SCI_EN reads 1: ACPI mode is always on")
        pm.write(offset: 4, size: 2, value: control | slpTyp(5))
        XCTAssertEqual(counts.powerOffs.withLock { $0 }, 0, "SLP_TYP alone does nothing")
        pm.write(offset: 4, size: 2, value: control | slpTyp(5) | slpEn)
        XCTAssertEqual(counts.powerOffs.withLock { $0 }, 1)
        pm.write(offset: 4, size: 2, value: slpEn | slpTyp(5))
        XCTAssertEqual(counts.powerOffs.withLock { $0 }, 1, "exactly once")
        XCTAssertEqual(counts.resets.withLock { $0 }, 0)
    }

    func testOtherSleepTypesAndPlainWritesDoNotPowerOff() {
        let (pm, counts) = device()
        for type: UInt64 in [0, 1, 2, 3, 4, 6, 7] {
            pm.write(offset: 4, size: 2, value: slpTyp(type) | slpEn)
        }
        pm.write(offset: 4, size: 2, value: slpTyp(5))
        pm.write(offset: 4, size: 1, value: 0xFF)
        pm.write(offset: 0, size: 4, value: 0xFFFF_FFFF)
        XCTAssertEqual(counts.powerOffs.withLock { $0 }, 0)
        XCTAssertEqual(pm.read(offset: 4, size: 2) & slpEn, 0, "SLP_EN is write-only")
        XCTAssertEqual(pm.read(offset: 4, size: 2) & slpTyp(7), slpTyp(5), "SLP_TYP is kept")
    }

    func testHighByteWriteAlsoPowersOff() {
        let (pm, counts) = device()
        pm.write(offset: 5, size: 1, value: (slpTyp(5) | slpEn) >> 8)
        XCTAssertEqual(counts.powerOffs.withLock { $0 }, 1)
    }

    func testDwordWriteAcrossEnableAndControl() {
        let (pm, counts) = device()
        // Bytes 2-5: PM1_EN = 0x0120, PM1_CNT = S5 | SLP_EN.
        pm.write(offset: 2, size: 4, value: (slpTyp(5) | slpEn) << 16 | 0x0120)
        XCTAssertEqual(counts.powerOffs.withLock { $0 }, 1)
        XCTAssertEqual(pm.read(offset: 2, size: 2), 0x0120)
    }

    func testResetRegister() {
        let (pm, counts) = device()
        pm.write(offset: 6, size: 1, value: 0x01)
        XCTAssertEqual(counts.resets.withLock { $0 }, 0, "only RESET_VALUE resets")
        pm.write(offset: 6, size: 1, value: UInt64(ACPIPowerManagement.resetValue))
        XCTAssertEqual(counts.resets.withLock { $0 }, 1)
        XCTAssertEqual(pm.read(offset: 6, size: 1), 0)
        XCTAssertEqual(counts.powerOffs.withLock { $0 }, 0)
    }

    func testEnableBitsStickAndStatusIsWriteOneToClear() {
        let (pm, _) = device()
        pm.write(offset: 2, size: 2, value: 1 << 5)  // GBL_EN, as ACPICA enables the global lock event
        XCTAssertEqual(pm.read(offset: 2, size: 2), 1 << 5)
        XCTAssertEqual(pm.read(offset: 0, size: 2), 0)
        pm.write(offset: 0, size: 2, value: 0xFFFF)
        XCTAssertEqual(pm.read(offset: 0, size: 4), (1 << 5) << 16)
    }

    func testOddSizesAndOffsetsNeverCrash() {
        let (pm, counts) = device()
        for offset: UInt64 in [0, 1, 3, 5, 6, 7, 8, 100, UInt64.max - 2, UInt64.max] {
            for size in [-1, 0, 1, 2, 3, 4, 8, 16] {
                _ = pm.read(offset: offset, size: size)
                pm.write(offset: offset, size: size, value: 0)
            }
        }
        XCTAssertEqual(pm.read(offset: 7, size: 1), 0xFF, "the byte after the reset register floats")
        XCTAssertEqual(pm.read(offset: 8, size: 4), 0xFFFF_FFFF, "outside the block floats")
        XCTAssertEqual(pm.read(offset: 6, size: 4), 0xFFFF_FF00)
        XCTAssertEqual(pm.read(offset: UInt64.max, size: 8), UInt64.max)
        XCTAssertEqual(pm.read(offset: 0, size: 0), 0)
        XCTAssertEqual(counts.powerOffs.withLock { $0 } + counts.resets.withLock { $0 }, 0)
    }
}
