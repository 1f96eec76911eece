import Glibc

public enum EntropyError: Error, Equatable, CustomStringConvertible {
    case hostFailed(errno: Int32)

    public var description: String {
        switch self {
        case .hostFailed(let errno): "the host's getrandom failed with errno \(errno)"
        }
    }
}

/// Where random bytes come from; tests substitute a predictable source.
public protocol EntropySource: Sendable {
    func randomBytes(_ count: Int) throws(EntropyError) -> [UInt8]
}

/// The host kernel's random pool through getrandom(2). The Glibc module does
/// not export getrandom itself, so this calls glibc's getentropy, which is
/// getrandom(2) with no flags in pieces of at most 256 bytes: all or nothing,
/// never a short read, blocking only until the pool is first initialised.
public struct HostEntropy: EntropySource {
    static let maxBytesPerCall = 256

    public init() {}

    public func randomBytes(_ count: Int) throws(EntropyError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: max(count, 0))
        var filled = 0
        while filled < bytes.count {
            let piece = min(Self.maxBytesPerCall, bytes.count - filled)
            let error: Int32 = bytes.withUnsafeMutableBytes { buffer in
                // SAFETY: [filled, filled + piece) lies inside the array's own
                // buffer, which outlives the call.
                getentropy(buffer.baseAddress! + filled, piece) == 0 ? 0 : errno
            }
            if error == 0 {
                filled += piece
            } else if error != EINTR {
                throw .hostFailed(errno: error)
            }
        }
        return bytes
    }
}
