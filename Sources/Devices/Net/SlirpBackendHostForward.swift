/// One `hostfwd=` item of `-n mode=user`: connections to a port on the
/// host's loopback address (127.0.0.1) are forwarded by libslirp to a port
/// of the guest's DHCP address (10.0.2.15).
///
/// Syntax, QEMU's without addresses: `tcp:HOSTPORT-:GUESTPORT` (also
/// `tcp::HOSTPORT-:GUESTPORT`, and `udp:` for datagrams).
public struct HostForward: Equatable, Sendable, CustomStringConvertible {
    public enum Transport: String, Equatable, Sendable {
        case tcp, udp
    }

    public var transport: Transport
    public var hostPort: UInt16
    public var guestPort: UInt16

    public init(_ transport: Transport, hostPort: UInt16, guestPort: UInt16) {
        self.transport = transport
        self.hostPort = hostPort
        self.guestPort = guestPort
    }

    public init(parsing text: String) throws(NetOptionsError) {
        func bad(_ reason: String) -> NetOptionsError { .badHostForward(text: text, reason: reason) }
        guard let colon = text.firstIndex(of: ":") else { throw bad("expected tcp:HOSTPORT-:GUESTPORT") }
        guard let transport = Transport(rawValue: String(text[..<colon])) else {
            throw bad("the protocol must be tcp or udp")
        }
        var rest = text[text.index(after: colon)...]
        if rest.first == ":" { rest = rest.dropFirst() }  // QEMU's empty host address
        guard let dash = rest.lastIndex(of: "-") else { throw bad("expected tcp:HOSTPORT-:GUESTPORT") }
        let sides = [rest[..<dash], rest[rest.index(after: dash)...]]
        guard sides[1].first == ":" else {
            throw bad("only the guest's own address can be forwarded to: write -:GUESTPORT")
        }
        guard let hostPort = Self.port(sides[0]) else {
            throw bad(sides[0].contains(":") || sides[0].contains(".")
                ? "host addresses cannot be given: the host side is always 127.0.0.1"
                : "the host port must be a number from 1 to 65535")
        }
        guard let guestPort = Self.port(sides[1].dropFirst()) else {
            throw bad("the guest port must be a number from 1 to 65535")
        }
        self.init(transport, hostPort: hostPort, guestPort: guestPort)
    }

    public var description: String { "\(transport.rawValue):\(hostPort)-:\(guestPort)" }

    private static func port(_ text: Substring) -> UInt16? {
        guard (1...5).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              let port = UInt16(text), port != 0 else { return nil }
        return port
    }
}
