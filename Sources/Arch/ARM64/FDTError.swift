/// A libfdt call failed while building or reading a device tree.
public enum FDTError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `call` returned libfdt error `code` (negative FDT_ERR_*), explained by `reason`.
    case libfdt(call: String, code: Int32, reason: String)
    /// The tree outgrew the space arm64 kernels accept.
    case tooLarge(limit: Int)

    public var description: String {
        switch self {
        case .libfdt(let call, let code, let reason):
            "device tree: \(call) failed: \(reason) (libfdt error \(code))"
        case .tooLarge(let limit):
            "device tree: larger than \(limit) bytes, the most an arm64 kernel accepts"
        }
    }
}
