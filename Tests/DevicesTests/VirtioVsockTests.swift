import Glibc
import LKVMCore
@testable import LKVMDevices
import XCTest

/// virtio-vsock's header codec, options and normal streams both ways,
/// through the mmio transport and real Unix sockets in a temporary directory.
final class VirtioVsockTests: XCTestCase {
    func testHeaderEncodesLittleEndianFieldsInSpecOrder() throws {
        let header = VsockHeader(sourceCID: 0x0102_0304_0506_0708, destinationCID: 2, sourcePort: 0xAABB_CCDD,
                                 destinationPort: 5000, length: 7, type: VsockType.stream, op: VsockOp.rw.rawValue,
                                 flags: 3, bufferAllocation: 0x1_0000, forwardCount: 0xFFFF_FFFF)
        let bytes = header.encoded
        XCTAssertEqual(bytes.count, 44)
        XCTAssertEqual(Array(bytes[0..<8]), [8, 7, 6, 5, 4, 3, 2, 1], "src_cid")
        XCTAssertEqual(Array(bytes[8..<16]), [2, 0, 0, 0, 0, 0, 0, 0], "dst_cid")
        XCTAssertEqual(Array(bytes[16..<20]), [0xDD, 0xCC, 0xBB, 0xAA], "src_port")
        XCTAssertEqual(Array(bytes[20..<24]), [0x88, 0x13, 0, 0], "dst_port 5000")
        XCTAssertEqual(Array(bytes[24..<28]), [7, 0, 0, 0], "len")
        XCTAssertEqual(Array(bytes[28..<32]), [1, 0, 5, 0], "type STREAM, op RW")
        XCTAssertEqual(Array(bytes[32..<36]), [3, 0, 0, 0], "flags")
        XCTAssertEqual(Array(bytes[36..<40]), [0, 0, 1, 0], "buf_alloc")
        XCTAssertEqual(Array(bytes[40..<44]), [0xFF, 0xFF, 0xFF, 0xFF], "fwd_cnt")
        XCTAssertEqual(VsockHeader(decoding: bytes + [9, 9]), header, "payload bytes after the header are not its business")
        XCTAssertNil(VsockHeader(decoding: Array(bytes.prefix(43))))
        let reply = header.resetReply
        XCTAssertEqual([reply.sourceCID, reply.destinationCID], [2, 0x0102_0304_0506_0708])
        XCTAssertEqual([reply.sourcePort, reply.destinationPort], [5000, 0xAABB_CCDD])
        XCTAssertEqual(reply.knownOp, .rst)
    }

    func testOptionsTakeACIDAndASocketPathAndRefuseReservedCIDs() throws {
        XCTAssertEqual(try VsockOptions(parsing: "3"), VsockOptions(guestCID: 3, socketPath: nil))
        XCTAssertEqual(try VsockOptions(parsing: "4294967294,socket=/tmp/x"),
                       VsockOptions(guestCID: 4_294_967_294, socketPath: "/tmp/x"))
        for bad in ["", "0", "1", "2", "4294967295", "99999999999", "x", "3,socket=", "3,socket=a,socket=b", "3,ro"] {
            XCTAssertThrowsError(try VsockOptions(parsing: bad), bad)
        }
        XCTAssertThrowsError(try VirtioDeviceCatalog.entry(named: "vsock").make("3"), "the catalog needs socket=")
    }

    func testIdentityQueuesAndGuestCIDInTheConfigurationSpace() throws {
        let guest = try FakeVsockGuest()
        XCTAssertEqual(guest.driver.probe(), 19, "device ID 19: socket device")
        XCTAssertEqual(guest.device.queueMaxSizes.count, 3, "rx, tx, event")
        XCTAssertEqual(guest.driver.deviceFeatures() & 0xFF_FFFF, 0, "streams only: no SEQPACKET")
        XCTAssertEqual(guest.driver.read(MMIO.config), 3)
        XCTAssertEqual(guest.driver.read(MMIO.config + 4), 0)
    }

    func testTheSocketIsRefusedWhileAnotherListenerHoldsItAndAStaleOneIsReplaced() throws {
        let guest = try FakeVsockGuest()
        XCTAssertThrowsError(try VirtioVsock(guestCID: 4, socketPath: guest.socketPath)) { error in
            XCTAssertEqual(error as? VsockSocketError, .inUse(guest.socketPath))
        }
        let stalePath = guest.directory + "/stale.vsock"
        let (stale, _) = try VsockHostSockets.listen(path: stalePath)
        close(stale)  // the socket file stays, nobody listens: a VM that was killed
        let replacing = try VirtioVsock(guestCID: 4, socketPath: stalePath)
        let client = try VsockHostSockets.connect(path: stalePath).get()
        close(client)
        replacing.stop()
        XCTAssertNotEqual(access(stalePath, F_OK), 0, "stop removes our socket")
        let plainFile = guest.directory + "/file.vsock"
        close(creat(plainFile, 0o600))
        XCTAssertThrowsError(try VirtioVsock(guestCID: 4, socketPath: plainFile)) { error in
            XCTAssertEqual(error as? VsockSocketError, .notASocket(plainFile))
        }
        XCTAssertEqual(access(plainFile, F_OK), 0, "a file that is not a socket is left alone")
    }

    /// Host → guest: CONNECT line, REQUEST from CID 2, RESPONSE, OK line, bytes both ways.
    func testAHostClientConnectsToAGuestPortAndBytesFlowBothWays() throws {
        let guest = try FakeVsockGuest()
        guest.bringUp()
        let client = try VsockHostSockets.connect(path: guest.socketPath).get()
        defer { close(client) }
        // Bytes after the line are the stream's first data, not part of the line.
        VsockTestHost.write(client, "CONNECT 6000\nearly")
        let request = try XCTUnwrap(guest.serveUntilPackets().first)
        XCTAssertEqual(request.op, .request)
        XCTAssertEqual([request.header.sourceCID, request.header.destinationCID], [2, 3])
        XCTAssertEqual(request.header.destinationPort, 6000)
        XCTAssertGreaterThanOrEqual(request.header.sourcePort, 1024, "an ephemeral host port")
        XCTAssertEqual(request.header.bufferAllocation, VsockLimits().bufferAllocation)
        let hostPort = request.header.sourcePort

        guest.send(FakeVsockGuest.header(.response, guestPort: 6000, hostPort: hostPort))
        XCTAssertEqual(String(decoding: VsockTestHost.read(client, count: "OK \(hostPort)\n".utf8.count, guest: guest), as: UTF8.self),
                       "OK \(hostPort)\n")
        let early = guest.serveUntilPackets()
        XCTAssertEqual(early.map(\.op), [.rw])
        XCTAssertEqual(early.first?.payload, Array("early".utf8))
        XCTAssertEqual(early.first?.header.destinationPort, 6000)

        guest.send(FakeVsockGuest.header(.rw, guestPort: 6000, hostPort: hostPort, length: 5), payload: Array("HELLO".utf8))
        XCTAssertEqual(VsockTestHost.read(client, count: 5, guest: guest), Array("HELLO".utf8))
        VsockTestHost.write(client, "more")
        XCTAssertEqual(guest.serveUntilPackets().first?.payload, Array("more".utf8))
        XCTAssertEqual(guest.device.connectionCount, 1)
        XCTAssertFalse(guest.driver.needsReset)
    }

    func testAGuestRefusingAHostConnectionClosesTheClient() throws {
        let guest = try FakeVsockGuest()
        guest.bringUp()
        let client = try VsockHostSockets.connect(path: guest.socketPath).get()
        defer { close(client) }
        VsockTestHost.write(client, "CONNECT 7\n")
        let request = try XCTUnwrap(guest.serveUntilPackets().first)
        guest.send(FakeVsockGuest.header(.rst, guestPort: 7, hostPort: request.header.sourcePort))
        XCTAssertTrue(VsockTestHost.sawEndOfStream(client, guest: guest))
        XCTAssertEqual(guest.device.connectionCount, 0)
    }

    /// A guest that never answers a host CONNECT: after the response timeout
    /// the client's socket closes, the guest gets an RST, the slot is free.
    func testAnUnansweredHostConnectIsResetAfterTheTimeout() throws {
        var limits = VsockLimits()
        limits.responseTimeoutSeconds = 0.2
        let guest = try FakeVsockGuest(limits: limits)
        guest.bringUp()
        let client = try VsockHostSockets.connect(path: guest.socketPath).get()
        defer { close(client) }
        VsockTestHost.write(client, "CONNECT 6000\n")
        let request = try XCTUnwrap(guest.serveUntilPackets().first)
        XCTAssertEqual(request.header.op, VsockOp.request.rawValue)
        XCTAssertEqual(guest.device.connectionCount, 1)
        let reset = guest.serveUntilPackets(turns: 30)
        XCTAssertEqual(reset.map(\.header.op), [VsockOp.rst.rawValue])
        XCTAssertEqual(reset.first?.header.sourcePort, request.header.sourcePort)
        XCTAssertTrue(VsockTestHost.sawEndOfStream(client, guest: guest))
        XCTAssertEqual(guest.device.connectionCount, 0)
        XCTAssertEqual(guest.device.counters.unansweredRequests, 1)
    }

    func testBadOrOversizedConnectLinesCloseTheClient() throws {
        let guest = try FakeVsockGuest()
        guest.bringUp()
        for line in ["HELLO 6000\n", "CONNECT\n", "CONNECT 99999999999\n", "CONNECT -1\n", "CONNECT 12x\n",
                     String(repeating: "C", count: 40)] {
            let client = try VsockHostSockets.connect(path: guest.socketPath).get()
            VsockTestHost.write(client, line)
            XCTAssertTrue(VsockTestHost.sawEndOfStream(client, guest: guest), line)
            close(client)
        }
        XCTAssertTrue(guest.receivePackets().isEmpty, "the guest heard of none of them")
    }

    /// Guest → host: REQUEST to CID 2 port 5000 reaches `<socket>_5000`.
    func testAGuestConnectsToAListeningHostPortAndBytesFlowBothWays() throws {
        let guest = try FakeVsockGuest()
        guest.bringUp()
        let (listener, _) = try VsockHostSockets.listen(path: guest.socketPath + "_5000")
        defer { close(listener) }
        guest.send(FakeVsockGuest.header(.request, guestPort: 40000, hostPort: 5000))
        let response = try XCTUnwrap(guest.receivePackets().first)
        XCTAssertEqual(response.op, .response)
        XCTAssertEqual([response.header.sourcePort, response.header.destinationPort], [5000, 40000])
        XCTAssertEqual(response.header.destinationCID, 3)
        let server = try XCTUnwrap(VsockHostSockets.accept(listener))
        defer { close(server) }

        guest.send(FakeVsockGuest.header(.rw, guestPort: 40000, hostPort: 5000, length: 4), payload: Array("ping".utf8))
        XCTAssertEqual(VsockTestHost.read(server, count: 4), Array("ping".utf8))
        VsockTestHost.write(server, "PONG")
        let reply = guest.serveUntilPackets()
        XCTAssertEqual(reply.map(\.op), [.rw])
        XCTAssertEqual(reply.first?.payload, Array("PONG".utf8))
        XCTAssertEqual(reply.first?.header.forwardCount, 4, "our fwd_cnt rides on every packet")
    }

    func testAGuestConnectionToAPortNobodyListensOnIsReset() throws {
        let guest = try FakeVsockGuest()
        guest.bringUp()
        guest.send(FakeVsockGuest.header(.request, guestPort: 40001, hostPort: 5001))
        let answer = guest.receivePackets()
        XCTAssertEqual(answer.map(\.op), [.rst])
        XCTAssertEqual(answer.first.map { [$0.header.sourcePort, $0.header.destinationPort] }, [5001, 40001])
        XCTAssertEqual(guest.device.connectionCount, 0)
        XCTAssertEqual(guest.device.counters.refusedConnections, 1)
    }
}
