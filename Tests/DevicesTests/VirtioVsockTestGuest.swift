import Glibc
import LKVMCore
@testable import LKVMDevices
import XCTest

/// A packet the fake guest took from its receive queue.
struct VsockTestPacket {
    let header: VsockHeader
    let payload: [UInt8]
    var op: VsockOp? { header.knownOp }
}

/// A guest driving virtio-vsock through the mmio transport as Linux's
/// vmw_vsock_virtio_transport does: rx (0) with posted buffers, tx (1) with
/// header and payload in two descriptors, event (2) buffers posted and held.
final class FakeVsockGuest {
    static let guestCID: UInt64 = 3
    static let receiveBufferLength: UInt32 = UInt32(VsockHeader.size) + 4096

    let device: VirtioVsock
    let driver: FakeMMIODriver
    let directory: String
    var memory: GuestMemory { driver.memory }
    var receiveRing: FakeGuestRing
    var transmitRing: FakeGuestRing
    var eventRing: FakeGuestRing
    private var seenUsed: UInt16 = 0
    private var transmitDescriptor: UInt16 = 0

    var socketPath: String { directory + "/vm.vsock" }

    init(limits: VsockLimits = VsockLimits(), hostThread: Bool = false) throws {
        var template = Array("/tmp/lkvm-vsock-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw VsockSocketError.hostCall(call: "mkdtemp", path: "/tmp", errno: errno) }
        directory = String(cString: made)
        device = try VirtioVsock(guestCID: Self.guestCID, socketPath: directory + "/vm.vsock", limits: limits,
                                 hostThread: hostThread)
        driver = FakeMMIODriver(device: device, queueSize: 16, memory: makeGuestMemory(size: 0x20_0000))
        receiveRing = FakeGuestRing(memory: driver.memory, size: 16, base: 0x1000)
        transmitRing = FakeGuestRing(memory: driver.memory, size: 16, base: 0x2000)
        eventRing = FakeGuestRing(memory: driver.memory, size: 16, base: 0x3000)
    }

    deinit {
        device.stop()
        if let entries = opendir(directory) {
            while let entry = readdir(entries) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                if name != "." && name != ".." { unlink(directory + "/" + name) }
            }
            closedir(entries)
        }
        rmdir(directory)
    }

    /// Probe, features, three queues, DRIVER_OK; `receiveBuffers` rx buffers
    /// and four event buffers posted.
    func bringUp(receiveBuffers: Int = 8) {
        XCTAssertEqual(driver.probe(), 19)
        XCTAssertTrue(driver.negotiate(driver.deviceFeatures()))
        for (index, ring) in [receiveRing, transmitRing, eventRing].enumerated() {
            driver.ring = ring
            driver.setUpQueue(index: UInt32(index))
        }
        for descriptor in 0..<4 {
            eventRing.setDescriptor(UInt16(descriptor), address: 0x1F_0000 + 8 * UInt64(descriptor), length: 8, flags: Desc.write)
            eventRing.makeAvailable(UInt16(descriptor))
        }
        driver.driverOK()
        XCTAssertFalse(driver.needsReset)
        postReceiveBuffers((0..<receiveBuffers).map(UInt16.init))
    }

    static func receiveBuffer(_ descriptor: UInt16) -> UInt64 { 0x10000 + 0x2000 * UInt64(descriptor) }

    func postReceiveBuffers(_ descriptors: [UInt16], length: UInt32 = receiveBufferLength) {
        for descriptor in descriptors {
            receiveRing.setDescriptor(descriptor, address: Self.receiveBuffer(descriptor), length: length, flags: Desc.write)
            receiveRing.makeAvailable(descriptor)
        }
        driver.notify(0)
    }

    /// Packets the device put in rx since the last call; their buffers are posted again.
    func receivePackets(repost: Bool = true) -> [VsockTestPacket] {
        var packets: [VsockTestPacket] = []
        var reposted: [UInt16] = []
        while seenUsed != receiveRing.usedIndex {
            let entry = receiveRing.usedEntry(seenUsed)
            seenUsed &+= 1
            let bytes = try! memory.read(Int(entry.length), at: GuestAddress(Self.receiveBuffer(UInt16(entry.head))))
            guard let header = VsockHeader(decoding: bytes) else {
                XCTFail("a used rx buffer of \(bytes.count) bytes holds no header")
                continue
            }
            XCTAssertEqual(Int(header.length), bytes.count - VsockHeader.size, "len matches the bytes written")
            packets.append(VsockTestPacket(header: header, payload: Array(bytes.dropFirst(VsockHeader.size))))
            reposted.append(UInt16(entry.head))
        }
        if repost, !reposted.isEmpty { postReceiveBuffers(reposted) }
        return packets
    }

    /// A header from the guest (src 3) to the host (dst 2), with the guest's credit.
    static func header(_ op: VsockOp, guestPort: UInt32, hostPort: UInt32, length: Int = 0, flags: UInt32 = 0,
                       bufferAllocation: UInt32 = 65536, forwardCount: UInt32 = 0) -> VsockHeader {
        VsockHeader(sourceCID: guestCID, destinationCID: VsockCID.host, sourcePort: guestPort, destinationPort: hostPort,
                    length: UInt32(length), op: op.rawValue, flags: flags, bufferAllocation: bufferAllocation,
                    forwardCount: forwardCount)
    }

    /// Queues header + payload on tx in two descriptors (one when no payload) and notifies.
    func send(_ header: VsockHeader, payload: [UInt8] = []) {
        sendRaw(header.encoded, payload: payload)
    }

    func sendRaw(_ headerBytes: [UInt8], payload: [UInt8] = []) {
        let descriptor = transmitDescriptor
        transmitDescriptor = (transmitDescriptor + 2) % 16
        let address: UInt64 = 0x100000 + 0x10000 * UInt64(descriptor / 2)
        try! memory.write(headerBytes[...], at: GuestAddress(address))
        if payload.isEmpty {
            transmitRing.setDescriptor(descriptor, address: address, length: UInt32(headerBytes.count))
        } else {
            try! memory.write(payload[...], at: GuestAddress(address + 0x100))
            transmitRing.setDescriptor(descriptor, address: address, length: UInt32(headerBytes.count),
                                       flags: Desc.next, next: descriptor + 1)
            transmitRing.setDescriptor(descriptor + 1, address: address + 0x100, length: UInt32(payload.count))
        }
        transmitRing.makeAvailable(descriptor)
        driver.notify(1)
    }

    /// Serves host sockets until `done` holds (at most `turns` turns of up
    /// to 100 ms each); returns whether it did.
    @discardableResult
    func serve(turns: Int = 50, until done: () -> Bool) -> Bool {
        for _ in 0..<turns {
            if done() { return true }
            device.serveHostSockets(timeout: 100)
        }
        return done()
    }

    /// Host socket turns that wait for nothing: whatever is ready is served.
    func serveReady(turns: Int = 5) {
        for _ in 0..<turns { device.serveHostSockets(timeout: 0) }
    }

    /// Serves until rx holds packets, and returns them all.
    func serveUntilPackets(turns: Int = 50) -> [VsockTestPacket] {
        var packets: [VsockTestPacket] = []
        serve(turns: turns) {
            packets += receivePackets()
            return !packets.isEmpty
        }
        return packets
    }
}

/// Host-side helpers for the tests: blocking waits over the device's own
/// non-blocking socket calls.
enum VsockTestHost {
    /// Reads until `count` bytes came, the peer closed, or `turns` polls of 100 ms found nothing.
    static func read(_ descriptor: Int32, count: Int, guest: FakeVsockGuest? = nil, turns: Int = 50) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<turns where bytes.count < count {
            guest?.device.serveHostSockets(timeout: 0)
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) > 0 else { continue }
            switch VsockHostSockets.read(descriptor, limit: count - bytes.count) {
            case .bytes(let more): bytes += more
            case .endOfStream, .failed: return bytes
            case .wouldBlock: continue
            }
        }
        return bytes
    }

    /// Whether the peer closed: a read gives end of stream (or a reset).
    static func sawEndOfStream(_ descriptor: Int32, guest: FakeVsockGuest, turns: Int = 50) -> Bool {
        for _ in 0..<turns {
            guest.device.serveHostSockets(timeout: 0)
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) > 0 else { continue }
            switch VsockHostSockets.read(descriptor, limit: 1) {
            case .endOfStream, .failed: return true
            case .bytes, .wouldBlock: continue
            }
        }
        return false
    }

    static func write(_ descriptor: Int32, _ text: String) {
        XCTAssertEqual(VsockHostSockets.write(descriptor, Array(text.utf8)), text.utf8.count)
    }

    /// Descriptors this process has open.
    static func openDescriptorCount() -> Int {
        guard let entries = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(entries) }
        var count = 0
        while readdir(entries) != nil { count += 1 }
        return count
    }
}
