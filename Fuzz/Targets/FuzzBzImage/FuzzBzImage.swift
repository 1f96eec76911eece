import FuzzSupport
import ArchX86
import LKVMCore

/// The x86 kernel loaders: the input as a bzImage (setup header, then the
/// payload loaded) or, when it starts with the ELF magic, as a vmlinux (its
/// program headers checked, its segments loaded), into 64 MiB of guest RAM.
let memory = try! GuestMemory(ranges: [GuestRange(start: GuestAddress(0), size: 64 << 20)!])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let file = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? SetupHeader(parsing: file)
    guard let kernel = try? X86Kernel(file) else { return 0 }
    if case .bzImage(let image) = kernel { _ = image.versionString }
    _ = kernel.header
    _ = try? kernel.load(into: memory)
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzBzImage_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
