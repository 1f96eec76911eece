import Glibc
import LKVMCore
@testable import LKVMDevices
import XCTest

/// Credit both ways (virtio 1.2 section 5.10.6.3): the guest gets no more
/// than it advertised, and cannot make lkvm hold more than we advertised.
final class VirtioVsockCreditTests: XCTestCase {
    /// A guest stream to `<socket>_5000` with the guest's buf_alloc; returns the host's end.
    private func connect(_ guest: FakeVsockGuest, bufferAllocation: UInt32) throws -> (listener: Int32, server: Int32) {
        let (listener, _) = try VsockHostSockets.listen(path: guest.socketPath + "_5000")
        guest.send(FakeVsockGuest.header(.request, guestPort: 40000, hostPort: 5000, bufferAllocation: bufferAllocation))
        XCTAssertEqual(guest.receivePackets().map(\.op), [.response])
        return (listener, try XCTUnwrap(VsockHostSockets.accept(listener)))
    }

    func testAGuestWithNoCreditGetsNoDataUntilItsCreditUpdate() throws {
        let guest = try FakeVsockGuest()
        guest.bringUp()
        let (listener, server) = try connect(guest, bufferAllocation: 0)
        defer { close(listener); close(server) }
        VsockTestHost.write(server, "0123456789")
        guest.serveReady(turns: 10)
        XCTAssertTrue(guest.receivePackets().isEmpty, "no credit, no data")

        guest.send(FakeVsockGuest.header(.creditUpdate, guestPort: 40000, hostPort: 5000, bufferAllocation: 3))
        let first = guest.serveUntilPackets()
        XCTAssertEqual(first.map(\.payload), [Array("012".utf8)], "exactly the 3 bytes of credit")
        guest.serveReady(turns: 10)
        XCTAssertTrue(guest.receivePackets().isEmpty, "credit used up: nothing more")

        // The guest's application read them: fwd_cnt 3 frees 3 more bytes.
        guest.send(FakeVsockGuest.header(.creditUpdate, guestPort: 40000, hostPort: 5000, bufferAllocation: 3,
                                         forwardCount: 3))
        XCTAssertEqual(guest.serveUntilPackets().map(\.payload), [Array("345".utf8)])
        // A lying fwd_cnt (beyond what was sent) gives no credit beyond buf_alloc.
        guest.send(FakeVsockGuest.header(.creditUpdate, guestPort: 40000, hostPort: 5000, bufferAllocation: 3,
                                         forwardCount: 1_000_000))
        guest.serveReady(turns: 10)
        XCTAssertTrue(guest.receivePackets().isEmpty, "tx_cnt - fwd_cnt wrapped: no credit")
        XCTAssertFalse(guest.driver.needsReset)
    }

    func testAGuestCreditRequestIsAnsweredWithOurCredit() throws {
        let guest = try FakeVsockGuest()
        guest.bringUp()
        let (listener, server) = try connect(guest, bufferAllocation: 65536)
        defer { close(listener); close(server) }
        guest.send(FakeVsockGuest.header(.creditRequest, guestPort: 40000, hostPort: 5000))
        let answer = guest.receivePackets()
        XCTAssertEqual(answer.map(\.op), [.creditUpdate])
        XCTAssertEqual(answer.first?.header.bufferAllocation, VsockLimits().bufferAllocation)
        XCTAssertEqual(answer.first?.header.forwardCount, 0)
    }

    func testForwardedBytesAreAdvertisedOnceHalfOurBufferIsSpoken() throws {
        var limits = VsockLimits()
        limits.bufferAllocation = 16
        let guest = try FakeVsockGuest(limits: limits)
        guest.bringUp()
        let (listener, server) = try connect(guest, bufferAllocation: 65536)
        defer { close(listener); close(server) }
        guest.send(FakeVsockGuest.header(.rw, guestPort: 40000, hostPort: 5000, length: 4), payload: [1, 2, 3, 4])
        XCTAssertTrue(guest.receivePackets().isEmpty, "4 of 16 bytes: no update needed yet")
        guest.send(FakeVsockGuest.header(.rw, guestPort: 40000, hostPort: 5000, length: 6), payload: [5, 6, 7, 8, 9, 10])
        let update = guest.receivePackets()
        XCTAssertEqual(update.map(\.op), [.creditUpdate])
        XCTAssertEqual(update.first?.header.forwardCount, 10)
        XCTAssertEqual(VsockTestHost.read(server, count: 10), Array(1...10))
    }

    func testAGuestSendingBeyondOurCreditLosesTheStreamAndNothingBeyondIsHeld() throws {
        var limits = VsockLimits()
        limits.bufferAllocation = 16
        let guest = try FakeVsockGuest(limits: limits)
        guest.bringUp()
        let (listener, server) = try connect(guest, bufferAllocation: 65536)
        defer { close(listener); close(server) }
        guest.send(FakeVsockGuest.header(.rw, guestPort: 40000, hostPort: 5000, length: 17),
                   payload: [UInt8](repeating: 7, count: 17))
        XCTAssertEqual(guest.receivePackets().map(\.op), [.rst])
        XCTAssertEqual(guest.device.connectionCount, 0)
        XCTAssertEqual(guest.device.bufferedToHost, 0)
        XCTAssertEqual(guest.device.counters.creditOverruns, 1)
        XCTAssertTrue(VsockTestHost.sawEndOfStream(server, guest: guest), "the host socket is closed, not fed")
    }

    /// With the host peer not reading, guest bytes pile up in lkvm only up to buf_alloc.
    func testBytesTheHostSocketCannotTakeAreHeldOnlyUpToOurBuffer() throws {
        var limits = VsockLimits()
        limits.bufferAllocation = 64 * 1024
        let guest = try FakeVsockGuest(limits: limits)
        guest.bringUp()
        let (listener, server) = try connect(guest, bufferAllocation: 65536)
        defer { close(listener); close(server) }
        let chunk = [UInt8](repeating: 0x5A, count: 4096)
        var reset = false
        for _ in 0..<512 where !reset {
            guest.send(FakeVsockGuest.header(.rw, guestPort: 40000, hostPort: 5000, length: chunk.count), payload: chunk)
            XCTAssertLessThanOrEqual(guest.device.bufferedToHost, Int(limits.bufferAllocation))
            reset = guest.receivePackets().contains { $0.op == .rst }
        }
        XCTAssertTrue(reset, "2 MiB into a socket nobody reads overruns a 64 KiB credit")
        XCTAssertEqual(guest.device.bufferedToHost, 0)
    }
}
