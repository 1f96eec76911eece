import Glibc
import LKVMCore
@testable import LKVMDevices
import Synchronization
import XCTest

/// Records the doorbells a transport binds, as KVM_IOEVENTFD would.
final class RecordingIOEvents: IOEventRegistry {
    struct Binding: Equatable {
        let fd: Int32, address: UInt64, length: Int, value: UInt64?
    }
    let added = Mutex<[Binding]>([])
    let removed = Mutex<[Binding]>([])
    let refuse: Bool
    init(refuse: Bool = false) { self.refuse = refuse }

    func addIOEvent(_ event: HostEventFD, address: UInt64, length: Int, value: UInt64?) throws(HypervisorError) {
        if refuse { throw .unsupported("ioeventfd") }
        added.withLock { $0.append(Binding(fd: event.fd, address: address, length: length, value: value)) }
    }

    func removeIOEvent(_ event: HostEventFD, address: UInt64, length: Int, value: UInt64?) throws(HypervisorError) {
        removed.withLock { $0.append(Binding(fd: event.fd, address: address, length: length, value: value)) }
    }
}

/// Queue work on the device's own thread: the vCPU's notify returns at once,
/// the worker serves the queue, and KVM's ioeventfd (here the eventfd itself)
/// wakes it without the transport.
final class VirtioQueueWorkerTests: XCTestCase {
    private func waitUntil(_ condition: () -> Bool, file: StaticString = #filePath, line: UInt = #line) {
        let deadline = Date().addingTimeInterval(5)
        while !condition() && Date() < deadline { usleep(1000) }
        XCTAssertTrue(condition(), "timed out", file: file, line: line)
    }

    func testNotifyIsServedOnTheWorkerAndTheDoorbellIsBoundAtDriverOK() throws {
        let events = RecordingIOEvents()
        let driver = FakeMMIODriver(device: VirtioRNG(entropy: CountingEntropy()))
        driver.transport.offloadQueues(ioEvents: events, base: 0xF000_0000)
        XCTAssertTrue(events.added.withLock { $0.isEmpty }, "nothing is bound before DRIVER_OK")
        driver.bringUp()
        let bound = try XCTUnwrap(events.added.withLock { $0.first })
        XCTAssertEqual(bound.address, 0xF000_0050, "QueueNotify of this transport")
        XCTAssertEqual(bound.length, 4)
        XCTAssertEqual(bound.value, 0, "matches the queue index written")

        // A notify that exits (no ioeventfd match) wakes the worker.
        driver.ring.setDescriptor(0, address: 0x10000, length: 16, flags: Desc.write)
        driver.ring.makeAvailable(0)
        driver.notify()
        waitUntil { driver.ring.usedIndex == 1 }
        XCTAssertEqual(driver.ring.usedEntry(0).length, 16)

        // KVM signalling the bound eventfd does the same with no exit at all.
        driver.ring.setDescriptor(1, address: 0x20000, length: 8, flags: Desc.write)
        driver.ring.makeAvailable(1)
        var one: UInt64 = 1
        XCTAssertEqual(write(bound.fd, &one, 8), 8)
        waitUntil { driver.ring.usedIndex == 2 }
        waitUntil { driver.line.isAsserted }

        // Reset unbinds exactly what was bound.
        driver.write(MMIO.status, 0)
        XCTAssertEqual(events.removed.withLock { $0 }, [bound])
    }

    func testARefusedDoorbellStillWorksThroughExits() {
        let driver = FakeMMIODriver(device: VirtioRNG(entropy: CountingEntropy()))
        driver.transport.offloadQueues(ioEvents: RecordingIOEvents(refuse: true), base: 0x1000)
        driver.bringUp()
        driver.ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write)
        driver.ring.makeAvailable(0)
        driver.notify()
        waitUntil { driver.ring.usedIndex == 1 }
    }

    func testAHostileChainOnTheWorkerStillEndsInNeedsReset() {
        let driver = FakeMMIODriver(device: VirtioRNG(entropy: CountingEntropy()))
        driver.transport.offloadQueues(ioEvents: nil, base: 0x1000)
        driver.bringUp()
        driver.ring.setDescriptor(0, address: 0x10000, length: 4, flags: Desc.write | Desc.next, next: 0)
        driver.ring.makeAvailable(0)
        driver.notify()
        waitUntil { driver.needsReset }
    }
}
