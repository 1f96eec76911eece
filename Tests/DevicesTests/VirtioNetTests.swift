import LKVMCore
@testable import LKVMDevices
import Synchronization
import XCTest

/// A backend in memory: records what the device sends, and hands packets to
/// the device through the `deliver` it was started with.
final class FakeNetBackend: NetBackend {
    private struct State {
        var sent: [[UInt8]] = []
        var deliver: (@Sendable ([UInt8]) -> Void)?
        var closed = false
        var failSends = false
    }

    private let state = Mutex(State())
    let name = "fake0"
    var identity: String { "fake:fake0" }

    func send(_ packet: [UInt8]) throws(NetBackendError) {
        try state.withLock { state throws(NetBackendError) in
            if state.failSends { throw .hostCall(call: "write", interface: name, errno: 5) }
            state.sent.append(packet)
        }
    }

    func start(deliver: @escaping @Sendable ([UInt8]) -> Void) throws(NetBackendError) {
        state.withLock { $0.deliver = deliver }
    }

    func close() { state.withLock { $0.closed = true } }

    /// The host has a packet for the guest.
    func inject(_ packet: [UInt8]) {
        let deliver = state.withLock { $0.deliver }
        deliver?(packet)
    }

    var sent: [[UInt8]] { state.withLock { $0.sent } }
    var isClosed: Bool { state.withLock { $0.closed } }
    func failSends(_ fail: Bool) { state.withLock { $0.failSends = fail } }
}

/// A guest driving virtio-net through the mmio transport the way Linux's
/// virtio_net does without MRG_RXBUF: receiveq (0) and transmitq (1).
final class FakeNetGuest {
    let backend = FakeNetBackend()
    let net: VirtioNet
    let driver: FakeMMIODriver
    var transmitRing: FakeGuestRing
    var memory: GuestMemory { driver.memory }
    var receiveRing: FakeGuestRing {
        get { driver.ring }
        set { driver.ring = newValue }
    }

    init(mac: MACAddress? = nil, backlogCapacity: Int = VirtioNet.defaultBacklogCapacity) {
        net = VirtioNet(backend: backend, mac: mac, backlogCapacity: backlogCapacity)
        driver = FakeMMIODriver(device: net)
        transmitRing = FakeGuestRing(memory: driver.memory, size: 8, base: 0x4000)
        try! net.start()
    }

    func bringUp(base: UInt64 = 0x1000) {
        XCTAssertEqual(driver.probe(), 1)
        XCTAssertTrue(driver.negotiate(driver.deviceFeatures()))
        receiveRing = FakeGuestRing(memory: memory, size: 8, base: base)
        transmitRing = FakeGuestRing(memory: memory, size: 8, base: base + 0x3000)
        driver.setUpQueue(index: 0)
        let receive = receiveRing
        receiveRing = transmitRing
        driver.setUpQueue(index: 1)
        receiveRing = receive
        driver.driverOK()
        XCTAssertFalse(driver.needsReset)
    }

    static func receiveBuffer(_ descriptor: UInt16) -> UInt64 { 0x10000 + 0x800 * UInt64(descriptor) }

    /// Posts receive buffers of `length` bytes (Linux's small buffers are 1530).
    func postReceiveBuffers(_ descriptors: [UInt16], length: UInt32 = 1530, notify: Bool = true) {
        for descriptor in descriptors {
            receiveRing.setDescriptor(descriptor, address: Self.receiveBuffer(descriptor), length: length,
                                      flags: Desc.write)
            receiveRing.makeAvailable(descriptor)
        }
        if notify { driver.notify(0) }
    }

    /// The bytes the device wrote for used receive entry `index`.
    func received(_ index: UInt16) -> [UInt8] {
        let entry = receiveRing.usedEntry(index)
        return try! memory.read(Int(entry.length), at: GuestAddress(Self.receiveBuffer(UInt16(entry.head))))
    }

    /// Sends `header` and `frame` as two descriptors, as Linux does when the
    /// header is not in the skb's headroom.
    func transmit(header: [UInt8] = [UInt8](repeating: 0, count: 12), frame: [UInt8], descriptor: UInt16 = 0) {
        let headerAddress: UInt64 = 0x30000 + 0x1000 * UInt64(descriptor)
        try! memory.write(header[...], at: GuestAddress(headerAddress))
        try! memory.write(frame[...], at: GuestAddress(headerAddress + 0x100))
        transmitRing.setDescriptor(descriptor, address: headerAddress, length: UInt32(header.count),
                                   flags: Desc.next, next: descriptor + 1)
        transmitRing.setDescriptor(descriptor + 1, address: headerAddress + 0x100, length: UInt32(frame.count))
        transmitRing.makeAvailable(descriptor)
        driver.notify(1)
    }
}

/// An Ethernet frame of `length` bytes: broadcast destination, a fixed
/// source, EtherType 0x88B5 (local experimental), payload counting up.
func ethernetFrame(length: Int = 60, seed: UInt8 = 0) -> [UInt8] {
    let header: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0, 0, 0, 0, 1, 0x88, 0xB5]
    return header + (0..<(length - header.count)).map { UInt8(truncatingIfNeeded: $0 + Int(seed)) }
}

let zeroHeader = [UInt8](repeating: 0, count: 12)
/// What the device writes before a received frame: num_buffers 1, the rest 0.
let receivedHeader: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]

/// virtio-net's normal traffic through the mmio transport.
final class VirtioNetTests: XCTestCase {
    func testIdentityFeaturesAndConfigurationSpace() throws {
        let mac = try XCTUnwrap(MACAddress(parsing: "52:54:00:12:34:56"))
        let guest = FakeNetGuest(mac: mac)
        XCTAssertEqual(guest.driver.probe(), 1, "device ID 1: network card")
        let features = guest.driver.deviceFeatures()
        XCTAssertEqual(features & (1 << 5), 1 << 5, "MAC")
        XCTAssertEqual(features & (1 << 16), 1 << 16, "STATUS")
        XCTAssertEqual(features & (1 << 15), 0, "no MRG_RXBUF")
        XCTAssertEqual(features & 0xFFFF & ~(1 << 5), 0, "no offloads")
        XCTAssertEqual(features & Feature.version1, Feature.version1)
        let config = (0..<8).map { UInt8(guest.driver.transport.read(offset: MMIO.config + UInt64($0), size: 1)) }
        XCTAssertEqual(config, [0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 1, 0], "mac, then status LINK_UP")
        XCTAssertEqual(guest.driver.transport.read(offset: MMIO.config + 6, size: 2), 1)
        XCTAssertEqual(guest.driver.transport.read(offset: MMIO.config, size: 4), 0x1200_5452)
        guest.driver.transport.write(offset: MMIO.config, size: 1, value: 0xFF)
        XCTAssertEqual(guest.driver.transport.read(offset: MMIO.config, size: 1), 0x52, "the MAC is read-only")
    }

    func testTheDefaultMACIsStableLocalAndUnicast() {
        let guest = FakeNetGuest()
        XCTAssertEqual(guest.net.mac, MACAddress.derived(from: "fake:fake0"))
        XCTAssertEqual(MACAddress.derived(from: "tap:tap0"), MACAddress.derived(from: "tap:tap0"))
        XCTAssertNotEqual(MACAddress.derived(from: "tap:tap0"), MACAddress.derived(from: "tap:tap1"))
        let bytes = MACAddress.derived(from: "tap:tap0").bytes
        XCTAssertEqual(Array(bytes[0..<3]), [0x52, 0x54, 0x00])
        XCTAssertEqual(bytes[0] & 3, 2, "locally administered, unicast")
    }

    func testAGuestFrameReachesTheBackendBehindAPlainHeader() {
        let guest = FakeNetGuest()
        guest.bringUp()
        let frame = ethernetFrame(length: 98)
        var header = zeroHeader
        header[0] = 1; header[1] = 3; header[10] = 7  // NEEDS_CSUM, GSO_TCPV6: not negotiated
        guest.transmit(header: header, frame: frame)
        XCTAssertEqual(guest.backend.sent, [zeroHeader + frame], "header rewritten plain, frame intact")
        XCTAssertEqual(guest.transmitRing.usedIndex, 1)
        XCTAssertEqual(guest.transmitRing.usedEntry(0).length, 0)
        XCTAssertEqual(guest.driver.handleInterrupt() & 1, 1)
        XCTAssertEqual(guest.net.sentPackets, 1)
    }

    func testHeaderAndFrameInOneDescriptor() throws {
        let guest = FakeNetGuest()
        guest.bringUp()
        let packet = zeroHeader + ethernetFrame(length: 1514)
        try guest.memory.write(packet[...], at: GuestAddress(0x30000))
        guest.transmitRing.setDescriptor(0, address: 0x30000, length: UInt32(packet.count))
        guest.transmitRing.makeAvailable(0)
        guest.driver.notify(1)
        XCTAssertEqual(guest.backend.sent, [packet])
    }

    func testHostFramesFillPostedBuffersWithAHeader() {
        let guest = FakeNetGuest()
        guest.bringUp()
        guest.postReceiveBuffers([0, 1, 2])
        XCTAssertEqual(guest.receiveRing.usedIndex, 0, "buffers wait for packets")
        let frames = [ethernetFrame(length: 60, seed: 1), ethernetFrame(length: 1514, seed: 2)]
        var header = zeroHeader
        header[0] = 2  // DATA_VALID from a tap: meaningless without GUEST_CSUM
        for frame in frames { guest.backend.inject(header + frame) }
        XCTAssertEqual(guest.receiveRing.usedIndex, 2)
        XCTAssertEqual(guest.receiveRing.usedEntry(0).length, 72)
        XCTAssertEqual(guest.received(0), receivedHeader + frames[0])
        XCTAssertEqual(guest.received(1), receivedHeader + frames[1])
        XCTAssertEqual(guest.driver.handleInterrupt() & 1, 1)
        XCTAssertEqual(guest.net.deliveredPackets, 2)
    }

    func testFramesWaitInTheBacklogUntilBuffersArrive() {
        let guest = FakeNetGuest()
        guest.bringUp()
        for seed in UInt8(0)..<3 { guest.backend.inject(zeroHeader + ethernetFrame(seed: seed)) }
        XCTAssertEqual(guest.net.backlogCount, 3)
        guest.postReceiveBuffers([0, 1])
        XCTAssertEqual(guest.receiveRing.usedIndex, 2)
        XCTAssertEqual(guest.received(1), receivedHeader + ethernetFrame(seed: 1), "in order")
        XCTAssertEqual(guest.net.backlogCount, 1)
        guest.postReceiveBuffers([2])
        XCTAssertEqual(guest.received(2), receivedHeader + ethernetFrame(seed: 2))
        XCTAssertEqual(guest.net.backlogCount, 0)
    }

    func testTheBacklogIsBoundedAndDropsAreCounted() {
        let guest = FakeNetGuest(backlogCapacity: 200)
        guest.bringUp()
        let packet = zeroHeader + ethernetFrame(length: 60)  // 72 bytes: two fit in 200
        XCTAssertTrue(guest.net.receive(packet))
        XCTAssertTrue(guest.net.receive(packet))
        XCTAssertFalse(guest.net.receive(packet))
        XCTAssertEqual(guest.net.receiveDrops.backlogFull, 1)
        XCTAssertEqual(guest.net.backlogCount, 2)
        guest.postReceiveBuffers([0, 1, 2])
        XCTAssertTrue(guest.net.receive(packet), "room again once delivered")
        XCTAssertEqual(guest.receiveRing.usedIndex, 3)
    }

    func testAFrameLargerThanTheBufferIsDroppedAndTheBufferKept() {
        let guest = FakeNetGuest()
        guest.bringUp()
        guest.postReceiveBuffers([0])
        guest.backend.inject(zeroHeader + ethernetFrame(length: 1600))  // 1612 > 1530
        XCTAssertEqual(guest.net.receiveDrops.tooLarge, 1)
        XCTAssertEqual(guest.receiveRing.usedIndex, 0)
        guest.backend.inject(zeroHeader + ethernetFrame(length: 100, seed: 9))
        XCTAssertEqual(guest.receiveRing.usedIndex, 1)
        XCTAssertEqual(guest.received(0), receivedHeader + ethernetFrame(length: 100, seed: 9))
        let exact = zeroHeader + ethernetFrame(length: 1518)  // 1530: exactly fits
        guest.postReceiveBuffers([1])
        guest.backend.inject(exact)
        XCTAssertEqual(guest.receiveRing.usedEntry(1).length, 1530)
    }

    func testPacketsBeforeDriverOKAndAfterAResetAreDropped() {
        let guest = FakeNetGuest()
        guest.backend.inject(zeroHeader + ethernetFrame())
        XCTAssertEqual(guest.net.receiveDrops.inactive, 1)
        guest.bringUp()
        guest.backend.inject(zeroHeader + ethernetFrame())
        XCTAssertEqual(guest.net.backlogCount, 1)
        guest.driver.write(MMIO.status, 0)  // reset
        XCTAssertEqual(guest.net.backlogCount, 0, "waiting packets go with the driver")
        guest.backend.inject(zeroHeader + ethernetFrame())
        XCTAssertEqual(guest.net.receiveDrops.inactive, 2)
        guest.bringUp(base: 0x40000)
        guest.postReceiveBuffers([0])
        guest.backend.inject(zeroHeader + ethernetFrame(seed: 5))
        XCTAssertEqual(guest.received(0), receivedHeader + ethernetFrame(seed: 5))
    }

    func testOffloadedAndRuntBackendPacketsAreDropped() {
        let guest = FakeNetGuest()
        guest.bringUp()
        guest.postReceiveBuffers([0])
        var csum = zeroHeader
        csum[0] = 1
        var gso = zeroHeader
        gso[1] = 1
        guest.backend.inject(csum + ethernetFrame())
        guest.backend.inject(gso + ethernetFrame())
        guest.backend.inject([1, 2, 3])
        guest.backend.inject(zeroHeader + [1, 2, 3])
        XCTAssertEqual(guest.net.receiveDrops.offloaded, 2)
        XCTAssertEqual(guest.net.receiveDrops.malformed, 2)
        XCTAssertEqual(guest.receiveRing.usedIndex, 0)
    }

    func testStopClosesTheBackend() {
        let guest = FakeNetGuest()
        guest.net.stop()
        XCTAssertTrue(guest.backend.isClosed)
    }

    func testTheCatalogKnowsNetAndReportsBadArguments() throws {
        let entry = try VirtioDeviceCatalog.entry(named: "net")
        XCTAssertEqual(entry.type, .network)
        XCTAssertThrowsError(try entry.make("mode=slip")) { error in
            XCTAssertEqual("\(error)", "virtio net 'mode=slip': unknown mode 'slip' (use mode=tap or mode=user)")
        }
        XCTAssertThrowsError(try entry.make(nil)) { error in
            XCTAssertEqual("\(error)", "virtio net '': mode=tap needs tapif=NAME, the host TAP interface")
        }
        XCTAssertEqual(VirtioTraceFeatureNames.name(ofBit: 16, type: .network), "STATUS")
    }
}
