import LKVMCore
@testable import LKVMDevices
import XCTest

/// virtio-console against drivers that break the rules: buffers the wrong
/// way round are returned empty; malformed chains on either queue, found by a
/// notification or by host input, end in DEVICE_NEEDS_RESET and a reset
/// brings the device back with its pending input.
final class VirtioConsoleHostileTests: XCTestCase {
    func testAReadableBufferOnReceiveqIsReturnedEmptyAndInputWaitsForARealOne() throws {
        let guest = FakeConsoleGuest()
        guest.bringUp()
        try guest.memory.write([9, 9, 9, 9][...], at: GuestAddress(0x30000))
        guest.receiveRing.setDescriptor(0, address: 0x30000, length: 4)  // device-readable
        guest.receiveRing.makeAvailable(0)
        guest.console.receive(Array("hi".utf8))
        XCTAssertEqual(guest.receiveRing.usedIndex, 1)
        XCTAssertEqual(guest.receiveRing.usedEntry(0).length, 0)
        XCTAssertEqual(try guest.memory.read(4, at: GuestAddress(0x30000)), [9, 9, 9, 9], "not written")
        XCTAssertEqual(guest.console.pendingInputBytes, 2)
        guest.postReceiveBuffers([1], length: 8)
        XCTAssertEqual(guest.received(1..<2), Array("hi".utf8))
        XCTAssertFalse(guest.driver.needsReset)
    }

    func testAWritableBufferOnTransmitqIsIgnoredAndTheReadablePartSent() throws {
        let guest = FakeConsoleGuest()
        guest.bringUp()
        try guest.memory.write(Array("ok".utf8)[...], at: GuestAddress(0x20000))
        guest.transmitRing.setDescriptor(0, address: 0x20000, length: 2, flags: Desc.next, next: 1)
        guest.transmitRing.setDescriptor(1, address: 0x21000, length: 16, flags: Desc.write)
        guest.transmitRing.setDescriptor(2, address: 0x22000, length: 16, flags: Desc.write)
        guest.transmitRing.makeAvailable(0)
        guest.transmitRing.makeAvailable(2)
        guest.driver.notify(1)
        XCTAssertEqual(guest.output.written, Array("ok".utf8))
        XCTAssertEqual(guest.output.writeCount, 1, "an empty chain writes nothing")
        XCTAssertEqual(guest.transmitRing.usedIndex, 2)
        XCTAssertEqual(guest.transmitRing.usedEntry(1).length, 0)
        XCTAssertFalse(guest.driver.needsReset)
    }

    func testAnOversizedTransmitChainIsCappedAndTheRestCounted() {
        let guest = FakeConsoleGuest()
        guest.bringUp()
        let length = VirtioConsole.maxBytesPerTransmit + 100
        guest.transmitRing.setDescriptor(0, address: 0x50000, length: UInt32(length))
        guest.transmitRing.makeAvailable(0)
        guest.driver.notify(1)
        XCTAssertEqual(guest.output.written.count, VirtioConsole.maxBytesPerTransmit)
        XCTAssertEqual(guest.console.droppedOutputBytes, 100)
        XCTAssertEqual(guest.transmitRing.usedIndex, 1)
    }

    func testALoopOnTransmitqNeedsResetAndAResetRecovers() {
        let guest = FakeConsoleGuest()
        guest.bringUp()
        guest.transmitRing.setDescriptor(0, address: 0x20000, length: 1, flags: Desc.next, next: 1)
        guest.transmitRing.setDescriptor(1, address: 0x20000, length: 1, flags: Desc.next, next: 0)
        guest.transmitRing.makeAvailable(0)
        guest.driver.notify(1)
        XCTAssertTrue(guest.driver.needsReset)
        XCTAssertEqual(guest.driver.read(MMIO.interruptStatus) & 2, 2, "config-change interrupt")
        XCTAssertTrue(guest.output.written.isEmpty)
        XCTAssertEqual(guest.transmitRing.usedIndex, 0)

        guest.bringUp(base: 0x40000)
        guest.transmit("back")
        XCTAssertEqual(guest.output.written, Array("back".utf8))
    }

    func testAMalformedReceiveqFoundByANotificationNeedsReset() {
        let guest = FakeConsoleGuest()
        guest.console.receive(Array("x".utf8))
        guest.bringUp()
        guest.receiveRing.setDescriptor(0, address: 0x4000_0000, length: 4, flags: Desc.write)  // outside RAM
        guest.receiveRing.makeAvailable(0)
        guest.driver.notify(0)
        XCTAssertTrue(guest.driver.needsReset)
        XCTAssertEqual(guest.receiveRing.usedIndex, 0)
        XCTAssertEqual(guest.console.pendingInputBytes, 1, "nothing was taken")
    }

    func testAMalformedReceiveqFoundByHostInputNeedsResetAndStopsThere() {
        let guest = FakeConsoleGuest()
        guest.bringUp()
        guest.receiveRing.publishAvailableIndex(100)  // more than the queue size
        XCTAssertEqual(guest.console.receive(Array("abc".utf8)), 3, "input is still queued")
        XCTAssertTrue(guest.driver.needsReset)
        XCTAssertTrue(guest.driver.line.isAsserted)
        guest.driver.handleInterrupt()
        guest.console.receive(Array("def".utf8))
        XCTAssertFalse(guest.driver.line.isAsserted, "a broken receiveq is not looked at again")
        XCTAssertEqual(guest.console.pendingInputBytes, 6)

        guest.bringUp(base: 0x40000)
        guest.postReceiveBuffers([0], length: 16)
        XCTAssertEqual(guest.received(0..<1), Array("abcdef".utf8), "pending input survives the reset")
    }

    func testEveryHostileLayoutOnEitherQueueEndsInNeedsReset() {
        let layouts: [(String, (inout FakeGuestRing) -> Void)] = [
            ("descriptor loop", { ring in
                ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 0)
                ring.makeAvailable(0)
            }),
            ("length running off RAM", { ring in
                ring.setDescriptor(0, address: 0x10000, length: UInt32.max, flags: Desc.write)
                ring.makeAvailable(0)
            }),
            ("readable after writable", { ring in
                ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 1)
                ring.setDescriptor(1, address: 0x11000, length: 4)
                ring.makeAvailable(0)
            }),
            ("head beyond the table", { ring in ring.makeAvailable(8) }),
            ("indirect inside indirect", { ring in
                ring.setDescriptor(0, address: 0x30000, length: 16, flags: Desc.indirect)
                ring.setDescriptor(0, address: 0x30000, length: 16, flags: Desc.indirect, table: 0x30000)
                ring.makeAvailable(0)
            }),
        ]
        for (name, layout) in layouts {
            for queue in [VirtioConsoleQueue.receive, VirtioConsoleQueue.transmit] {
                let guest = FakeConsoleGuest()
                guest.console.receive([1])  // so receiveq looks at its chains
                guest.bringUp()
                if queue == VirtioConsoleQueue.receive {
                    layout(&guest.receiveRing)
                } else {
                    layout(&guest.transmitRing)
                }
                guest.driver.notify(UInt32(queue))
                XCTAssertTrue(guest.driver.needsReset, "\(name) on queue \(queue)")
                XCTAssertEqual(guest.driver.read(MMIO.magic), 0x7472_6976, "\(name): the transport still answers")
            }
        }
    }
}
