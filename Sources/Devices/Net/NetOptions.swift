/// A mistake in a `-n` argument, as one line.
public enum NetOptionsError: Error, Equatable, CustomStringConvertible {
    case notKeyValue(String)
    case unknownKey(String)
    case repeatedKey(String)
    case unknownMode(String)
    case missingTapInterface
    case notForMode(key: String, mode: String)
    case badHostForward(text: String, reason: String)
    case badInterfaceName(String)
    case badMAC(String)

    public var description: String {
        switch self {
        case .notKeyValue(let part):
            "'\(part)' is not KEY=VALUE (mode=tap,tapif=NAME or mode=user[,hostfwd=tcp:HOSTPORT-:GUESTPORT]..., "
                + "then [,guest_mac=XX:XX:XX:XX:XX:XX])"
        case .unknownKey(let key):
            "unknown option '\(key)' (known: mode, tapif, hostfwd, guest_mac, mac)"
        case .repeatedKey(let key):
            "'\(key)' given twice (mac and guest_mac are the same option)"
        case .unknownMode(let mode):
            "unknown mode '\(mode)' (use mode=tap or mode=user)"
        case .notForMode(let key, let mode):
            "'\(key)' does not apply to mode=\(mode)"
        case .badHostForward(let text, let reason):
            "hostfwd '\(text)': \(reason)"
        case .missingTapInterface:
            "mode=tap needs tapif=NAME, the host TAP interface"
        case .badInterfaceName(let name):
            "tapif '\(name)' is not an interface name (1 to 15 bytes, no '/', ':' or white space, not . or ..)"
        case .badMAC(let text):
            "'\(text)' is not a unicast MAC address XX:XX:XX:XX:XX:XX (bit 0 of the first byte clear, not all zeros)"
        }
    }
}

/// What `-n/--network mode=tap,tapif=NAME[,guest_mac=XX:XX:XX:XX:XX:XX]` or
/// `-n mode=user[,hostfwd=tcp:HOSTPORT-:GUESTPORT]...[,guest_mac=...]`
/// (kvmtool's syntax; `mac=` is accepted for `guest_mac=`; `hostfwd` is
/// QEMU's, repeatable) asks for. `tapif` alone implies `mode=tap`, `hostfwd`
/// alone `mode=user`.
public struct NetOptions: Equatable, Sendable {
    public enum Mode: Equatable, Sendable {
        case tap(interface: String)
        /// libslirp; host ports on 127.0.0.1 forwarded to the guest.
        case user(hostForwards: [HostForward])
    }

    public var mode: Mode
    /// nil: derived from the backend (`MACAddress.derived(from:)`).
    public var mac: MACAddress?

    public init(mode: Mode, mac: MACAddress? = nil) {
        self.mode = mode
        self.mac = mac
    }

    public init(parsing argument: String) throws(NetOptionsError) {
        var values: [String: String] = [:]
        var hostForwards: [HostForward] = []
        for part in argument.split(separator: ",", omittingEmptySubsequences: true) {
            guard let equals = part.firstIndex(of: "=") else { throw .notKeyValue(String(part)) }
            var key = String(part[..<equals])
            let value = String(part[part.index(after: equals)...])
            if key == "mac" { key = "guest_mac" }
            if key == "hostfwd" {
                hostForwards.append(try HostForward(parsing: value))
                continue
            }
            guard ["mode", "tapif", "guest_mac"].contains(key) else { throw .unknownKey(key) }
            guard values[key] == nil else { throw .repeatedKey(key) }
            values[key] = value
        }
        if let text = values["guest_mac"] {
            guard let mac = MACAddress(parsing: text) else { throw .badMAC(text) }
            self.mac = mac
        } else {
            mac = nil
        }
        switch values["mode"] ?? (values["tapif"] != nil ? "tap" : hostForwards.isEmpty ? "" : "user") {
        case "tap":
            guard hostForwards.isEmpty else { throw .notForMode(key: "hostfwd", mode: "tap") }
            guard let name = values["tapif"], !name.isEmpty else { throw .missingTapInterface }
            guard Self.isInterfaceName(name) else { throw .badInterfaceName(name) }
            mode = .tap(interface: name)
        case "user":
            guard values["tapif"] == nil else { throw .notForMode(key: "tapif", mode: "user") }
            mode = .user(hostForwards: hostForwards)
        case "":
            throw .missingTapInterface
        case let other:
            throw .unknownMode(other)
        }
    }

    /// The kernel's dev_valid_name: 1 to IFNAMSIZ-1 (15) bytes, not "." or
    /// "..", no '/', ':' or white space. lkvm also refuses '%' (the kernel
    /// would pick a number for "%d") and control bytes.
    static func isInterfaceName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...15).contains(bytes.count), name != ".", name != ".." else { return false }
        return bytes.allSatisfy { $0 > 0x20 && $0 != 0x7F && !"/:%".utf8.contains($0) }
    }
}
