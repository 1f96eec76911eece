/// A minimal bzImage: the boot-protocol header lkvm checks and a payload
/// whose 64-bit entry (payload + 0x200) runs `code`. Lets the whole `lkvm run`
/// path (loader, zero page, long mode, devices, lifecycle) be tested on a host
/// that cannot boot Linux. scripts/tiny-bzimage.py writes the same layout.
public enum TinyBzImage {
    public static func build(code: [UInt8]) -> [UInt8] {
        var payload = [UInt8](repeating: 0, count: 0x200) + code
        payload += [UInt8](repeating: 0, count: (16 - payload.count % 16) % 16)
        var image = [UInt8](repeating: 0, count: 1024)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { image.replaceSubrange(offset..<offset + $0.count, with: $0) }
        }
        image[0x1F1] = 1                                 // setup_sects
        image[0x200] = 0xEB; image[0x201] = 0x66         // jmp over the header: its length
        put(UInt32(payload.count / 16), at: 0x1F4)       // syssize
        put(UInt16(0xAA55), at: 0x1FE)                   // boot_flag
        image.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
        put(UInt16(0x020F), at: 0x206)                   // protocol 2.15
        image[0x211] = 0x01                              // LOADED_HIGH
        put(UInt32(0x7FFF_FFFF), at: 0x22C)              // initrd_addr_max
        put(UInt32(0x20_0000), at: 0x230)                // kernel_alignment
        image[0x234] = 1                                 // relocatable
        put(UInt16(0x0001), at: 0x236)                   // XLF_KERNEL_64
        put(UInt32(2047), at: 0x238)                     // cmdline_size
        put(UInt64(0x100_0000), at: 0x258)               // pref_address
        put(UInt32(0x10_0000), at: 0x260)                // init_size
        return image + payload
    }
}

/// 64-bit hand assembly for the tiny kernels.
public enum Asm64 {
    /// out 0x80, eax (32-bit port write of eax)
    public static let outEAXTo80: [UInt8] = [0xE7, 0x80]
    /// mov eax, esi
    public static let movEAXESI: [UInt8] = [0x89, 0xF0]
    /// mov eax, [rsi + disp32]
    public static func movEAXFromRSI(_ displacement: UInt32) -> [UInt8] {
        [0x8B, 0x86] + withUnsafeBytes(of: displacement.littleEndian) { Array($0) }
    }
    /// mov al, 0xfe; out 0x64, al: the i8042 reset lkvm turns into a clean exit.
    public static let resetThroughI8042: [UInt8] = [0xB0, 0xFE, 0xE6, 0x64]
    public static let hltLoop: [UInt8] = [0xF4, 0xEB, 0xFD]
    /// ud2: an undefined instruction with no IDT: the guest triple-faults.
    public static let ud2: [UInt8] = [0x0F, 0x0B]
    /// jmp $: spin forever without exits.
    public static let spin: [UInt8] = [0xEB, 0xFE]
}
