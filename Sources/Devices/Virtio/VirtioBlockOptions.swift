/// What `-d IMAGE[,ro][,direct]` (kvmtool's syntax) asks for. The text is
/// split at commas: the first part is the image path (so a path cannot
/// contain a comma), the rest are flags.
public struct VirtioBlockOptions: Equatable, Sendable {
    public var path: String
    public var readOnly = false
    public var direct = false

    public init(path: String, readOnly: Bool = false, direct: Bool = false) {
        self.path = path
        self.readOnly = readOnly
        self.direct = direct
    }

    public init(parsing argument: String?) throws(VirtioCatalogError) {
        let text = argument ?? ""
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let path = parts.first, !path.isEmpty else {
            throw .badArgument(device: "blk", argument: text, reason: "needs an image file: IMAGE[,ro][,direct]")
        }
        self.path = path
        for flag in parts.dropFirst() {
            switch flag {
            case "ro": readOnly = true
            case "direct": direct = true
            default:
                throw .badArgument(device: "blk", argument: text,
                                   reason: "unknown option '\(flag)' (IMAGE[,ro][,direct])")
            }
        }
    }
}

extension VirtioBlock {
    /// The catalog's "blk": the image is opened here, so a missing or
    /// unreadable file fails before the guest starts.
    public static let catalogEntry = VirtioCatalogEntry(
        name: "blk", type: .block, summary: "a disk backed by a raw image file: IMAGE[,ro][,direct]",
        make: { argument throws(VirtioCatalogError) in
            let options = try VirtioBlockOptions(parsing: argument)
            do throws(BlockImageError) {
                return try VirtioBlock(path: options.path, readOnly: options.readOnly, direct: options.direct)
            } catch {
                throw .badArgument(device: "blk", argument: argument ?? "", reason: error.description)
            }
        })
}
