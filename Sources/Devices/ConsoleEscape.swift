/// kvmtool's console escape: Ctrl-A then `x` quits lkvm; Ctrl-A Ctrl-A sends
/// one Ctrl-A to the guest; Ctrl-A then anything else sends both bytes.
public struct ConsoleEscape: Sendable {
    public static let prefix: UInt8 = 0x01  // Ctrl-A
    private var pendingPrefix = false

    public init() {}

    public enum Result: Equatable, Sendable {
        /// Bytes for the guest.
        case forward([UInt8])
        /// The user asked to quit; bytes before the escape still go to the guest.
        case quit(forwardFirst: [UInt8])
    }

    public mutating func filter(_ input: [UInt8]) -> Result {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        for byte in input {
            if pendingPrefix {
                pendingPrefix = false
                switch byte {
                case UInt8(ascii: "x"), UInt8(ascii: "X"): return .quit(forwardFirst: out)
                case Self.prefix: out.append(Self.prefix)
                default: out += [Self.prefix, byte]
                }
            } else if byte == Self.prefix {
                pendingPrefix = true
            } else {
                out.append(byte)
            }
        }
        return .forward(out)
    }
}
