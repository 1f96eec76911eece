public enum VirtioTraceSelectionError: Error, Equatable, CustomStringConvertible {
    case unknownDevice(String, known: [String])
    case emptyName

    public var description: String {
        switch self {
        case .unknownDevice(let name, let known):
            "no virtio device is called '\(name)' (trace \(known.joined(separator: ", ")) or all)"
        case .emptyName:
            "an empty device name in the list (give names separated by commas, or all)"
        }
    }
}

/// Which devices to trace, as `--trace-virtio LIST` gives them: `all`, or
/// catalog names separated by commas (`blk,rng`).
public struct VirtioTraceSelection: Equatable, Sendable {
    /// nil: every device.
    public let names: Set<String>?

    public static let all = VirtioTraceSelection(names: nil)

    private init(names: Set<String>?) {
        self.names = names
    }

    /// Accepts `all` or names from `VirtioDeviceCatalog.entries`; spaces
    /// around names are ignored.
    public init(parsing list: String) throws(VirtioTraceSelectionError) {
        let items = list.split(separator: ",", omittingEmptySubsequences: false).map(Self.trimmed)
        if items == ["all"] {
            self = .all
            return
        }
        let known = VirtioDeviceCatalog.entries.map(\.name)
        var names: Set<String> = []
        for item in items {
            guard !item.isEmpty else { throw .emptyName }
            guard known.contains(item) else { throw .unknownDevice(item, known: known) }
            names.insert(item)
        }
        self.names = names
    }

    private static func trimmed(_ text: Substring) -> String {
        String(text.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }

    public func includes(_ device: any VirtioDevice) -> Bool {
        guard let names else { return true }
        return Self.catalogName(of: device).map(names.contains) ?? false
    }

    /// A tracer for `device` if the selection includes it, else nil: what to
    /// pass as the transport's `tracer`.
    public func tracer(for device: any VirtioDevice, transportName: String,
                       sink: @escaping @Sendable (String) -> Void) -> VirtioTracer? {
        guard includes(device) else { return nil }
        return VirtioTracer(transportName: transportName, device: device, sink: sink)
    }

    /// The catalog's name for the device's type (`blk`, `rng`), if it has one.
    static func catalogName(of device: any VirtioDevice) -> String? {
        let type = device.deviceType
        return VirtioDeviceCatalog.entries.first { $0.type == type }?.name
    }
}
