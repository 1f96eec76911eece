extension SetupHeader {
    /// The kernel's release ("6.1.0-57-amd64"): the setup header's
    /// kernel_version field (0x20E) points at a NUL-terminated string in the
    /// setup code, 0x200 bytes before where the pointer counts from
    /// (Documentation/arch/x86/boot.rst); its first word is the release.
    /// Nil when the file is not a bzImage or carries no version.
    public static func kernelRelease(of file: [UInt8]) -> String? {
        guard file.count >= kernelVersionOffset + 2,
              LittleEndian.u32(file, magicOffset) == magic else { return nil }
        let pointer = Int(LittleEndian.u16(file, kernelVersionOffset))
        guard pointer != 0 else { return nil }
        let start = pointer + 0x200
        guard start < file.count else { return nil }
        let text = file[start..<min(file.count, start + 256)].prefix(while: { $0 != 0 && $0 != UInt8(ascii: " ") })
        guard !text.isEmpty, text.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return String(decoding: text, as: UTF8.self)
    }
}
