import LKVMCore
@testable import LKVMDevices
import XCTest

/// Malformed queues sent to virtio-rng through the mmio transport. Each ends
/// in DEVICE_NEEDS_RESET with a config-change interrupt; the transport keeps
/// answering, ignores notifications until reset, and works again after one.
final class VirtioHostileGuestTests: XCTestCase {
    private static let table = HostileRing.table
    /// The malformed-input catalogue's rings (MalformedGuestInputCatalog.swift).
    private static let hostileLayouts = HostileRing.layouts

    func testEveryHostileQueueEndsInNeedsResetAndTheTransportRecovers() throws {
        for (name, layout) in Self.hostileLayouts {
            let driver = FakeMMIODriver(device: VirtioRNG(entropy: CountingEntropy()))
            driver.bringUp()
            layout(&driver.ring)
            driver.notify()

            XCTAssertTrue(driver.needsReset, name)
            XCTAssertTrue(driver.line.isAsserted, name)
            XCTAssertEqual(driver.read(MMIO.interruptStatus) & 2, 2, "\(name): config-change interrupt")
            XCTAssertEqual(driver.ring.usedIndex, 0, "\(name): nothing was answered")
            XCTAssertEqual(driver.read(MMIO.magic), 0x7472_6976, "\(name): the transport still answers")

            driver.notify()  // ignored while the device needs a reset
            XCTAssertEqual(driver.ring.usedIndex, 0, name)

            // Reset and a fresh ring: the device works again.
            driver.ring = FakeGuestRing(memory: driver.memory, size: 8, base: 0x40000)
            driver.bringUp()
            XCTAssertFalse(driver.needsReset, name)
            driver.ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write)
            driver.ring.makeAvailable(0)
            driver.notify()
            XCTAssertEqual(driver.ring.usedEntry(0).length, 4, name)
        }
    }

    func testAGoodRequestBeforeABadOneIsStillAnswered() {
        let driver = FakeMMIODriver(device: VirtioRNG(entropy: CountingEntropy()))
        driver.bringUp()
        driver.ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write)
        driver.ring.setDescriptor(1, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 1)
        driver.ring.makeAvailable(0)
        driver.ring.makeAvailable(1)
        driver.notify()
        XCTAssertEqual(driver.ring.usedIndex, 1)
        XCTAssertTrue(driver.needsReset)
    }

    func testIndirectWithoutTheFeatureNeedsReset() {
        let driver = FakeMMIODriver(device: VirtioRNG(entropy: CountingEntropy()))
        driver.bringUp(features: Feature.version1)
        driver.ring.setDescriptor(0, address: Self.table, length: 16, flags: Desc.indirect)
        driver.ring.makeAvailable(0)
        driver.notify()
        XCTAssertTrue(driver.needsReset)
    }

    func testTheLargestQueueFullOfLoopsEndsQuickly() {
        let memory = makeGuestMemory(size: 0x100_0000)
        let driver = FakeMMIODriver(device: VirtioRNG(entropy: CountingEntropy()), queueSize: 256, memory: memory)
        driver.bringUp()
        for index in UInt16(0)..<256 {
            driver.ring.setDescriptor(index, address: 0x80_0000, length: 1, flags: Desc.write | Desc.next,
                                      next: (index + 1) % 256)
        }
        for head in UInt16(0)..<256 { driver.ring.makeAvailable(head) }
        driver.notify()
        XCTAssertTrue(driver.needsReset)
    }
}
