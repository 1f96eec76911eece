import FuzzSupport
import ArchARM64
import LKVMCore

/// The arm64 Image loader: the header parsed from the input, the boot layout
/// worked out in a 64 MiB bank at 1 GiB, and the Image copied there.
let bank = GuestRange(start: GuestAddress(0x4000_0000), size: 64 << 20)!
let memory = try! GuestMemory(ranges: [bank])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzARM64Image(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let file = Array(UnsafeBufferPointer(start: data, count: size))
    guard let image = try? ARM64Image(file) else { return 0 }
    let initrd = size > 0 ? UInt64(data[size - 1]) << 12 : nil
    guard let layout = try? ARM64BootLayout(ram: [bank], image: image, initrdSize: initrd) else { return 0 }
    precondition(layout.kernel.start.raw >= bank.start.raw && layout.kernel.end <= bank.end)
    try! memory.write(image.bytes, at: layout.kernelLoad)
    return 0
}

/// The executable's entry (see CFuzzMain.h): libFuzzer's driver.
@_cdecl("FuzzARM64Image_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fuzzDriver(argc, argv)
}
