import Glibc
@testable import LKVMDevices
import XCTest

/// `-n mode=user[,hostfwd=...]` parsing.
final class SlirpOptionsTests: XCTestCase {
    func testUserModeWithAndWithoutForwards() throws {
        XCTAssertEqual(try NetOptions(parsing: "mode=user"), NetOptions(mode: .user(hostForwards: [])))
        XCTAssertEqual(try NetOptions(parsing: "mode=user,hostfwd=tcp:2222-:22,hostfwd=udp::5353-:53,mac=02:00:00:00:00:07"),
                       NetOptions(mode: .user(hostForwards: [HostForward(.tcp, hostPort: 2222, guestPort: 22),
                                                             HostForward(.udp, hostPort: 5353, guestPort: 53)]),
                                  mac: MACAddress(bytes: [2, 0, 0, 0, 0, 7])))
        XCTAssertEqual(try NetOptions(parsing: "hostfwd=tcp:8080-:80"),
                       NetOptions(mode: .user(hostForwards: [HostForward(.tcp, hostPort: 8080, guestPort: 80)])),
                       "hostfwd implies mode=user")
        XCTAssertEqual(HostForward(.tcp, hostPort: 2222, guestPort: 22).description, "tcp:2222-:22")
    }

    func testMistakesAreOneLineEach() {
        let usage = "expected tcp:HOSTPORT-:GUESTPORT"
        let port = "the host port must be a number from 1 to 65535"
        let guestPort = "the guest port must be a number from 1 to 65535"
        let cases: [(String, NetOptionsError)] = [
            ("mode=user,tapif=tap0", .notForMode(key: "tapif", mode: "user")),
            ("mode=tap,tapif=tap0,hostfwd=tcp:1-:2", .notForMode(key: "hostfwd", mode: "tap")),
            ("mode=user,hostfwd=", .badHostForward(text: "", reason: usage)),
            ("mode=user,hostfwd=tcp", .badHostForward(text: "tcp", reason: usage)),
            ("mode=user,hostfwd=tcp:2222", .badHostForward(text: "tcp:2222", reason: usage)),
            ("mode=user,hostfwd=sctp:1-:2", .badHostForward(text: "sctp:1-:2", reason: "the protocol must be tcp or udp")),
            ("mode=user,hostfwd=tcp:0-:22", .badHostForward(text: "tcp:0-:22", reason: port)),
            ("mode=user,hostfwd=tcp:65536-:22", .badHostForward(text: "tcp:65536-:22", reason: port)),
            ("mode=user,hostfwd=tcp:-1-:22", .badHostForward(text: "tcp:-1-:22", reason: port)),
            ("mode=user,hostfwd=tcp:22x-:22", .badHostForward(text: "tcp:22x-:22", reason: port)),
            ("mode=user,hostfwd=tcp:2222-:", .badHostForward(text: "tcp:2222-:", reason: guestPort)),
            ("mode=user,hostfwd=tcp:2222-:0", .badHostForward(text: "tcp:2222-:0", reason: guestPort)),
            ("mode=user,hostfwd=tcp:2222-:+22", .badHostForward(text: "tcp:2222-:+22", reason: guestPort)),
            ("mode=user,hostfwd=tcp:2222-22", .badHostForward(
                text: "tcp:2222-22", reason: "only the guest's own address can be forwarded to: write -:GUESTPORT")),
            ("mode=user,hostfwd=tcp:2222-10.0.2.16:22", .badHostForward(
                text: "tcp:2222-10.0.2.16:22", reason: "only the guest's own address can be forwarded to: write -:GUESTPORT")),
            ("mode=user,hostfwd=tcp:0.0.0.0:2222-:22", .badHostForward(
                text: "tcp:0.0.0.0:2222-:22", reason: "host addresses cannot be given: the host side is always 127.0.0.1")),
            ("mode=user,guest_mac=ff:ff:ff:ff:ff:ff", .badMAC("ff:ff:ff:ff:ff:ff")),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try NetOptions(parsing: text), text) { error in
                XCTAssertEqual(error as? NetOptionsError, expected, text)
                XCTAssertFalse("\(error)".contains("\n"), text)
            }
        }
        XCTAssertEqual(NetOptionsError.badHostForward(text: "tcp:0-:22", reason: port).description,
                       "hostfwd 'tcp:0-:22': the host port must be a number from 1 to 65535")
    }

    func testTheCatalogReportsATakenPortAsABadArgument() throws {
        let (listener, port) = try SlirpTestSockets.bound(listening: true)
        defer { close(listener) }
        let entry = try VirtioDeviceCatalog.entry(named: "net")
        XCTAssertThrowsError(try entry.make("mode=user,hostfwd=tcp:\(port)-:22")) { error in
            XCTAssertTrue("\(error)".hasPrefix("virtio net 'mode=user,hostfwd=tcp:\(port)-:22': hostfwd=tcp:\(port)-:22: "
                + "cannot listen on 127.0.0.1 port \(port)"), "\(error)")
        }
    }
}
