import LKVMCore
@testable import LKVMDevices
import XCTest

/// virtio-rng behind the mmio transport, as Linux's virtio_rng uses it: one
/// writable buffer per request, the used length read back.
final class VirtioRNGTests: XCTestCase {
    private func bringUp(entropy: any EntropySource = CountingEntropy(),
                         features: UInt64? = nil) -> FakeMMIODriver {
        let driver = FakeMMIODriver(device: VirtioRNG(entropy: entropy))
        XCTAssertEqual(driver.probe(), 4)
        XCTAssertEqual(driver.deviceFeatures(), Feature.indirect | Feature.eventIndex | Feature.version1)
        driver.bringUp(features: features)
        return driver
    }

    func testARequestIsFilledAndReportedWithItsLength() throws {
        let driver = bringUp()
        driver.ring.setDescriptor(2, address: 0x10000, length: 32, flags: Desc.write)
        driver.ring.makeAvailable(2)
        driver.notify()
        XCTAssertEqual(driver.ring.usedIndex, 1)
        XCTAssertEqual(driver.ring.usedEntry(0).head, 2)
        XCTAssertEqual(driver.ring.usedEntry(0).length, 32)
        XCTAssertEqual(try driver.memory.read(32, at: GuestAddress(0x10000)), Array(1...32))
        XCTAssertEqual(driver.handleInterrupt(), 1)
    }

    func testEveryPendingRequestIsAnsweredAndSplitBuffersAreFilledInOrder() throws {
        let driver = bringUp()
        driver.ring.setDescriptor(0, address: 0x10000, length: 3, flags: Desc.write | Desc.next, next: 1)
        driver.ring.setDescriptor(1, address: 0x20000, length: 2, flags: Desc.write)
        driver.ring.setDescriptor(4, address: 0x30000, length: 8, flags: Desc.write)
        driver.ring.makeAvailable(0)
        driver.ring.makeAvailable(4)
        driver.notify()
        XCTAssertEqual(driver.ring.usedIndex, 2)
        XCTAssertEqual(driver.ring.usedEntry(0).length, 5)
        XCTAssertEqual(driver.ring.usedEntry(1).head, 4)
        XCTAssertEqual(try driver.memory.read(3, at: GuestAddress(0x10000)), [1, 2, 3])
        XCTAssertEqual(try driver.memory.read(2, at: GuestAddress(0x20000)), [4, 5])
    }

    func testRealHostEntropyArrives() throws {
        let driver = bringUp(entropy: HostEntropy())
        driver.ring.setDescriptor(0, address: 0x10000, length: 1000, flags: Desc.write)
        driver.ring.makeAvailable(0)
        driver.notify()
        XCTAssertEqual(driver.ring.usedEntry(0).length, 1000)
        let bytes = try driver.memory.read(1000, at: GuestAddress(0x10000))
        XCTAssertGreaterThan(Set(bytes).count, 100, "1000 random bytes take many values")
    }

    func testARequestWithNothingWritableIsAnsweredWithZeroBytes() throws {
        let driver = bringUp()
        driver.ring.setDescriptor(0, address: 0x10000, length: 16)  // readable only
        driver.ring.setDescriptor(1, address: 0x10000, length: 0, flags: Desc.write)
        driver.ring.makeAvailable(0)
        driver.ring.makeAvailable(1)
        driver.notify()
        XCTAssertEqual(driver.ring.usedIndex, 2)
        XCTAssertEqual(driver.ring.usedEntry(0).length, 0)
        XCTAssertEqual(driver.ring.usedEntry(1).length, 0)
        XCTAssertEqual(try driver.memory.read(16, at: GuestAddress(0x10000)), Array(repeating: 0, count: 16))
        XCTAssertFalse(driver.needsReset)
    }

    func testHugeRequestsAreCappedSoOneRequestStaysCheap() throws {
        let driver = bringUp()
        driver.ring.setDescriptor(0, address: 0x10000, length: 0xE0000, flags: Desc.write)
        driver.ring.makeAvailable(0)
        driver.notify()
        XCTAssertEqual(driver.ring.usedEntry(0).length, UInt32(VirtioRNG.maxBytesPerRequest))
    }

    func testHostEntropyFailureAnswersZeroBytesAndKeepsGoing() {
        let driver = bringUp(entropy: FailingEntropy())
        driver.ring.setDescriptor(0, address: 0x10000, length: 8, flags: Desc.write)
        driver.ring.makeAvailable(0)
        driver.notify()
        XCTAssertEqual(driver.ring.usedIndex, 1)
        XCTAssertEqual(driver.ring.usedEntry(0).length, 0)
        XCTAssertFalse(driver.needsReset)
    }

    func testEventIndexSuppressesTheInterruptUntilUsedEventIsPassed() {
        let driver = bringUp(features: Feature.version1 | Feature.eventIndex)
        driver.ring.setDescriptor(0, address: 0x10000, length: 8, flags: Desc.write)
        driver.ring.setUsedEvent(1)
        driver.ring.makeAvailable(0)
        driver.notify()
        XCTAssertFalse(driver.line.isAsserted)
        XCTAssertEqual(driver.ring.availableEvent, 1, "the device asked to hear of the next request")
        driver.ring.makeAvailable(0)
        driver.notify()
        XCTAssertTrue(driver.line.isAsserted)
    }

    func testIndirectRequestWhenNegotiated() {
        let driver = bringUp(features: Feature.version1 | Feature.indirect)
        driver.ring.setDescriptor(0, address: 0x20000, length: 16, flags: Desc.indirect)
        driver.ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write, table: 0x20000)
        driver.ring.makeAvailable(0)
        driver.notify()
        XCTAssertEqual(driver.ring.usedEntry(0).length, 4)
    }

    func testResetDropsTheQueue() {
        let device = VirtioRNG(entropy: CountingEntropy())
        let driver = FakeMMIODriver(device: device)
        driver.bringUp()
        driver.write(MMIO.status, 0)
        XCTAssertNoThrow(try device.queueNotified(0), "a reset device has nothing to do")
        XCTAssertEqual(driver.ring.usedIndex, 0)
    }

    func testTheCatalogBuildsIt() throws {
        let entry = try VirtioDeviceCatalog.entry(named: "rng")
        XCTAssertEqual(entry.type, .entropy)
        XCTAssertEqual(try entry.make(nil).deviceType, .entropy)
        XCTAssertThrowsError(try entry.make("x")) {
            XCTAssertEqual($0 as? VirtioCatalogError, .badArgument(device: "rng", argument: "x", reason: "takes no argument"))
        }
        XCTAssertThrowsError(try VirtioDeviceCatalog.entry(named: "nope"))
    }
}
