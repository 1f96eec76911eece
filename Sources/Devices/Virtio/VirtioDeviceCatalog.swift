public enum VirtioCatalogError: Error, Equatable, CustomStringConvertible {
    case unknownDevice(String)
    case badArgument(device: String, argument: String, reason: String)

    public var description: String {
        switch self {
        case .unknownDevice(let name):
            "no virtio device is called \(name)"
        case .badArgument(let device, let argument, let reason):
            "virtio \(device) '\(argument)': \(reason)"
        }
    }
}

/// One kind of virtio device lkvm can build, by the name boards and options use.
public struct VirtioCatalogEntry: Sendable {
    public let name: String
    public let type: VirtioDeviceType
    public let summary: String
    /// Builds the device from the text its option carried, if any
    /// (`-d IMAGE,ro` would pass "IMAGE,ro").
    public let make: @Sendable (_ argument: String?) throws(VirtioCatalogError) -> any VirtioDevice
}

/// Every virtio device lkvm has. Adding one is its file plus a line here.
public enum VirtioDeviceCatalog {
    public static let entries: [VirtioCatalogEntry] = [
        VirtioCatalogEntry(name: "rng", type: .entropy, summary: "random bytes from the host's getrandom",
                           make: { argument throws(VirtioCatalogError) in
                               try noArgument("rng", argument)
                               return VirtioRNG()
                           }),
        VirtioBlock.catalogEntry,
        Virtio9P.catalogEntry,
        VirtioConsole.catalogEntry,
        VirtioNet.catalogEntry,
        VirtioVsock.catalogEntry,
        VirtioBalloon.catalogEntry,
    ]

    public static func entry(named name: String) throws(VirtioCatalogError) -> VirtioCatalogEntry {
        guard let entry = entries.first(where: { $0.name == name }) else { throw .unknownDevice(name) }
        return entry
    }

    /// For devices that take no argument.
    static func noArgument(_ device: String, _ argument: String?) throws(VirtioCatalogError) {
        guard let argument, !argument.isEmpty else { return }
        throw .badArgument(device: device, argument: argument, reason: "takes no argument")
    }
}
