/// `--vsock CID[,socket=PATH]`: the guest's context ID and the host socket.
public struct VsockOptions: Equatable, Sendable {
    public let guestCID: UInt64
    /// nil: the caller's default (the run directory's `NAME.vsock`).
    public let socketPath: String?

    public init(guestCID: UInt64, socketPath: String?) {
        self.guestCID = guestCID
        self.socketPath = socketPath
    }

    /// Parses the option's text; the error says what is wrong with it.
    public init(parsing text: String) throws(VirtioCatalogError) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        func bad(_ reason: String) -> VirtioCatalogError { .badArgument(device: "vsock", argument: text, reason: reason) }
        guard let first = parts.first, let cid = UInt64(first) else { throw bad("the first field must be the guest's CID (a number)") }
        guard cid >= VsockCID.firstGuest, cid < VsockCID.reserved else {
            throw bad("CID \(cid) is reserved: use 3 to 4294967294")
        }
        var socketPath: String?
        for part in parts.dropFirst() {
            guard part.hasPrefix("socket="), socketPath == nil else { throw bad("unknown or repeated setting '\(part)' (only socket=PATH)") }
            let path = String(part.dropFirst("socket=".count))
            guard !path.isEmpty else { throw bad("socket= needs a path") }
            socketPath = path
        }
        self.init(guestCID: cid, socketPath: socketPath)
    }

    /// The option text again, with the socket path filled in.
    public func text(socketPath path: String) -> String { "\(guestCID),socket=\(socketPath ?? path)" }
}
