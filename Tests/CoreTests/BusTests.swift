@testable import LKVMCore
import Synchronization
import XCTest

final class ProbeDevice: BusDevice {
    let accesses = Mutex<[String]>([])
    func read(offset: UInt64, size: Int) -> UInt64 {
        accesses.withLock { $0.append("r\(offset)/\(size)") }
        return 0x40 + offset
    }
    func write(offset: UInt64, size: Int, value: UInt64) {
        accesses.withLock { $0.append("w\(offset)/\(size)=\(value)") }
    }
}

final class BusTests: XCTestCase {
    func testDevicesSeeOffsetsFromTheirBase() throws {
        var bus = Bus(kind: "port I/O")
        let a = ProbeDevice(), b = ProbeDevice()
        try bus.register(b, name: "b", base: 0x3F8, length: 8)
        try bus.register(a, name: "a", base: 0x60, length: 5)
        XCTAssertEqual(bus.read(0x3FD, size: 1), 0x45)
        bus.write(0x64, size: 1, value: 0xFE)
        XCTAssertEqual(b.accesses.withLock { $0 }, ["r5/1"])
        XCTAssertEqual(a.accesses.withLock { $0 }, ["w4/1=254"])
        XCTAssertEqual(bus.deviceName(at: 0x3FF), "b")
        XCTAssertNil(bus.deviceName(at: 0x400))
    }

    func testUnclaimedReadsFloatHighAndWritesAreDropped() {
        let bus = Bus(kind: "MMIO")
        XCTAssertEqual(bus.read(0x1234, size: 1), 0xFF)
        XCTAssertEqual(bus.read(0x1234, size: 2), 0xFFFF)
        XCTAssertEqual(bus.read(0x1234, size: 4), 0xFFFF_FFFF)
        XCTAssertEqual(bus.read(0x1234, size: 8), UInt64.max)
        bus.write(0x1234, size: 4, value: 7)
    }

    func testOverlapsAreRefusedAtRegistration() throws {
        var bus = Bus(kind: "MMIO")
        try bus.register(ProbeDevice(), name: "uart", base: 0x1000, length: 0x100)
        XCTAssertThrowsError(try bus.register(ProbeDevice(), name: "rtc", base: 0x10FF, length: 0x10)) { error in
            XCTAssertTrue("\(error)".contains("rtc"), "\(error)")
            XCTAssertTrue("\(error)".contains("uart"), "\(error)")
        }
        XCTAssertThrowsError(try bus.register(ProbeDevice(), name: "big", base: 0, length: 0x2000))
        XCTAssertThrowsError(try bus.register(ProbeDevice(), name: "empty", base: 0x5000, length: 0))
        XCTAssertThrowsError(try bus.register(ProbeDevice(), name: "wrap", base: UInt64.max, length: 2))
        // Adjacent is fine.
        try bus.register(ProbeDevice(), name: "next", base: 0x1100, length: 0x100)
    }

    func testLookupFindsEveryDeviceAmongMany() throws {
        var bus = Bus(kind: "MMIO")
        let devices = (0..<64).map { _ in ProbeDevice() }
        for (index, device) in devices.enumerated().reversed() {
            try bus.register(device, name: "d\(index)", base: UInt64(index) * 0x200, length: 0x100)
        }
        for index in 0..<64 {
            XCTAssertEqual(bus.deviceName(at: UInt64(index) * 0x200 + 0xFF), "d\(index)")
            XCTAssertNil(bus.deviceName(at: UInt64(index) * 0x200 + 0x100))
        }
    }
}
