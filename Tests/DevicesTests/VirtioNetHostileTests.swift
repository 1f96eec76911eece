import LKVMCore
@testable import LKVMDevices
import XCTest

/// virtio-net against drivers that break the rules: odd buffers are dropped
/// or returned empty; malformed chains on either queue end in
/// DEVICE_NEEDS_RESET, and a reset brings the device back.
final class VirtioNetHostileTests: XCTestCase {
    func testShortLongAndWrongWayTransmitChainsAreDroppedNotFatal() throws {
        let guest = FakeNetGuest()
        guest.bringUp()
        // Less than a header and an Ethernet header.
        guest.transmitRing.setDescriptor(0, address: 0x30000, length: 20)
        // More than a 64 KiB frame.
        guest.transmitRing.setDescriptor(1, address: 0x50000, length: UInt32(VirtioNet.maxPacketLength + 1))
        // Only device-writable buffers.
        guest.transmitRing.setDescriptor(2, address: 0x30000, length: 100, flags: Desc.write)
        for head in UInt16(0)..<3 { guest.transmitRing.makeAvailable(head) }
        guest.driver.notify(1)
        XCTAssertEqual(guest.transmitRing.usedIndex, 3)
        XCTAssertTrue(guest.backend.sent.isEmpty)
        XCTAssertEqual(guest.net.transmitDrops.malformed, 2)
        XCTAssertEqual(guest.net.transmitDrops.tooLarge, 1)
        XCTAssertFalse(guest.driver.needsReset)
        guest.transmit(frame: ethernetFrame(), descriptor: 4)
        XCTAssertEqual(guest.backend.sent.count, 1, "the queue still works")
    }

    func testAFailingBackendDropsAndCounts() {
        let guest = FakeNetGuest()
        guest.bringUp()
        guest.backend.failSends(true)
        guest.transmit(frame: ethernetFrame())
        XCTAssertEqual(guest.net.transmitDrops.backendFailed, 1)
        XCTAssertEqual(guest.transmitRing.usedIndex, 1, "returned all the same")
        XCTAssertFalse(guest.driver.needsReset)
    }

    func testAReceiveBufferTooSmallForAHeaderIsReturnedEmpty() throws {
        let guest = FakeNetGuest()
        guest.bringUp()
        guest.receiveRing.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write)
        guest.receiveRing.makeAvailable(0)
        try guest.memory.write([9, 9, 9, 9][...], at: GuestAddress(0x30000))
        guest.receiveRing.setDescriptor(1, address: 0x30000, length: 1530)  // device-readable
        guest.receiveRing.makeAvailable(1)
        guest.driver.notify(0)
        guest.backend.inject(zeroHeader + ethernetFrame())
        XCTAssertEqual(guest.receiveRing.usedIndex, 2)
        XCTAssertEqual(guest.receiveRing.usedEntry(0).length, 0)
        XCTAssertEqual(guest.receiveRing.usedEntry(1).length, 0)
        XCTAssertEqual(try guest.memory.read(4, at: GuestAddress(0x30000)), [9, 9, 9, 9], "not written")
        XCTAssertEqual(guest.net.backlogCount, 1, "the packet waits for a real buffer")
        guest.postReceiveBuffers([2])
        XCTAssertEqual(guest.received(2), receivedHeader + ethernetFrame())
    }

    func testAReceiveBufferSplitAcrossDescriptorsIsFilledInOrder() throws {
        let guest = FakeNetGuest()
        guest.bringUp()
        guest.receiveRing.setDescriptor(0, address: 0x10000, length: 12, flags: Desc.write | Desc.next, next: 1)
        guest.receiveRing.setDescriptor(1, address: 0x20000, length: 1518, flags: Desc.write)
        guest.receiveRing.makeAvailable(0)
        guest.driver.notify(0)
        let frame = ethernetFrame(length: 200)
        guest.backend.inject(zeroHeader + frame)
        XCTAssertEqual(guest.receiveRing.usedEntry(0).length, 212)
        XCTAssertEqual(try guest.memory.read(12, at: GuestAddress(0x10000)), receivedHeader)
        XCTAssertEqual(try guest.memory.read(200, at: GuestAddress(0x20000)), frame)
    }

    func testALoopOnTransmitqNeedsResetAndAResetRecovers() {
        let guest = FakeNetGuest()
        guest.bringUp()
        guest.transmitRing.setDescriptor(0, address: 0x30000, length: 64, flags: Desc.next, next: 1)
        guest.transmitRing.setDescriptor(1, address: 0x30000, length: 64, flags: Desc.next, next: 0)
        guest.transmitRing.makeAvailable(0)
        guest.driver.notify(1)
        XCTAssertTrue(guest.driver.needsReset)
        XCTAssertEqual(guest.driver.read(MMIO.interruptStatus) & 2, 2, "config-change interrupt")
        XCTAssertTrue(guest.backend.sent.isEmpty)
        guest.bringUp(base: 0x40000)
        guest.transmit(frame: ethernetFrame())
        XCTAssertEqual(guest.backend.sent.count, 1)
    }

    func testAMalformedReceiveqFoundByAHostPacketNeedsReset() {
        let guest = FakeNetGuest()
        guest.bringUp()
        guest.receiveRing.setDescriptor(0, address: 0x4000_0000, length: 1530, flags: Desc.write)  // outside RAM
        guest.receiveRing.makeAvailable(0)
        guest.backend.inject(zeroHeader + ethernetFrame())
        XCTAssertTrue(guest.driver.needsReset)
        XCTAssertEqual(guest.receiveRing.usedIndex, 0)
        guest.backend.inject(zeroHeader + ethernetFrame())  // a broken queue stays quiet
        XCTAssertEqual(guest.receiveRing.usedIndex, 0)
        guest.bringUp(base: 0x40000)
        guest.postReceiveBuffers([0])
        guest.backend.inject(zeroHeader + ethernetFrame(seed: 3))
        XCTAssertEqual(guest.received(0), receivedHeader + ethernetFrame(seed: 3))
    }

    func testAnAvailableIndexJumpOnReceiveqFoundByANotificationNeedsReset() {
        let guest = FakeNetGuest()
        guest.bringUp()
        guest.backend.inject(zeroHeader + ethernetFrame())
        guest.receiveRing.publishAvailableIndex(100)
        guest.driver.notify(0)
        XCTAssertTrue(guest.driver.needsReset)
    }

    func testAQueueFullOfLoopsEndsQuickly() {
        let guest = FakeNetGuest()
        guest.bringUp()
        for index in UInt16(0)..<8 {
            guest.transmitRing.setDescriptor(index, address: 0x30000, length: 64, flags: Desc.next,
                                             next: (index + 1) % 8)
            guest.transmitRing.makeAvailable(index)
        }
        guest.driver.notify(1)
        XCTAssertTrue(guest.driver.needsReset)
    }
}
