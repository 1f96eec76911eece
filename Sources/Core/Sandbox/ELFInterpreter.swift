/// Reads just enough of an ELF file to tell whether it is dynamically
/// linked: a PT_INTERP program header names the loader it needs, which a
/// busybox copied into an initramfs would not find.
public enum ELFInterpreter {
    public enum CheckError: Error, Equatable, CustomStringConvertible {
        case notELF
        case truncated

        public var description: String {
            switch self {
            case .notELF: "not an ELF executable"
            case .truncated: "a truncated ELF file"
            }
        }
    }

    static let programInterpreter: UInt32 = 3

    /// True when the file has a PT_INTERP header (ELF32 or ELF64, either byte order).
    public static func needsInterpreter(_ file: [UInt8]) throws(CheckError) -> Bool {
        guard file.count >= 52, file[0] == 0x7F, file[1] == UInt8(ascii: "E"), file[2] == UInt8(ascii: "L"),
              file[3] == UInt8(ascii: "F"), file[4] == 1 || file[4] == 2, file[5] == 1 || file[5] == 2 else {
            throw .notELF
        }
        let is64 = file[4] == 2, littleEndian = file[5] == 1
        func read(_ offset: Int, _ size: Int) throws(CheckError) -> UInt64 {
            guard offset >= 0, size <= 8, offset <= file.count - size else { throw .truncated }
            var value: UInt64 = 0
            for index in 0..<size {
                let byte = UInt64(file[offset + (littleEndian ? size - 1 - index : index)])
                value = value << 8 | byte
            }
            return value
        }
        let tableOffset = try read(is64 ? 0x20 : 0x1C, is64 ? 8 : 4)
        let entrySize = try read(is64 ? 0x36 : 0x2A, 2)
        let count = try read(is64 ? 0x38 : 0x2C, 2)
        guard tableOffset < UInt64(file.count), entrySize >= 4 else { throw .truncated }
        for index in 0..<count {
            let entry = tableOffset + index * entrySize
            guard entry < UInt64(file.count) else { throw .truncated }
            if try read(Int(entry), 4) == UInt64(programInterpreter) { return true }
        }
        return false
    }
}
