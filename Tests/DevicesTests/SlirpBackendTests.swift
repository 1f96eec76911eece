import Glibc
@testable import LKVMDevices
import Synchronization
import XCTest

/// `SlirpBackend` on its own, no VM: frames in and out as a guest would see
/// them. Traffic stays on this machine (libslirp's virtual network and
/// 127.0.0.1).
final class SlirpBackendTests: XCTestCase {
    /// A guest side that records libslirp's frames and answers its ARP
    /// questions for 10.0.2.15.
    private final class FakeGuest: Sendable {
        let backend: SlirpBackend
        private let received = Mutex<[[UInt8]]>([])

        init(_ backend: SlirpBackend) throws {
            self.backend = backend
            try backend.start { [weak self] packet in self?.received.withLock { $0.append(packet) } }
        }

        func send(_ frame: [UInt8]) throws { try backend.send(SlirpTestFrames.vnetHeader + frame) }

        /// The first frame (without its vnet header) for which `match` is
        /// true, within `seconds`; nil if none came.
        func waitForFrame(seconds: Double = 10, _ match: ([UInt8]) -> Bool) throws -> [UInt8]? {
            let deadline = SlirpBackendStack.monotonicNanoseconds() + Int64(seconds * 1e9)
            while SlirpBackendStack.monotonicNanoseconds() < deadline {
                let packets = received.withLock { packets in
                    defer { packets.removeAll() }
                    return packets
                }
                for packet in packets {
                    XCTAssertEqual(Array(packet.prefix(12)), SlirpTestFrames.vnetHeader, "a zero vnet header first")
                    let frame = Array(packet.dropFirst(12))
                    if let reply = SlirpTestFrames.arpReply(to: frame) { try send(reply) }
                    if match(frame) { return frame }
                }
                usleep(10_000)
            }
            return nil
        }
    }

    func testDHCPDiscoverGetsAnOfferOf10_0_2_15() throws {
        let backend = try SlirpBackend()
        defer { backend.close() }
        XCTAssertEqual(backend.name, "user")
        let guest = try FakeGuest(backend)
        try guest.send(SlirpTestFrames.dhcpDiscover(transaction: 0x1234_5678))
        let offer = try guest.waitForFrame { SlirpTestFrames.dhcpReply($0) != nil }
        let reply = try XCTUnwrap(offer.flatMap(SlirpTestFrames.dhcpReply), "no DHCP reply from libslirp")
        XCTAssertEqual(reply.offered, [10, 0, 2, 15])
        XCTAssertEqual(reply.messageType, 2, "DHCPOFFER")
    }

    func testTheGatewayAnswersPing() throws {
        let backend = try SlirpBackend()
        defer { backend.close() }
        let guest = try FakeGuest(backend)
        try guest.send(SlirpTestFrames.echoRequestToGateway(sequence: 7))
        let reply = try guest.waitForFrame { SlirpTestFrames.echoReply($0) != nil }
        let echo = try XCTUnwrap(reply.flatMap(SlirpTestFrames.echoReply), "no echo reply from 10.0.2.2")
        XCTAssertEqual(echo.source, [10, 0, 2, 2])
        XCTAssertEqual(echo.sequence, 7)
    }

    func testAConnectionToAForwardedHostPortReachesTheGuestAsASyn() throws {
        let port = try SlirpTestSockets.freePort()
        let backend = try SlirpBackend(hostForwards: [HostForward(.tcp, hostPort: port, guestPort: 80)])
        defer { backend.close() }
        let guest = try FakeGuest(backend)
        let connection = try SlirpTestSockets.connect(port: port)
        defer { close(connection) }
        let syn = try guest.waitForFrame { frame in
            guard let segment = SlirpTestFrames.tcpSegment(frame) else { return false }
            return segment.isSyn
        }
        let segment = try XCTUnwrap(syn.flatMap(SlirpTestFrames.tcpSegment), "no SYN towards the guest")
        XCTAssertEqual(segment.destination, [10, 0, 2, 15])
        XCTAssertEqual(segment.port, 80)
    }

    func testLibslirpIsLoadedOnDemandAndAMissingOneIsAOneLineError() throws {
        XCTAssertNoThrow(try SlirpLibrary.shared.get(), "libslirp0 is installed with libslirp-dev")
        guard case .failure(let error) = SlirpLibrary.load("libslirp-absent.so.9") else {
            return XCTFail("a library that is not there loaded")
        }
        let text = error.description
        XCTAssertTrue(text.hasPrefix("user network: cannot load libslirp (apt-get install libslirp0): "), text)
        XCTAssertTrue(text.contains("libslirp-absent.so.9"), text)
        XCTAssertFalse(text.contains("\n"), text)
    }

    func testATakenHostPortIsAOneLineErrorNamingIt() throws {
        let (listener, port) = try SlirpTestSockets.bound(listening: true)
        defer { close(listener) }
        let forward = HostForward(.tcp, hostPort: port, guestPort: 22)
        XCTAssertThrowsError(try SlirpBackend(hostForwards: [forward])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("hostfwd=tcp:\(port)-:22: cannot listen on 127.0.0.1 port \(port)"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
    }

    func testTheHostPortIsFreedByClose() throws {
        let port = try SlirpTestSockets.freePort()
        let forward = HostForward(.tcp, hostPort: port, guestPort: 22)
        let first = try SlirpBackend(hostForwards: [forward])
        try first.start { _ in }
        first.close()
        let second = try SlirpBackend(hostForwards: [forward])
        second.close()
        // Never started: close alone releases it too.
        XCTAssertNoThrow(try SlirpBackend(hostForwards: [forward]).close())
    }

    func testCloseIsIdempotentAndSendAfterItThrows() throws {
        let backend = try SlirpBackend()
        try backend.start { _ in }
        backend.close()
        backend.close()
        XCTAssertThrowsError(try backend.send(SlirpTestFrames.vnetHeader + SlirpTestFrames.dhcpDiscover(transaction: 1))) {
            XCTAssertEqual($0 as? NetBackendError, .closed(interface: "user"))
        }
        XCTAssertThrowsError(try backend.start { _ in })
    }

    func testTheCatalogBuildsAUserModeCard() throws {
        let entry = try VirtioDeviceCatalog.entry(named: "net")
        let device = try entry.make("mode=user")
        XCTAssertEqual(device.deviceType, .network)
    }

    func testTimersFireOnceWhenDueAndMayRearm() {
        let timers = SlirpTimerList()
        let fired = Mutex(0)
        var identifier: UInt = 0
        identifier = timers.add { [timers] in
            fired.withLock { $0 += 1 }
            timers.arm(identifier, deadline: 200)
        }
        XCTAssertNotEqual(identifier, 0)
        XCTAssertNil(timers.millisecondsUntilNext(now: 0))
        timers.arm(identifier, deadline: 100)
        XCTAssertEqual(timers.millisecondsUntilNext(now: 40), 60)
        timers.fireExpired(now: 99)
        XCTAssertEqual(fired.withLock { $0 }, 0)
        timers.fireExpired(now: 100)
        XCTAssertEqual(fired.withLock { $0 }, 1)
        XCTAssertEqual(timers.millisecondsUntilNext(now: 150), 50, "re-armed by its own callback")
        timers.remove(identifier)
        timers.fireExpired(now: 1000)
        XCTAssertEqual(fired.withLock { $0 }, 1)
        XCTAssertEqual(timers.count, 0)
    }
}
