@testable import LKVMDevices
import Glibc
import XCTest

/// `-n mode=tap,tapif=NAME[,guest_mac=...]` parsing and MAC addresses.
final class VirtioNetOptionsTests: XCTestCase {
    func testTapWithAndWithoutAMAC() throws {
        XCTAssertEqual(try NetOptions(parsing: "mode=tap,tapif=tap0"), NetOptions(mode: .tap(interface: "tap0")))
        let mac = MACAddress(bytes: [0x02, 0x15, 0x15, 0x15, 0x15, 0xAB])
        XCTAssertEqual(try NetOptions(parsing: "mode=tap,tapif=tap1,guest_mac=02:15:15:15:15:ab"),
                       NetOptions(mode: .tap(interface: "tap1"), mac: mac))
        XCTAssertEqual(try NetOptions(parsing: "tapif=tap1,mac=02:15:15:15:15:AB"),
                       NetOptions(mode: .tap(interface: "tap1"), mac: mac), "tapif implies tap; mac= too")
    }

    func testMistakesAreOneLineEach() {
        let cases: [(String, NetOptionsError)] = [
            ("mode=bridge,tapif=tap0", .unknownMode("bridge")),
            ("mode=tap", .missingTapInterface),
            ("mode=tap,tapif=", .missingTapInterface),
            ("", .missingTapInterface),
            ("mode=tap,tapif=tap0,script=no", .unknownKey("script")),
            ("mode=tap,tapif=tap0,guest_mac=02:00:00:00:00:01,mac=02:00:00:00:00:02", .repeatedKey("guest_mac")),
            ("tap0", .notKeyValue("tap0")),
            ("tapif=a/b", .badInterfaceName("a/b")),
            ("tapif=averyveryverylongname", .badInterfaceName("averyveryverylongname")),
            ("tapif=tap%d", .badInterfaceName("tap%d")),
            ("tapif=..", .badInterfaceName("..")),
            ("tapif=tap0,mac=01:00:5e:00:00:01", .badMAC("01:00:5e:00:00:01")),
            ("tapif=tap0,mac=00:00:00:00:00:00", .badMAC("00:00:00:00:00:00")),
            ("tapif=tap0,mac=52:54:00:12:34", .badMAC("52:54:00:12:34")),
            ("tapif=tap0,mac=52:54:00:12:34:5g", .badMAC("52:54:00:12:34:5g")),
            ("tapif=tap0,mac=52:54:00:12:34:567", .badMAC("52:54:00:12:34:567")),
            ("tapif=tap0,mac=+2:54:00:12:34:56", .badMAC("+2:54:00:12:34:56")),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try NetOptions(parsing: text), text) { error in
                XCTAssertEqual(error as? NetOptionsError, expected, text)
                XCTAssertFalse("\(error)".contains("\n"), text)
            }
        }
    }

    func testMACText() throws {
        XCTAssertEqual(try XCTUnwrap(MACAddress(parsing: "52:54:00:0A:0b:0c")).description, "52:54:00:0a:0b:0c")
        XCTAssertNil(MACAddress(bytes: [1, 2, 3]))
    }

    func testBackendErrorsNameTheInterfaceAndTheErrno() {
        XCTAssertEqual(NetBackendError.ioctlFailed(request: "TUNSETIFF", interface: "tap0", errno: EPERM).description,
                       "TUNSETIFF tap0: Operation not permitted (need CAP_NET_ADMIN, or a tap made for this user: "
                           + "ip tuntap add NAME mode tap user USER)")
        XCTAssertEqual(NetBackendError.cannotOpen(path: "/dev/net/tun", errno: ENOENT).description,
                       "cannot open /dev/net/tun: No such file or directory (load the tun module: modprobe tun)")
    }
}
