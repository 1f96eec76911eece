import Glibc
import LKVMCore
@testable import LKVMDevices
import XCTest

/// Garbage from the guest, shutdowns, limits and resets: answered or
/// dropped, never a crash, a hang or a leak.
final class VirtioVsockHostileTests: XCTestCase {
    func testGarbageHeadersAreResetOrDroppedAndTheDeviceKeepsWorking() throws {
        let guest = try FakeVsockGuest()
        guest.bringUp()
        // len beyond the bytes the chain carries.
        guest.send(FakeVsockGuest.header(.rw, guestPort: 1, hostPort: 2, length: 100), payload: [1, 2, 3])
        XCTAssertEqual(guest.receivePackets().map(\.op), [.rst])
        // len beyond 64 KiB, with no payload at all.
        guest.send(FakeVsockGuest.header(.rw, guestPort: 1, hostPort: 2, length: 0xFFFF_FFFF))
        XCTAssertEqual(guest.receivePackets().map(\.op), [.rst])
        // Not from the guest's CID: not ours to answer.
        var spoofed = FakeVsockGuest.header(.request, guestPort: 1, hostPort: 2)
        spoofed.sourceCID = 7
        guest.send(spoofed)
        XCTAssertTrue(guest.receivePackets().isEmpty)
        XCTAssertEqual(guest.device.counters.wrongSource, 1)
        // Not to the host.
        var elsewhere = FakeVsockGuest.header(.request, guestPort: 1, hostPort: 2)
        elsewhere.destinationCID = 5
        guest.send(elsewhere)
        XCTAssertEqual(guest.receivePackets().map(\.op), [.rst])
        // SEQPACKET is not offered; an unknown op and an unknown type.
        var seqpacket = FakeVsockGuest.header(.request, guestPort: 1, hostPort: 2)
        seqpacket.type = VsockType.seqpacket
        var unknownOp = FakeVsockGuest.header(.rw, guestPort: 1, hostPort: 2)
        unknownOp.op = 99
        var unknownType = FakeVsockGuest.header(.rw, guestPort: 1, hostPort: 2)
        unknownType.type = 0xBEEF
        for header in [seqpacket, unknownOp, unknownType] { guest.send(header) }
        XCTAssertEqual(guest.receivePackets().map(\.op), [.rst, .rst, .rst])
        // Shorter than a header; stream packets for no stream; an RST for no stream.
        guest.sendRaw([1, 2, 3])
        for op in [VsockOp.rw, .response, .shutdown, .creditUpdate, .creditRequest] {
            guest.send(FakeVsockGuest.header(op, guestPort: 9, hostPort: 9))
        }
        guest.send(FakeVsockGuest.header(.rst, guestPort: 9, hostPort: 9))
        XCTAssertEqual(guest.receivePackets().map(\.op), [.rst, .rst, .rst, .rst, .rst], "no RST answers an RST")
        XCTAssertEqual(guest.device.counters.malformed, 3)
        XCTAssertFalse(guest.driver.needsReset)

        // And it still works.
        let (listener, _) = try VsockHostSockets.listen(path: guest.socketPath + "_5000")
        defer { close(listener) }
        guest.send(FakeVsockGuest.header(.request, guestPort: 40000, hostPort: 5000))
        XCTAssertEqual(guest.receivePackets().map(\.op), [.response])
    }

    func testAFloodOfGarbageWithNoReceiveBuffersQueuesABoundedNumberOfResets() throws {
        let guest = try FakeVsockGuest()
        guest.bringUp(receiveBuffers: 0)
        for port in 0..<200 { guest.send(FakeVsockGuest.header(.rw, guestPort: UInt32(port), hostPort: 9)) }
        XCTAssertEqual(guest.device.counters.droppedResets, 200 - VsockLimits().maxQueuedResets)
        guest.postReceiveBuffers(Array(0..<16))
        var resets = 0
        for _ in 0..<10 {
            let packets = guest.receivePackets()
            if packets.isEmpty { break }
            resets += packets.count
        }
        XCTAssertEqual(resets, VsockLimits().maxQueuedResets)
    }

    /// Streams opened and overrun again and again, no rx buffer ever posted:
    /// what waits for the guest stays bounded.
    func testStreamsChurnedWithoutReceiveBuffersLeaveABoundedOutbox() throws {
        var limits = VsockLimits()
        limits.bufferAllocation = 4
        let guest = try FakeVsockGuest(limits: limits)
        guest.bringUp(receiveBuffers: 0)
        let (listener, _) = try VsockHostSockets.listen(path: guest.socketPath + "_5000")
        defer { close(listener) }
        for round in 0..<300 {
            let port = UInt32(40000 + round)
            guest.send(FakeVsockGuest.header(.request, guestPort: port, hostPort: 5000))
            if let server = VsockHostSockets.accept(listener) { close(server) }
            guest.send(FakeVsockGuest.header(.rw, guestPort: port, hostPort: 5000, length: 5), payload: [1, 2, 3, 4, 5])
        }
        XCTAssertEqual(guest.device.connectionCount, 0)
        XCTAssertEqual(guest.device.counters.creditOverruns, 300)
        XCTAssertLessThanOrEqual(guest.device.outboxCount, limits.maxQueuedResets + limits.maxConnections)
        XCTAssertGreaterThan(guest.device.counters.droppedResets, 0)
    }

    func testStreamsBeyondTheLimitAreRefused() throws {
        var limits = VsockLimits()
        limits.maxConnections = 2
        let guest = try FakeVsockGuest(limits: limits)
        guest.bringUp()
        let (listener, _) = try VsockHostSockets.listen(path: guest.socketPath + "_5000")
        defer { close(listener) }
        for port: UInt32 in 40000..<40003 { guest.send(FakeVsockGuest.header(.request, guestPort: port, hostPort: 5000)) }
        XCTAssertEqual(guest.receivePackets().map(\.op), [.response, .response, .rst])
        XCTAssertEqual(guest.device.connectionCount, 2)
        // Host clients count too: this one waits in the backlog, unserved.
        let client = try VsockHostSockets.connect(path: guest.socketPath).get()
        defer { close(client) }
        VsockTestHost.write(client, "CONNECT 1\n")
        guest.serveReady(turns: 5)
        XCTAssertTrue(guest.receivePackets().isEmpty)
        guest.send(FakeVsockGuest.header(.rst, guestPort: 40000, hostPort: 5000))
        XCTAssertEqual(guest.serveUntilPackets().map(\.op), [.request], "a freed slot serves the waiting client")
    }

    func testShutdownsCloseEachDirectionAndBothEndTheStreamWithRST() throws {
        let guest = try FakeVsockGuest()
        guest.bringUp()
        let (listener, _) = try VsockHostSockets.listen(path: guest.socketPath + "_5000")
        defer { close(listener) }
        guest.send(FakeVsockGuest.header(.request, guestPort: 40000, hostPort: 5000))
        XCTAssertEqual(guest.receivePackets().map(\.op), [.response])
        let server = try XCTUnwrap(VsockHostSockets.accept(listener))
        defer { close(server) }
        // The guest will send no more: the host reads to EOF, and can still answer.
        guest.send(FakeVsockGuest.header(.rw, guestPort: 40000, hostPort: 5000, length: 3), payload: Array("abc".utf8))
        guest.send(FakeVsockGuest.header(.shutdown, guestPort: 40000, hostPort: 5000, flags: VsockShutdown.send))
        XCTAssertEqual(VsockTestHost.read(server, count: 3), Array("abc".utf8))
        XCTAssertTrue(VsockTestHost.sawEndOfStream(server, guest: guest))
        VsockTestHost.write(server, "bye")
        XCTAssertEqual(guest.serveUntilPackets().map(\.payload), [Array("bye".utf8)])
        // The host closes: the guest hears SHUTDOWN(SEND).
        shutdown(server, Int32(SHUT_WR))
        let shutdownPacket = guest.serveUntilPackets()
        XCTAssertEqual(shutdownPacket.map(\.op), [.shutdown])
        XCTAssertEqual(shutdownPacket.first?.header.flags, VsockShutdown.send)
        // Both done: the guest's full shutdown is answered with RST.
        guest.send(FakeVsockGuest.header(.shutdown, guestPort: 40000, hostPort: 5000, flags: VsockShutdown.both))
        XCTAssertEqual(guest.receivePackets().map(\.op), [.rst])
        XCTAssertEqual(guest.device.connectionCount, 0)
    }

    func testAHostClientHangingUpBeforeTheGuestAnswersResetsTheRequest() throws {
        let guest = try FakeVsockGuest()
        guest.bringUp()
        let client = try VsockHostSockets.connect(path: guest.socketPath).get()
        VsockTestHost.write(client, "CONNECT 6000\n")
        XCTAssertEqual(guest.serveUntilPackets().map(\.op), [.request])
        close(client)
        XCTAssertEqual(guest.serveUntilPackets().map(\.op), [.rst])
        XCTAssertEqual(guest.device.connectionCount, 0)
    }

    /// With the real poll thread: a driver reset closes every stream and
    /// client and ends the thread; stop removes the socket; no descriptor leaks.
    func testResetTearsEverythingDownWithoutLeakingDescriptors() throws {
        let before = VsockTestHost.openDescriptorCount()
        do {
            let guest = try FakeVsockGuest(hostThread: true)
            guest.bringUp()
            let (listener, _) = try VsockHostSockets.listen(path: guest.socketPath + "_5000")
            defer { close(listener) }
            guest.send(FakeVsockGuest.header(.request, guestPort: 40000, hostPort: 5000))
            XCTAssertEqual(guest.receivePackets().map(\.op), [.response])
            let server = try XCTUnwrap(VsockHostSockets.accept(listener))
            defer { close(server) }
            let client = try VsockHostSockets.connect(path: guest.socketPath).get()
            defer { close(client) }
            VsockTestHost.write(client, "CONNECT 6000\n")
            let idle = try VsockHostSockets.connect(path: guest.socketPath).get()
            defer { close(idle) }
            VsockTestHost.write(idle, "CONN")  // half a line: a client still being read
            var deadline = 0
            while guest.device.connectionCount < 2, deadline < 500 {
                usleep(10_000)
                deadline += 1
            }
            XCTAssertEqual(guest.device.connectionCount, 2, "the poll thread took the CONNECT line")

            guest.driver.write(MMIO.status, 0)
            XCTAssertEqual(guest.device.connectionCount, 0)
            XCTAssertTrue(VsockTestHost.sawEndOfStream(server, guest: guest))
            XCTAssertTrue(VsockTestHost.sawEndOfStream(client, guest: guest))
            XCTAssertTrue(VsockTestHost.sawEndOfStream(idle, guest: guest))
            guest.device.stop()
            XCTAssertNotEqual(access(guest.socketPath, F_OK), 0)
        }
        XCTAssertEqual(VsockTestHost.openDescriptorCount(), before)
    }
}
