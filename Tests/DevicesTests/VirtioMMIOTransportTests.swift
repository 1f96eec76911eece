import LKVMCore
@testable import LKVMDevices
import Dispatch
import XCTest

/// The virtio-mmio registers and status state machine, driven like Linux does.
final class VirtioMMIOTransportTests: XCTestCase {
    private var device: EchoDevice!
    private var driver: FakeMMIODriver!

    override func setUp() {
        device = EchoDevice()
        driver = FakeMMIODriver(device: device)
    }

    func testIdentificationRegisters() {
        XCTAssertEqual(driver.read(MMIO.magic), 0x7472_6976)
        XCTAssertEqual(driver.read(MMIO.version), 2)
        XCTAssertEqual(driver.read(MMIO.deviceID), 3)
        XCTAssertEqual(driver.read(MMIO.vendorID), 0x4C4B_564D)
        XCTAssertEqual(driver.read(MMIO.shmLenLow), 0xFFFF_FFFF, "no shared memory regions")
        XCTAssertEqual(driver.transport.length, 0x200)
    }

    func testOfferedFeaturesAreTheDevicesPlusTheRingAndVersionBits() {
        XCTAssertEqual(driver.deviceFeatures(),
                       1 << 0 | 1 << 40 | Feature.indirect | Feature.eventIndex | Feature.version1)
        driver.write(MMIO.deviceFeaturesSel, 2)
        XCTAssertEqual(driver.read(MMIO.deviceFeatures), 0)
    }

    func testLinuxBringUpActivatesTheDeviceWithTheNegotiatedFeaturesAndQueues() throws {
        driver.bringUp(features: Feature.version1 | Feature.eventIndex | 1 << 40)
        let activation = try XCTUnwrap(device.record.withLock { $0.activations.first })
        XCTAssertEqual(activation.features, Feature.version1 | Feature.eventIndex | 1 << 40)
        XCTAssertEqual(activation.queues.count, 2)
        XCTAssertEqual(activation.queues[0]?.size, 8)
        XCTAssertEqual(activation.queues[0]?.addresses, driver.ring.addresses)
        XCTAssertEqual(activation.queues[0]?.usesEventIndex, true)
        XCTAssertNil(activation.queues[1], "queue 1 was never made ready")
        XCTAssertEqual(driver.status, Status.acknowledge | Status.driver | Status.featuresOK | Status.driverOK)
    }

    func testARequestRoundTripRaisesAndAcknowledgesTheInterrupt() throws {
        driver.bringUp(features: Feature.version1)
        try driver.memory.write(Array("ping".utf8), at: GuestAddress(0x10000))
        driver.ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.next, next: 1)
        driver.ring.setDescriptor(1, address: 0x11000, length: 4, flags: Desc.write)
        driver.ring.makeAvailable(0)
        XCTAssertFalse(driver.line.isAsserted)
        driver.notify()

        XCTAssertTrue(driver.line.isAsserted)
        XCTAssertEqual(driver.ring.usedIndex, 1)
        XCTAssertEqual(driver.ring.usedEntry(0).length, 4)
        XCTAssertEqual(try driver.memory.read(4, at: GuestAddress(0x11000)), Array("ping".utf8))
        XCTAssertEqual(driver.handleInterrupt(), 1, "used-buffer bit")
        XCTAssertFalse(driver.line.isAsserted)
        XCTAssertEqual(driver.read(MMIO.interruptStatus), 0)
    }

    func testFeaturesOKIsRefusedForFeaturesNotOffered() {
        XCTAssertFalse(driver.negotiate(Feature.version1 | 1 << 5), "a bit the device does not offer")
        XCTAssertFalse(driver.negotiate(1 << 0), "no VERSION_1: legacy is not offered")
        driver.write(MMIO.status, 0)
        driver.write(MMIO.status, Status.acknowledge | Status.driver)
        driver.writeDriverFeatures(Feature.version1)
        driver.write(MMIO.driverFeaturesSel, 2)
        driver.write(MMIO.driverFeatures, 1)  // bit 64
        driver.write(MMIO.status, Status.acknowledge | Status.driver | Status.featuresOK)
        XCTAssertEqual(driver.status & Status.featuresOK, 0)
        XCTAssertTrue(driver.negotiate(Feature.version1), "a reset clears the refused attempt")
    }

    func testDriverFeaturesAreFrozenOnceAccepted() throws {
        XCTAssertTrue(driver.negotiate(Feature.version1))
        driver.writeDriverFeatures(Feature.version1 | Feature.eventIndex)
        driver.setUpQueue()
        driver.driverOK()
        XCTAssertEqual(device.record.withLock { $0.activations.first?.features }, Feature.version1)
    }

    func testNotifyBeforeDriverOKIsANoOp() {
        driver.notify()
        XCTAssertTrue(driver.negotiate(Feature.version1))
        driver.setUpQueue()
        driver.notify()
        XCTAssertEqual(device.notificationCount, 0)
        XCTAssertFalse(driver.needsReset)
        driver.driverOK()
        driver.notify(7)  // no such queue
        driver.notify(0x1_0000)  // not queue 0 with junk above it
        XCTAssertEqual(device.notificationCount, 0)
        driver.notify(1)
        XCTAssertEqual(device.notificationCount, 1, "a queue that exists but is not ready: the device decides")
    }

    func testDriverOKWithoutFeaturesOKNeedsReset() {
        driver.write(MMIO.status, Status.acknowledge | Status.driver)
        driver.write(MMIO.status, Status.acknowledge | Status.driver | Status.driverOK)
        XCTAssertTrue(driver.needsReset)
        XCTAssertEqual(device.activationCount, 0)
        XCTAssertEqual(driver.handleInterrupt(), 2, "config-change interrupt")
    }

    func testQueueSizeNotAPowerOfTwoNeedsResetAtDriverOK() {
        for size: UInt32 in [0, 3, 32, 0x1_0004] {
            setUp()
            XCTAssertTrue(driver.negotiate(Feature.version1))
            driver.setUpQueue(size: size)
            driver.driverOK()
            XCTAssertTrue(driver.needsReset, "size \(size)")
            XCTAssertEqual(device.activationCount, 0)
        }
    }

    func testRingsOutsideGuestRAMNeedResetAtDriverOK() {
        XCTAssertTrue(driver.negotiate(Feature.version1))
        driver.setUpQueue()
        driver.write(MMIO.queueDeviceHigh, 0xFFFF_FFFF)
        driver.driverOK()
        XCTAssertTrue(driver.needsReset)
    }

    func testClearingStatusBitsIsIgnoredAndNeedsResetCannotBeWritten() {
        driver.write(MMIO.status, Status.acknowledge | Status.driver)
        driver.write(MMIO.status, Status.acknowledge)
        XCTAssertEqual(driver.status, Status.acknowledge | Status.driver)
        driver.write(MMIO.status, Status.acknowledge | Status.driver | Status.needsReset)
        XCTAssertFalse(driver.needsReset)
        driver.write(MMIO.status, Status.acknowledge | Status.driver | Status.failed)
        XCTAssertEqual(driver.status, Status.acknowledge | Status.driver | Status.failed)
    }

    func testWritingZeroResetsDeviceAndQueues() throws {
        driver.bringUp(features: Feature.version1)
        driver.ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write)
        driver.ring.makeAvailable(0)
        driver.notify()
        XCTAssertTrue(driver.line.isAsserted)

        driver.write(MMIO.status, 0)
        XCTAssertEqual(driver.status, 0)
        XCTAssertEqual(driver.read(MMIO.interruptStatus), 0)
        XCTAssertFalse(driver.line.isAsserted)
        driver.write(MMIO.queueSel, 0)
        XCTAssertEqual(driver.read(MMIO.queueReady), 0)
        XCTAssertGreaterThan(device.record.withLock { $0.resets }, 0)
        driver.notify()
        XCTAssertEqual(device.notificationCount, 1, "no notification reaches a reset device")

        // And the driver can start over.
        driver.ring = FakeGuestRing(memory: driver.memory, size: 8, base: 0x40000)
        driver.bringUp(features: Feature.version1)
        XCTAssertEqual(device.activationCount, 2)
    }

    func testQueueReadyCanBeClearedLikeLinuxDeletingAQueue() {
        driver.bringUp(features: Feature.version1)
        driver.write(MMIO.queueSel, 0)
        driver.write(MMIO.queueReady, 0)
        XCTAssertEqual(driver.read(MMIO.queueReady), 0)
        driver.write(MMIO.queueReady, 1)
        XCTAssertEqual(driver.read(MMIO.queueReady), 0, "no queue changes while running")
    }

    func testQueueRegistersOfAMissingQueue() {
        driver.write(MMIO.queueSel, 2)
        XCTAssertEqual(driver.read(MMIO.queueNumMax), 0)
        driver.write(MMIO.queueNum, 8)
        driver.write(MMIO.queueReady, 1)
        XCTAssertEqual(driver.read(MMIO.queueReady), 0)
        driver.write(MMIO.queueSel, 1)
        XCTAssertEqual(driver.read(MMIO.queueNumMax), 8)
    }

    func testConfigSpaceAccessesOfEverySizeInsideItsBounds() {
        XCTAssertEqual(driver.transport.read(offset: MMIO.config, size: 1), 0)
        XCTAssertEqual(driver.transport.read(offset: MMIO.config + 1, size: 2), 0x0201)
        XCTAssertEqual(driver.transport.read(offset: MMIO.config + 4, size: 4), 0x0706_0504)
        XCTAssertEqual(driver.transport.read(offset: MMIO.config + 4, size: 8), 0x0B0A_0908_0706_0504)
        XCTAssertEqual(driver.transport.read(offset: MMIO.config + 10, size: 4), 0, "runs past the end")
        XCTAssertEqual(driver.transport.read(offset: MMIO.config + 12, size: 1), 0)
        XCTAssertEqual(driver.transport.read(offset: MMIO.config, size: 3), 0)
        driver.transport.write(offset: MMIO.config + 2, size: 2, value: 0xBEEF)
        XCTAssertEqual(driver.transport.read(offset: MMIO.config + 2, size: 2), 0xBEEF)
        driver.transport.write(offset: MMIO.config + 11, size: 2, value: 0xFFFF)
        XCTAssertEqual(device.record.withLock { $0.config[11] }, 11)
    }

    func testConfigChangeBumpsTheGenerationAndInterrupts() throws {
        driver.bringUp()
        let before = driver.read(MMIO.configGeneration)
        device.record.withLock { $0.interrupt }?.signalConfigChange()
        XCTAssertNotEqual(driver.read(MMIO.configGeneration), before)
        XCTAssertTrue(driver.line.isAsserted)
        XCTAssertEqual(driver.handleInterrupt(), 2)
    }

    func testADeviceWorkingOnItsOwnThreadCanAskForAReset() {
        driver.bringUp()
        device.record.withLock { $0.interrupt }?.signalDeviceNeedsReset(.chainTooLarge)
        XCTAssertTrue(driver.needsReset)
        XCTAssertEqual(driver.handleInterrupt(), 2)
        driver.write(MMIO.status, 0)
        XCTAssertFalse(driver.needsReset)
    }

    func testConcurrentVCPUsNotifyingAndPolling() throws {
        driver.bringUp(features: Feature.version1)
        for head in UInt16(0)..<8 {
            driver.ring.setDescriptor(head, address: 0x10000 + 0x100 * UInt64(head), length: 16, flags: Desc.write)
            driver.ring.makeAvailable(head)
        }
        let transport = driver.transport
        DispatchQueue.concurrentPerform(iterations: 4) { vcpu in
            for _ in 0..<200 {
                transport.write(offset: MMIO.queueNotify, size: 4, value: 0)
                _ = transport.read(offset: MMIO.interruptStatus, size: 4)
                transport.write(offset: MMIO.interruptACK, size: 4, value: UInt64(vcpu & 1))
                _ = transport.read(offset: MMIO.config + UInt64(vcpu), size: 1)
            }
        }
        XCTAssertEqual(driver.ring.usedIndex, 8, "each request answered exactly once")
        XCTAssertFalse(driver.needsReset)
    }

    func testOddAccessesNeverCrashAndRegistersIgnoreThem() {
        driver.bringUp(features: Feature.version1)
        for offset in stride(from: UInt64(0), to: 0x210, by: 1) {
            for size in [0, 1, 2, 3, 4, 8, 16, -1] {
                _ = driver.transport.read(offset: offset, size: size)
                if offset % 4 != 0 || size != 4 {
                    driver.transport.write(offset: offset, size: size, value: 0xFFFF_FFFF_FFFF_FFFF)
                }
            }
        }
        _ = driver.transport.read(offset: UInt64.max, size: 4)
        driver.transport.write(offset: UInt64.max - 2, size: 8, value: 1)
        XCTAssertEqual(driver.transport.read(offset: MMIO.magic, size: 2), 0, "registers are 32-bit only")
        XCTAssertEqual(driver.read(MMIO.magic), 0x7472_6976)
        XCTAssertEqual(driver.status, Status.acknowledge | Status.driver | Status.featuresOK | Status.driverOK,
                       "no odd write reached a register")
    }
}
