import FuzzSupport
import ArchX86
import LKVMCore

/// The bzImage loader: the setup header parsed from the input, then the
/// payload loaded into 64 MiB of guest RAM.
let memory = try! GuestMemory(ranges: [GuestRange(start: GuestAddress(0), size: 64 << 20)!])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let file = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? SetupHeader(parsing: file)
    guard let image = try? BzImage(file) else { return 0 }
    _ = image.versionString
    _ = try? image.load(into: memory)
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzBzImage_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
