import Glibc
import LKVMCore
@testable import LKVMDevices
import Synchronization
import XCTest

/// `TapBackend` on a real TAP interface, when the test may make one (root or
/// CAP_NET_ADMIN, and /dev/net/tun); skipped with the reason otherwise.
final class VirtioNetTapTests: XCTestCase {
    private static let interface = "lkvmtest0"

    private func openTap() throws -> TapBackend {
        do {
            return try TapBackend(name: Self.interface)
        } catch {
            throw XCTSkip("cannot make a TAP interface here: \(error)")
        }
    }

    func testOpeningTwiceIsAClearError() throws {
        let tap = try openTap()
        defer { tap.close() }
        XCTAssertEqual(tap.name, Self.interface)
        XCTAssertThrowsError(try TapBackend(name: Self.interface)) { error in
            XCTAssertEqual("\(error)", "TUNSETIFF lkvmtest0: Device or resource busy (another process has it open)")
        }
    }

    func testFramesCrossTheInterfaceBothWays() throws {
        let tap = try openTap()
        defer { tap.close() }
        try setUp(Self.interface)
        let received = Mutex<[[UInt8]]>([])
        try tap.start { packet in received.withLock { $0.append(packet) } }

        // Device to host: the interface's receive counter moves.
        let before = try rxPackets(Self.interface)
        try tap.send(zeroHeader + ethernetFrame(length: 60))
        XCTAssertEqual(try rxPackets(Self.interface), before + 1)

        // Host to device: with IPv6 on, bringing the interface up makes the
        // host send DAD, MLD and router solicitations through it (into our
        // descriptor only: a TAP has no wire). The test sends nothing itself.
        var waited = 0
        while received.withLock({ $0.isEmpty }), waited < 300 {
            usleep(10_000)
            waited += 1
        }
        let packets = received.withLock { $0 }
        if packets.isEmpty {
            print("VirtioNetTapTests: the host sent nothing through \(Self.interface) in 3 s (IPv6 off?); "
                  + "host-to-device direction not tested")
            return
        }
        let packet = try XCTUnwrap(packets.first, "no packet from the host within 3 s")
        XCTAssertGreaterThanOrEqual(packet.count, 12 + 14)
        XCTAssertEqual(packet[0] & 1, 0, "no partial checksum with offloads off")
        XCTAssertEqual(packet[1], 0, "no GSO")
        XCTAssertEqual(Array(packet[12..<14]), [0x33, 0x33], "an IPv6 multicast destination")
    }

    /// ip link set NAME up, through SIOCGIFFLAGS/SIOCSIFFLAGS.
    private func setUp(_ name: String) throws {
        let socketDescriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard socketDescriptor >= 0 else { throw XCTSkip("no AF_INET socket: errno \(errno)") }
        defer { close(socketDescriptor) }
        var request = [UInt8](repeating: 0, count: 40)
        request.replaceSubrange(0..<name.utf8.count, with: Array(name.utf8))
        let getFlags: UInt = 0x8913, setFlags: UInt = 0x8914  // SIOCGIFFLAGS, SIOCSIFFLAGS
        XCTAssertEqual(request.withUnsafeMutableBytes { ioctl(socketDescriptor, getFlags, $0.baseAddress!) }, 0)
        request[16] |= 1  // IFF_UP
        XCTAssertEqual(request.withUnsafeMutableBytes { ioctl(socketDescriptor, setFlags, $0.baseAddress!) }, 0)
    }

    private func rxPackets(_ name: String) throws -> Int {
        let path = "/sys/class/net/\(name)/statistics/rx_packets"
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw XCTSkip("cannot read \(path)") }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        let text = String(decoding: buffer[..<max(count, 0)], as: UTF8.self)
        return Int(text.filter(\.isNumber)) ?? -1
    }
}
