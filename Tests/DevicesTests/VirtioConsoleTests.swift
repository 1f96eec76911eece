import Dispatch
import Glibc
import LKVMCore
@testable import LKVMDevices
import XCTest

/// A guest driving virtio-console through the mmio transport the way Linux's
/// virtio_console does without MULTIPORT: receiveq (0) and transmitq (1).
final class FakeConsoleGuest {
    let console: VirtioConsole
    let output = RecordingConsoleOutput()
    let driver: FakeMMIODriver
    var transmitRing: FakeGuestRing

    init(receiveCapacity: Int = VirtioConsole.defaultReceiveCapacity, size: VirtioConsoleSize? = nil) {
        console = VirtioConsole(output: output, receiveCapacity: receiveCapacity, size: size)
        driver = FakeMMIODriver(device: console)
        transmitRing = FakeGuestRing(memory: driver.memory, size: 8, base: 0x4000)
    }

    /// Drives `console` as built elsewhere; `output` then records nothing.
    init(console: VirtioConsole) {
        self.console = console
        driver = FakeMMIODriver(device: console)
        transmitRing = FakeGuestRing(memory: driver.memory, size: 8, base: 0x4000)
    }

    var memory: GuestMemory { driver.memory }
    var receiveRing: FakeGuestRing {
        get { driver.ring }
        set { driver.ring = newValue }
    }

    /// Probe, negotiate, both queues, DRIVER_OK; rings placed afresh at `base`.
    func bringUp(features: UInt64? = nil, base: UInt64 = 0x1000) {
        XCTAssertEqual(driver.probe(), 3)
        XCTAssertTrue(driver.negotiate(features ?? driver.deviceFeatures()))
        receiveRing = FakeGuestRing(memory: memory, size: 8, base: base)
        transmitRing = FakeGuestRing(memory: memory, size: 8, base: base + 0x3000)
        driver.setUpQueue(index: 0)
        let receive = receiveRing
        receiveRing = transmitRing  // setUpQueue programs the driver's current ring
        driver.setUpQueue(index: 1)
        receiveRing = receive
        driver.driverOK()
        XCTAssertEqual(driver.status & Status.driverOK, Status.driverOK)
        XCTAssertFalse(driver.needsReset)
    }

    /// Posts one device-readable buffer holding `text` on transmitq and notifies.
    func transmit(_ text: String, descriptor: UInt16 = 0, address: UInt64 = 0x20000) {
        let bytes = Array(text.utf8)
        try! memory.write(bytes[...], at: GuestAddress(address))
        transmitRing.setDescriptor(descriptor, address: address, length: UInt32(bytes.count))
        transmitRing.makeAvailable(descriptor)
        driver.notify(1)
    }

    /// Posts device-writable receive buffers of `length` bytes, descriptor i at 0x10000 + 0x100 * i.
    func postReceiveBuffers(_ descriptors: [UInt16], length: UInt32, notify: Bool = true) {
        for descriptor in descriptors {
            receiveRing.setDescriptor(descriptor, address: Self.receiveBuffer(descriptor), length: length,
                                      flags: Desc.write)
            receiveRing.makeAvailable(descriptor)
        }
        if notify { driver.notify(0) }
    }

    static func receiveBuffer(_ descriptor: UInt16) -> UInt64 { 0x10000 + 0x100 * UInt64(descriptor) }

    /// The bytes of used receive entries `range`, concatenated.
    func received(_ range: Range<UInt16>) -> [UInt8] {
        range.flatMap { index -> [UInt8] in
            let entry = receiveRing.usedEntry(index)
            return try! memory.read(Int(entry.length), at: GuestAddress(Self.receiveBuffer(UInt16(entry.head))))
        }
    }
}

/// virtio-console's normal traffic: guest output to the sink, host input into
/// receive buffers, the size feature, reset.
final class VirtioConsoleTests: XCTestCase {
    func testItIsAConsoleWithNoFeaturesOfItsOwnAndTwoQueues() {
        let guest = FakeConsoleGuest()
        XCTAssertEqual(guest.driver.probe(), 3)
        XCTAssertEqual(guest.driver.deviceFeatures(), Feature.indirect | Feature.eventIndex | Feature.version1)
        XCTAssertEqual(guest.console.queueMaxSizes.count, 2, "port 0 only: no control queues")
        guest.driver.write(MMIO.queueSel, 2)
        XCTAssertEqual(guest.driver.read(MMIO.queueNumMax), 0)
    }

    func testGuestOutputReachesTheSinkAndIsReturnedWithLengthZero() {
        let guest = FakeConsoleGuest()
        guest.bringUp()
        guest.transmit("hello")
        XCTAssertEqual(guest.output.written, Array("hello".utf8))
        XCTAssertEqual(guest.transmitRing.usedIndex, 1)
        XCTAssertEqual(guest.transmitRing.usedEntry(0).head, 0)
        XCTAssertEqual(guest.transmitRing.usedEntry(0).length, 0)
        XCTAssertEqual(guest.driver.handleInterrupt(), 1, "used-buffer interrupt")
        XCTAssertFalse(guest.driver.line.isAsserted)
    }

    func testOutputSplitOverDescriptorsAndChainsKeepsItsOrder() throws {
        let guest = FakeConsoleGuest()
        guest.bringUp()
        try guest.memory.write(Array("hel".utf8)[...], at: GuestAddress(0x20000))
        try guest.memory.write(Array("lo ".utf8)[...], at: GuestAddress(0x21000))
        try guest.memory.write(Array("world".utf8)[...], at: GuestAddress(0x22000))
        guest.transmitRing.setDescriptor(3, address: 0x20000, length: 3, flags: Desc.next, next: 5)
        guest.transmitRing.setDescriptor(5, address: 0x21000, length: 3)
        guest.transmitRing.setDescriptor(1, address: 0x22000, length: 5)
        guest.transmitRing.makeAvailable(3)
        guest.transmitRing.makeAvailable(1)
        guest.driver.notify(1)
        XCTAssertEqual(String(decoding: guest.output.written, as: UTF8.self), "hello world")
        XCTAssertEqual(guest.transmitRing.usedIndex, 2)
        XCTAssertEqual(guest.transmitRing.usedEntry(1).head, 1)
    }

    func testInputBeforeTheDriverWaitsAndIsSplitAcrossSmallBuffers() {
        let guest = FakeConsoleGuest()
        XCTAssertEqual(guest.console.receive(Array("hello world".utf8)), 11, "queued before the guest even probes")
        guest.bringUp()
        XCTAssertEqual(guest.console.pendingInputBytes, 11)
        XCTAssertFalse(guest.driver.line.isAsserted, "no buffers yet: nothing delivered")
        guest.postReceiveBuffers([0, 1, 2, 3], length: 4)
        XCTAssertEqual(guest.receiveRing.usedIndex, 3, "the fourth buffer stays with the device")
        XCTAssertEqual((0..<3).map { guest.receiveRing.usedEntry($0).length }, [4, 4, 3])
        XCTAssertEqual(guest.received(0..<3), Array("hello world".utf8))
        XCTAssertEqual(guest.console.pendingInputBytes, 0)
        XCTAssertEqual(guest.driver.handleInterrupt(), 1)

        guest.receiveRing.setUsedEvent(3)  // as Linux does after taking used buffers (EVENT_IDX)
        guest.console.receive(Array("!".utf8))
        XCTAssertEqual(guest.receiveRing.usedIndex, 4, "the kept buffer takes the next input")
        XCTAssertEqual(guest.received(3..<4), Array("!".utf8))
        XCTAssertTrue(guest.driver.line.isAsserted)
    }

    func testBuffersPostedBeforeDriverOKAreFilledAtActivation() {
        let guest = FakeConsoleGuest()
        guest.console.receive(Array("early".utf8))
        XCTAssertEqual(guest.driver.probe(), 3)
        XCTAssertTrue(guest.driver.negotiate(guest.driver.deviceFeatures()))
        guest.driver.setUpQueue(index: 0)
        guest.postReceiveBuffers([0], length: 64)  // kicked before DRIVER_OK: ignored by the transport
        XCTAssertEqual(guest.receiveRing.usedIndex, 0)
        guest.driver.driverOK()
        XCTAssertEqual(guest.received(0..<1), Array("early".utf8))
        XCTAssertFalse(guest.driver.needsReset, "transmitq left disabled is fine")
    }

    func testInputIsBoundedAndDropsAreCounted() {
        let guest = FakeConsoleGuest(receiveCapacity: 8)
        XCTAssertEqual(guest.console.receive(Array("0123456789".utf8)), 8)
        XCTAssertEqual(guest.console.droppedInputBytes, 2)
        XCTAssertEqual(guest.console.receiveRoom, 0)
        XCTAssertEqual(guest.console.receive([0x41]), 0)
        XCTAssertEqual(guest.console.droppedInputBytes, 3)
        guest.bringUp()
        guest.postReceiveBuffers([0], length: 64)
        XCTAssertEqual(guest.received(0..<1), Array("01234567".utf8))
        XCTAssertEqual(guest.console.receiveRoom, 8)
    }

    func testEventIndexAsksForANotificationOnlyWhileInputWaits() {
        let guest = FakeConsoleGuest()
        guest.bringUp(features: Feature.version1 | Feature.eventIndex)
        guest.postReceiveBuffers([0], length: 2)
        XCTAssertEqual(guest.receiveRing.usedIndex, 0, "no input: the buffer is kept")
        guest.console.receive(Array("abc".utf8))
        XCTAssertEqual(guest.receiveRing.usedIndex, 1)
        XCTAssertEqual(guest.receiveRing.availableEvent, 1, "input waits: tell me of the next buffer")
        XCTAssertEqual(guest.driver.handleInterrupt(), 1)
        guest.postReceiveBuffers([1], length: 2)
        XCTAssertFalse(guest.driver.line.isAsserted, "used_event 0 was passed already")
        guest.receiveRing.setUsedEvent(2)  // the guest has taken two used entries
        guest.console.receive(Array("d".utf8))
        guest.postReceiveBuffers([2], length: 2)
        XCTAssertEqual(guest.received(0..<3), Array("abcd".utf8))
        XCTAssertTrue(guest.driver.line.isAsserted, "used_event 2 crossed")
    }

    func testResetDropsTheQueuesButKeepsPendingInput() {
        let guest = FakeConsoleGuest()
        guest.bringUp()
        guest.driver.write(MMIO.status, 0)
        guest.console.receive(Array("kept".utf8))
        XCTAssertEqual(guest.receiveRing.usedIndex, 0, "the old rings are not touched after reset")
        XCTAssertNoThrow(try guest.console.queueNotified(1))

        guest.bringUp(base: 0x40000)
        guest.postReceiveBuffers([0], length: 16)
        XCTAssertEqual(guest.received(0..<1), Array("kept".utf8))
        guest.transmit("again")
        XCTAssertEqual(guest.output.written, Array("again".utf8))
    }

    func testSizeFeatureOffersColumnsAndRowsAndResizeTellsTheGuest() {
        let guest = FakeConsoleGuest(size: VirtioConsoleSize(columns: 132, rows: 43))
        XCTAssertEqual(guest.driver.deviceFeatures() & 0xFF, 1, "VIRTIO_CONSOLE_F_SIZE only")
        guest.bringUp()
        XCTAssertEqual(guest.driver.transport.read(offset: MMIO.config, size: 2), 132)
        XCTAssertEqual(guest.driver.transport.read(offset: MMIO.config + 2, size: 2), 43)
        XCTAssertEqual(guest.driver.transport.read(offset: MMIO.config, size: 4), 43 << 16 | 132)
        XCTAssertEqual(guest.driver.transport.read(offset: MMIO.config + 4, size: 4), 0, "no max_nr_ports")
        let generation = guest.driver.read(MMIO.configGeneration)
        guest.console.resize(to: VirtioConsoleSize(columns: 80, rows: 25))
        XCTAssertEqual(guest.driver.handleInterrupt(), 2, "config-change interrupt")
        XCTAssertNotEqual(guest.driver.read(MMIO.configGeneration), generation)
        XCTAssertEqual(guest.driver.transport.read(offset: MMIO.config, size: 4), 25 << 16 | 80)
        guest.console.resize(to: VirtioConsoleSize(columns: 80, rows: 25))
        XCTAssertEqual(guest.driver.read(MMIO.interruptStatus), 0, "no change, no interrupt")
    }

    func testWithoutASizeResizeIsIgnored() {
        let guest = FakeConsoleGuest()
        guest.bringUp()
        guest.console.resize(to: VirtioConsoleSize(columns: 80, rows: 25))
        XCTAssertEqual(guest.driver.read(MMIO.interruptStatus), 0)
        XCTAssertEqual(guest.console.configSize, 0)
    }

    func testInputFromAnotherThreadArrivesWholeAndInOrder() {
        let guest = FakeConsoleGuest(receiveCapacity: 64)
        guest.bringUp()
        let input = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 256) }
        let console = guest.console
        let producer = DispatchGroup()
        DispatchQueue.global().async(group: producer) {
            var offset = 0
            while offset < input.count {
                let chunk = Array(input[offset..<min(offset + 13, input.count)])
                let accepted = console.receive(Array(chunk.prefix(console.receiveRoom)))
                offset += accepted
                if accepted == 0 { usleep(50) }
            }
        }
        var collected: [UInt8] = []
        var seenUsed: UInt16 = 0
        guest.postReceiveBuffers(Array(0..<8), length: 16)
        let deadline = DispatchTime.now() + .seconds(20)
        while collected.count < input.count, DispatchTime.now() < deadline {
            let used = guest.receiveRing.usedIndex
            guard used != seenUsed else {
                guest.driver.handleInterrupt()
                usleep(20)
                continue
            }
            while seenUsed != used {
                let entry = guest.receiveRing.usedEntry(seenUsed)
                let head = UInt16(entry.head)
                let buffer = GuestAddress(FakeConsoleGuest.receiveBuffer(head))
                collected += try! guest.memory.read(Int(entry.length), at: buffer)
                seenUsed &+= 1
                guest.postReceiveBuffers([head], length: 16)
            }
        }
        XCTAssertEqual(producer.wait(timeout: deadline), .success)
        XCTAssertEqual(collected, input)
        XCTAssertEqual(console.droppedInputBytes, 0)
        XCTAssertFalse(guest.driver.needsReset)
    }

    func testTheCatalogBuildsIt() throws {
        let entry = try VirtioDeviceCatalog.entry(named: "console")
        XCTAssertEqual(entry.type, .console)
        let device = try entry.make(nil)
        let console = try XCTUnwrap(device as? VirtioConsole)
        XCTAssertEqual(console.deviceFeatures, 0)

        // Built without a sink: output is dropped and counted until one is attached.
        let guest = FakeConsoleGuest(console: console)
        guest.bringUp()
        guest.transmit("lost")
        XCTAssertEqual(console.droppedOutputBytes, 4)
        let output = RecordingConsoleOutput()
        console.attach(output: output)
        guest.transmit("kept", descriptor: 1, address: 0x21000)
        XCTAssertEqual(output.written, Array("kept".utf8))
        XCTAssertEqual(guest.transmitRing.usedIndex, 2)
        XCTAssertThrowsError(try entry.make("x")) {
            XCTAssertEqual($0 as? VirtioCatalogError,
                           .badArgument(device: "console", argument: "x", reason: "takes no argument"))
        }
    }
}
