/// A mistake in a `-n` argument, as one line.
public enum NetOptionsError: Error, Equatable, CustomStringConvertible {
    case notKeyValue(String)
    case unknownKey(String)
    case repeatedKey(String)
    case unknownMode(String)
    case userModeUnavailable
    case missingTapInterface
    case badInterfaceName(String)
    case badMAC(String)

    public var description: String {
        switch self {
        case .notKeyValue(let part):
            "'\(part)' is not KEY=VALUE (mode=tap,tapif=NAME[,guest_mac=XX:XX:XX:XX:XX:XX])"
        case .unknownKey(let key):
            "unknown option '\(key)' (known: mode, tapif, guest_mac, mac)"
        case .repeatedKey(let key):
            "'\(key)' given twice (mac and guest_mac are the same option)"
        case .unknownMode(let mode):
            "unknown mode '\(mode)' (use mode=tap)"
        case .userModeUnavailable:
            "mode=user (libslirp) is not implemented yet; use mode=tap,tapif=NAME"
        case .missingTapInterface:
            "mode=tap needs tapif=NAME, the host TAP interface"
        case .badInterfaceName(let name):
            "tapif '\(name)' is not an interface name (1 to 15 bytes, no '/', ':' or white space, not . or ..)"
        case .badMAC(let text):
            "'\(text)' is not a unicast MAC address XX:XX:XX:XX:XX:XX (bit 0 of the first byte clear, not all zeros)"
        }
    }
}

/// What `-n/--network mode=tap,tapif=NAME[,guest_mac=XX:XX:XX:XX:XX:XX]`
/// (kvmtool's syntax; `mac=` is accepted for `guest_mac=`) asks for.
/// `tapif` alone implies `mode=tap`.
public struct NetOptions: Equatable, Sendable {
    public enum Mode: Equatable, Sendable {
        case tap(interface: String)
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
        for part in argument.split(separator: ",", omittingEmptySubsequences: true) {
            guard let equals = part.firstIndex(of: "=") else { throw .notKeyValue(String(part)) }
            var key = String(part[..<equals])
            let value = String(part[part.index(after: equals)...])
            if key == "mac" { key = "guest_mac" }
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
        switch values["mode"] ?? (values["tapif"] != nil ? "tap" : "") {
        case "tap":
            guard let name = values["tapif"], !name.isEmpty else { throw .missingTapInterface }
            guard Self.isInterfaceName(name) else { throw .badInterfaceName(name) }
            mode = .tap(interface: name)
        case "user":
            throw .userModeUnavailable
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
